/* qrterm.c — see qrterm.h. */
#include "bind/qrterm.h"
#include "core/util.h"

#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUIET 2 /* modules of light border: enough for phone scanners on a terminal */

static int dark_at(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

char *nx_qr_render_utf8(const char *text, char *err, size_t errlen)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q) {
		nx_err(err, errlen, "cannot encode QR code");
		return NULL;
	}
	int side = q->width + 2 * QUIET;
	size_t cap = (size_t)((side + 1) / 2) * ((size_t)side * 3 + 1) + 1;
	char *out = malloc(cap), *p = out;
	if (!out) {
		QRcode_free(q);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	static const char *glyph[4] = {"\xe2\x96\x88", "\xe2\x96\x80", "\xe2\x96\x84", " "};
	for (int y = -QUIET; y < q->width + QUIET; y += 2) {
		for (int x = -QUIET; x < q->width + QUIET; x++) {
			/* index: top dark = 2, bottom dark = 1; light shows as block */
			int g = dark_at(q, x, y) << 1 | dark_at(q, x, y + 1);
			size_t n = strlen(glyph[g]);
			memcpy(p, glyph[g], n);
			p += n;
		}
		*p++ = '\n';
	}
	*p = '\0';
	QRcode_free(q);
	return out;
}

char *nx_qr_render_svg(const char *text, char *err, size_t errlen)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q) {
		nx_err(err, errlen, "cannot encode QR code");
		return NULL;
	}
	int side = q->width + 8;
	/* at most one "M x,yh1v1h-1z" (≤ 24 bytes) per module, plus the frame */
	size_t cap = (size_t)q->width * (size_t)q->width * 24 + 512;
	char *out = malloc(cap);
	if (!out) {
		QRcode_free(q);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	size_t n = (size_t)snprintf(out, cap,
	                            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	                            "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
	                            "fill=\"#fff\"/><path fill=\"#000\" d=\"",
	                            side, side, side, side);
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++)
			if (dark_at(q, x, y))
				n += (size_t)snprintf(out + n, cap - n, "M%d,%dh1v1h-1z", x + 4, y + 4);
	snprintf(out + n, cap - n, "\"/></svg>");
	QRcode_free(q);
	return out;
}
