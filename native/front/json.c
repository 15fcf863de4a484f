// Just enough JSON to read a bundle's annotations and the recorded init exit without Node: a
// strict reader that refuses anything it does not understand, so that the caller falls back to
// the full path rather than guess.
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "front.h"

struct reader { const char *p, *end; int depth; };

static void ws(struct reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static int put(char *out, size_t cap, size_t *n, unsigned cp) {
  unsigned char b[4];
  int len;
  if (cp < 0x80) { b[0] = (unsigned char)cp; len = 1; }
  else if (cp < 0x800) { b[0] = (unsigned char)(0xc0 | cp >> 6); b[1] = (unsigned char)(0x80 | (cp & 63)); len = 2; }
  else if (cp < 0x10000) { b[0] = (unsigned char)(0xe0 | cp >> 12); b[1] = (unsigned char)(0x80 | (cp >> 6 & 63)); b[2] = (unsigned char)(0x80 | (cp & 63)); len = 3; }
  else { b[0] = (unsigned char)(0xf0 | cp >> 18); b[1] = (unsigned char)(0x80 | (cp >> 12 & 63)); b[2] = (unsigned char)(0x80 | (cp >> 6 & 63)); b[3] = (unsigned char)(0x80 | (cp & 63)); len = 4; }
  if (out) {
    if (*n + (size_t)len >= cap) return -1;
    memcpy(out + *n, b, (size_t)len);
  }
  *n += (size_t)len;
  return 0;
}

/** A string at r->p; decoded into out (NULL: skipped). Lone surrogates and control bytes are refused. */
static int string(struct reader *r, char *out, size_t cap) {
  size_t n = 0;
  if (r->p >= r->end || *r->p != '"') return -1;
  r->p++;
  while (r->p < r->end) {
    unsigned char c = (unsigned char)*r->p++;
    if (c == '"') {
      if (out) out[n] = 0;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c != '\\') {
      if (out) {
        if (n + 1 >= cap) return -1;
        out[n] = (char)c;
      }
      n++;
      continue;
    }
    if (r->p >= r->end) return -1;
    char e = *r->p++;
    unsigned cp;
    switch (e) {
      case '"': cp = '"'; break;
      case '\\': cp = '\\'; break;
      case '/': cp = '/'; break;
      case 'b': cp = '\b'; break;
      case 'f': cp = '\f'; break;
      case 'n': cp = '\n'; break;
      case 'r': cp = '\r'; break;
      case 't': cp = '\t'; break;
      case 'u':
        if (r->end - r->p < 4 || hex4(r->p, &cp)) return -1;
        r->p += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          unsigned lo;
          if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) return -1;
          r->p += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        break;
      default: return -1;
    }
    if (put(out, cap, &n, cp)) return -1;
  }
  return -1;
}

static int number(struct reader *r, char *out, size_t cap) {
  const char *start = r->p;
  if (r->p < r->end && *r->p == '-') r->p++;
  if (r->p >= r->end || *r->p < '0' || *r->p > '9') return -1;
  while (r->p < r->end && ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' || *r->p == 'E' || *r->p == '+' || *r->p == '-')) r->p++;
  size_t n = (size_t)(r->p - start);
  if (out) {
    if (n + 1 > cap) return -1;
    memcpy(out, start, n);
    out[n] = 0;
  }
  return 0;
}

static int literal(struct reader *r, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n)) return -1;
  r->p += n;
  return 0;
}

static int value(struct reader *r, const char *path, struct json_field *fields, int nfields);

static struct json_field *wanted(const char *path, struct json_field *fields, int nfields) {
  for (int i = 0; i < nfields; i++) if (strcmp(fields[i].key, path) == 0) return &fields[i];
  return NULL;
}

/** path: the dotted key of this object ("" for the document), so members can be matched. */
static int object(struct reader *r, const char *path, struct json_field *fields, int nfields) {
  if (++r->depth > 64) return -1;
  r->p++;
  ws(r);
  if (r->p < r->end && *r->p == '}') { r->p++; r->depth--; return 0; }
  for (;;) {
    char key[256];
    char member[300];
    ws(r);
    const char *keystart = r->p;
    if (string(r, key, sizeof key)) {
      // A key too long to be one we want: skip it.
      r->p = keystart;
      if (string(r, NULL, 0)) return -1;
      key[0] = 0;
    }
    ws(r);
    if (r->p >= r->end || *r->p != ':') return -1;
    r->p++;
    ws(r);
    // Only the document and its "annotations" object are looked into.
    const char *sub = NULL;
    if (path && path[0] == 0) sub = key;
    else if (path && strcmp(path, "annotations") == 0) { snprintf(member, sizeof member, "annotations.%s", key); sub = member; }
    if (value(r, key[0] ? sub : NULL, fields, nfields)) return -1;
    ws(r);
    if (r->p < r->end && *r->p == ',') { r->p++; continue; }
    if (r->p < r->end && *r->p == '}') { r->p++; r->depth--; return 0; }
    return -1;
  }
}

