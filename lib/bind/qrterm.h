/* qrterm.h — a QR code (libqrencode) drawn for a terminal with Unicode half blocks, two
 * module rows per text line, light modules as blocks (like `qrencode -t UTF8`) so it
 * scans on the usual dark terminal background. */
#ifndef NEXUS_QRTERM_H
#define NEXUS_QRTERM_H
#include <stddef.h>

/* malloc'd, NUL-terminated, lines ending in '\n'; the caller frees. */
char *nx_qr_render_utf8(const char *text, char *err, size_t errlen);

/* The same code as an SVG image (one <path>, dark modules on a white background, a
 * 4-module quiet zone), malloc'd and NUL-terminated. */
char *nx_qr_render_svg(const char *text, char *err, size_t errlen);

#endif
