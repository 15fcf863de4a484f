// The packaged binary's front end: the parts shared between its source files.
#ifndef TSSHIM_FRONT_H
#define TSSHIM_FRONT_H
#include <stddef.h>

void sha256_hex(const char *data, size_t len, char out[65]);

/** What json_scan found; every string is decoded (escapes resolved) and NUL-terminated. */
enum { JSON_MAX_KEYS = 4, JSON_VALUE_MAX = 4096 };
struct json_field {
  const char *key;   /* top-level key, or "annotations.<name>" for a member of the annotations object */
  int found;         /* 1 string, 2 number */
  char value[JSON_VALUE_MAX];
};
/** Scans one JSON document for the given fields (the last occurrence wins, as with JSON.parse).
 * Returns 0, or -1 when the text is not JSON or a wanted field has a type not understood here. */
int json_scan(const char *text, size_t len, struct json_field *fields, int nfields);

/** Node's path.posix.join of up to four parts. Returns 0, -1 when it does not fit. */
int path_join(char *out, size_t cap, const char *const *parts, int nparts);
#endif