static int array(struct reader *r) {
  if (++r->depth > 64) return -1;
  r->p++;
  ws(r);
  if (r->p < r->end && *r->p == ']') { r->p++; r->depth--; return 0; }
  for (;;) {
    ws(r);
    if (value(r, NULL, NULL, 0)) return -1;
    ws(r);
    if (r->p < r->end && *r->p == ',') { r->p++; continue; }
    if (r->p < r->end && *r->p == ']') { r->p++; r->depth--; return 0; }
    return -1;
  }
}

static int value(struct reader *r, const char *path, struct json_field *fields, int nfields) {
  struct json_field *f = path ? wanted(path, fields, nfields) : NULL;
  if (path && strcmp(path, "annotations") == 0) {
    // A later "annotations" replaces an earlier one, as with JSON.parse.
    for (int i = 0; i < nfields; i++) if (strncmp(fields[i].key, "annotations.", 12) == 0) fields[i].found = 0;
  }
  if (r->p >= r->end) return -1;
  switch (*r->p) {
    case '{': return object(r, path && (path[0] == 0 || strcmp(path, "annotations") == 0) ? path : NULL, fields, nfields);
    case '[': if (f) return -1; return array(r);
    case '"':
      if (!f) return string(r, NULL, 0);
      if (string(r, f->value, sizeof f->value)) return -1;
      f->found = 1;
      return 0;
    case 't': if (f) return -1; return literal(r, "true");
    case 'f': if (f) return -1; return literal(r, "false");
    case 'n':
      if (f) f->found = 0;
      return literal(r, "null");
    default:
      if (!f) return number(r, NULL, 0);
      if (number(r, f->value, sizeof f->value)) return -1;
      f->found = 2;
      return 0;
  }
}

int json_scan(const char *text, size_t len, struct json_field *fields, int nfields) {
  struct reader r = {text, text + len, 0};
  for (int i = 0; i < nfields; i++) fields[i].found = 0;
  ws(&r);
  if (r.p >= r.end || *r.p != '{') return -1;
  if (value(&r, "", fields, nfields)) return -1;
  ws(&r);
  return r.p == r.end ? 0 : -1;
}

int path_join(char *out, size_t cap, const char *const *parts, int nparts) {
  char joined[8192];
  size_t n = 0;
  for (int i = 0; i < nparts; i++) {
    size_t len = strlen(parts[i]);
    if (len == 0) continue;
    if (n + len + 2 > sizeof joined) return -1;
    if (n > 0) joined[n++] = '/';
    memcpy(joined + n, parts[i], len);
    n += len;
  }
  joined[n] = 0;
  if (n == 0) {
    if (cap < 2) return -1;
    strcpy(out, ".");
    return 0;
  }
  int absolute = joined[0] == '/';
  int trailing = joined[n - 1] == '/';
  // Segments, with "." dropped and ".." taking one back (kept at the front of a relative path).
  const char *seg[1024];
  size_t seglen[1024];
  int count = 0;
  for (char *p = joined; *p;) {
    while (*p == '/') p++;
    if (!*p) break;
    char *s = p;
    while (*p && *p != '/') p++;
    size_t l = (size_t)(p - s);
    if (l == 1 && s[0] == '.') continue;
    if (l == 2 && s[0] == '.' && s[1] == '.') {
      if (count > 0 && !(seglen[count - 1] == 2 && seg[count - 1][0] == '.' && seg[count - 1][1] == '.')) { count--; continue; }
      if (absolute) continue;
    }
    if (count == 1024) return -1;
    seg[count] = s;
    seglen[count++] = l;
  }
  size_t m = 0;
  if (absolute) out[m++] = '/';
  for (int i = 0; i < count; i++) {
    if (m + seglen[i] + 2 > cap) return -1;
    if (i > 0) out[m++] = '/';
    memcpy(out + m, seg[i], seglen[i]);
    m += seglen[i];
  }
  if (m == 0) out[m++] = '.';
  if (trailing && count > 0) out[m++] = '/';
  out[m] = 0;
  return 0;
}
