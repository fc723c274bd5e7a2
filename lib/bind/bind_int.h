/* bind_int.h — what the files of the bind store share (bind.c, bind_devices.c, apikeys.c,
 * session.c): number cells, statements with inline parameters, the audit trail. */
#ifndef NEXUS_BIND_INT_H
#define NEXUS_BIND_INT_H

#include "bind/bind.h"

#include <stdint.h>

/* v as decimal text, the form every statement takes its numbers in. */
void bind_i64(char buf[24], int64_t v);
/* The cell as a number (0 when NULL). */
int64_t bind_cell_i64(const struct nx_rows *r, int row, int col);
/* bind_q(st, rows, err, errlen, sql, n, p1, ..., pn): nx_store_exec with up to 8 params
 * inline. */
int bind_q(struct nx_store *st, struct nx_rows *rows, char *err, size_t errlen, const char *sql,
           int n, ...);
/* One line of the audit trail, by b's actor and origin, at (Unix ms). */
int bind_audit(struct nx_bind *b, int64_t at, const char *action, const char *device,
               const char *owner, const char *detail, char *err, size_t errlen);
/* A binding as the commands print it. */
json_t *bind_binding_json(const char *device, const char *owner, const char *scope,
                          const char *jti, int64_t bound_ms);

#endif
