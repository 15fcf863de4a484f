// Front end of the packaged shim binary (scripts/package.mjs). The binary is this program with a
// payload appended: the pinned Node, the bundles and the native addon, listed in a trailer at the
// very end of the file. It answers the two calls containerd makes for every container that need no
// Node at all (a `start` whose group daemon already serves, the `delete` after a clean Delete),
// and otherwise unpacks the payload once into a cache directory named by its hash and runs Node.
// Whenever anything is not as the fast path expects, it takes the full path: the fast paths only
// ever answer what the Node code would have answered.
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

#define MAGIC "TSSHIMPK"
#define MAX_FILES 16
/* Go's uint32(-1): the pid the reference shim reports when init.pid is unreadable. */
#define UNKNOWN_PID 0xffffffffu

struct payload_file { char name[256]; unsigned mode; uint64_t offset, size; };
struct payload {
  char hash[65];
  char entry[256];
  char snapshot[256]; /* a V8 start-up snapshot of the entry: Node starts from it */
  int shim; /* the entry is the shim: the fast paths apply */
  char node_flags[1024];
  int nfiles;
  struct payload_file files[MAX_FILES];
};

static void die(const char *what) {
  fprintf(stderr, "containerd-shim-tsshim-v2: %s: %s\n", what, strerror(errno));
  exit(1);
}

static ssize_t read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { close(fd); return -1; }
    if (r == 0) break;
    n += (size_t)r;
    if (n == cap - 1) { close(fd); errno = EFBIG; return -1; }
  }
  close(fd);
  buf[n] = 0;
  return (ssize_t)n;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* ---- the payload ---- */

static int read_trailer(int self, struct payload *pl) {
  struct stat st;
  char tail[16];
  if (fstat(self, &st) || st.st_size < 16) return -1;
  if (pread(self, tail, 16, st.st_size - 16) != 16 || memcmp(tail, MAGIC, 8)) return -1;
  uint64_t len = 0;
  for (int i = 7; i >= 0; i--) len = len << 8 | (unsigned char)tail[8 + i];
  if (len == 0 || len > 65536 || (off_t)len > st.st_size - 16) return -1;
  char *text = malloc(len + 1);
  if (!text || pread(self, text, len, st.st_size - 16 - (off_t)len) != (ssize_t)len) return -1;
  text[len] = 0;
  memset(pl, 0, sizeof *pl);
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    struct payload_file *f = &pl->files[pl->nfiles];
    if (sscanf(line, "hash %64s", pl->hash) == 1) continue;
    if (sscanf(line, "entry %255s", pl->entry) == 1) continue;
    if (sscanf(line, "snapshot %255s", pl->snapshot) == 1) {
      if (strstr(pl->snapshot, "..") || pl->snapshot[0] == '/') return -1;
      continue;
    }
    if (strcmp(line, "shim") == 0) { pl->shim = 1; continue; }
    if (strncmp(line, "node-flags ", 11) == 0) { snprintf(pl->node_flags, sizeof pl->node_flags, "%s", line + 11); continue; }
    if (pl->nfiles < MAX_FILES && sscanf(line, "file %255s %o %" SCNu64 " %" SCNu64, f->name, &f->mode, &f->offset, &f->size) == 4) {
      if (strstr(f->name, "..") || f->name[0] == '/') return -1;
      pl->nfiles++;
      continue;
    }
    return -1;
  }
  free(text);
  return strlen(pl->hash) == 64 && pl->entry[0] ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st; (void)type; (void)ftw;
  return remove(path);
}

static void cache_root(char *out, size_t cap) {
  const char *dir = getenv("TSSHIM_CACHE_DIR");
  if (dir && *dir) snprintf(out, cap, "%s", dir);
  else if (geteuid() == 0) snprintf(out, cap, "/var/cache/tsshim");
  else snprintf(out, cap, "%s/.cache/tsshim", getenv("HOME") ? getenv("HOME") : "/tmp");
}

static int mkdirs(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, mode) && errno != EEXIST ? -1 : 0;
}

static void copy_out(int self, const struct payload_file *f, const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, f->name);
  char *slash = strrchr(path, '/');
  *slash = 0;
  if (mkdirs(path, 0755)) die("cannot create the payload directory");
  *slash = '/';
  int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, f->mode & 0777);
  if (out < 0) die("cannot write the payload");
  off_t off = (off_t)f->offset;
  uint64_t left = f->size;
  while (left > 0) {
    ssize_t n = copy_file_range(self, &off, out, NULL, left > (1u << 30) ? (1u << 30) : left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // copy_file_range is refused between some file systems: plain reads then.
      char buf[1 << 16];
      n = pread(self, buf, left < sizeof buf ? left : sizeof buf, off);
      if (n <= 0 || write_all(out, buf, (size_t)n)) die("cannot write the payload");
      off += n;
    }
    left -= (uint64_t)n;
  }
  if (fsync(out) || close(out)) die("cannot write the payload");
}

/** <cache>/<hash>, unpacked on first use: into a private directory first, then renamed into
 * place, so a concurrent first start never runs a half-written Node. */
static void unpack(int self, const struct payload *pl, char *dir, size_t cap) {
  char root[PATH_MAX - 128];
  cache_root(root, sizeof root);
  snprintf(dir, cap, "%s/%s", root, pl->hash);
  struct stat st;
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return;
  if (mkdirs(root, 0700)) die("cannot create the cache directory");
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.%s.%d", root, pl->hash, (int)getpid());
  if (mkdir(tmp, 0755)) die("cannot create the payload directory");
  for (int i = 0; i < pl->nfiles; i++) copy_out(self, &pl->files[i], tmp);
  if (rename(tmp, dir)) {
    if (errno != EEXIST && errno != ENOTEMPTY) die("cannot move the payload into place");
    // Another start unpacked the same payload first: use that one.
    nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return;
  }
  // A new payload (an upgrade): the older ones go, so that upgrades do not pile up 120 MB each.
  // Running daemons keep the files they have open; a start of another installed version that
  // finds its copy gone unpacks it again (exec_node).
  DIR *d = opendir(root);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (strlen(e->d_name) != 64 || strspn(e->d_name, "0123456789abcdef") != 64 || !strcmp(e->d_name, pl->hash)) continue;
    char old[PATH_MAX];
    snprintf(old, sizeof old, "%s/%s", root, e->d_name);
    nftw(old, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
  }
  if (d) closedir(d);
}

/* ---- flags, with Go flag package semantics as in src/shim/flags.ts ---- */

struct flags { const char *namespace, *id, *address, *bundle, *action; int rest; };

/** 0, or -1 for anything the Node code would report as an error (it then does). */
static int parse_flags(int argc, char **argv, struct flags *fl) {
  static const char *strings[] = {"namespace", "id", "address", "publish-binary", "bundle", "socket", "debug-socket"};
  static const char *bools[] = {"debug", "v", "info"};
  memset(fl, 0, sizeof *fl);
  fl->namespace = fl->id = fl->address = fl->bundle = fl->action = "";
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strlen(arg) < 2 || arg[0] != '-') break;
    if (strcmp(arg, "--") == 0) { i++; break; }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    if (!*name || *name == '-' || *name == '=') return -1;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    int known = 0;
    for (size_t b = 0; b < sizeof bools / sizeof *bools; b++) {
      if (strlen(bools[b]) != nlen || strncmp(bools[b], name, nlen)) continue;
      // -v and -info are answered by Node; -debug changes nothing the fast paths do.
      if (b != 0) return -1;
      if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false") && strcmp(eq + 1, "1") && strcmp(eq + 1, "0")) return -1;
      known = 1;
    }
    for (size_t s = 0; s < sizeof strings / sizeof *strings; s++) {
      if (strlen(strings[s]) != nlen || strncmp(strings[s], name, nlen)) continue;
      const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!value) return -1;
      if (s == 0) fl->namespace = value;
      else if (s == 1) fl->id = value;
      else if (s == 2) fl->address = value;
      else if (s == 4) fl->bundle = value;
      known = 1;
    }
    if (!known) return -1;
  }
  fl->action = i < argc ? argv[i] : "";
  fl->rest = argc - i - (i < argc);
  return 0;
}

/* ---- liveness of a unix socket ---- */

enum probe { ACCEPTING, REFUSED, NO_ANSWER };

/** A non-blocking connect: a unix socket answers at once, accepted, refused, or (backlog full,
 * EAGAIN) neither, from which nothing is concluded. */
static enum probe probe_socket(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return NO_ANSWER;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return NO_ANSWER;
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  int err = errno;
  close(fd);
  if (rc == 0) return ACCEPTING;
  return err == ECONNREFUSED || err == ENOENT ? REFUSED : NO_ANSWER;
}

/* ---- grouping, from the tsshim config that `start` would load ---- */

enum grouping { GROUPING_UNKNOWN, GROUPING_TASK, GROUPING_POD, GROUPING_NODE };

/** The options Any containerd writes on `start`'s stdin: read once, handed on to Node. */
static char options[1 << 16];
static size_t options_len;

static void read_options(void) {
  struct stat st;
  if (fstat(0, &st) || !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode))) return;
  // containerd writes the options and closes the pipe at once. A stdin that stays open (a start
  // run by hand) is given up on after a second, as if no options had come.
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    if (!S_ISREG(st.st_mode)) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      int left = 1000 - (int)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
      struct pollfd pfd = {.fd = 0, .events = POLLIN};
      int ready = left > 0 ? poll(&pfd, 1, left) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        options_len = 0;
        return;
      }
    }
    ssize_t r = read(0, options + options_len, sizeof options - options_len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    options_len += (size_t)r;
    if (options_len == sizeof options) break;
  }
}

static int pb_varint(const unsigned char *p, size_t len, size_t *i, uint64_t *v) {
  *v = 0;
  for (int shift = 0; *i < len && shift < 64; shift += 7) {
    unsigned char b = p[(*i)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

/** The last length-delimited field `want` of a protobuf message: 0 found, 1 absent, -1 malformed. */
static int pb_field(const unsigned char *p, size_t len, unsigned want, const unsigned char **out, size_t *outlen) {
  size_t i = 0;
  *out = NULL;
  *outlen = 0;
  while (i < len) {
    uint64_t key, v;
    if (pb_varint(p, len, &i, &key)) return -1;
    switch (key & 7) {
      case 0: if (pb_varint(p, len, &i, &v)) return -1; continue;
      case 1: if (len - i < 8) return -1; i += 8; continue;
      case 5: if (len - i < 4) return -1; i += 4; continue;
      case 2: break;
      default: return -1;
    }
    if (pb_varint(p, len, &i, &v) || v > len - i) return -1;
    if ((key >> 3) == want) { *out = p + i; *outlen = (size_t)v; }
    i += (size_t)v;
  }
  return *out ? 0 : 1;
}

/** `grouping = "…"` among the top-level keys (before the first table header). Anything this
 * line-based reading cannot be sure of (multi-line strings, other spellings) is unknown. */
static enum grouping scan_grouping(const char *text) {
  enum grouping found = GROUPING_POD;
  for (const char *line = text; line && *line;) {
    const char *next = strchr(line, '\n');
    size_t len = next ? (size_t)(next - line) : strlen(line);
    char buf[512];
    if (len >= sizeof buf) return GROUPING_UNKNOWN;
    memcpy(buf, line, len);
    buf[len] = 0;
    line = next ? next + 1 : NULL;
    char *p = buf;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '[') break;
    if (strstr(p, "\"\"\"") || strstr(p, "'''")) return GROUPING_UNKNOWN;
    if (strstr(p, "grouping") == NULL) continue;
    if (strncmp(p, "grouping", 8)) return GROUPING_UNKNOWN;
    char value[16], rest[2];
    int n = sscanf(p, "grouping = \"%15[a-z]\" %1s", value, rest);
    if (n < 1) n = sscanf(p, "grouping = '%15[a-z]' %1s", value, rest);
    if (n < 1 || (n == 2 && rest[0] != '#')) return GROUPING_UNKNOWN;
    if (!strcmp(value, "task")) found = GROUPING_TASK;
    else if (!strcmp(value, "pod")) found = GROUPING_POD;
    else if (!strcmp(value, "node")) found = GROUPING_NODE;
    else return GROUPING_UNKNOWN;
  }
  return found;
}

/** The config `start` would load: its text, absent (no file at the default path), or unsure. */
enum config_state { CONFIG_TEXT, CONFIG_ABSENT, CONFIG_UNSURE };
static char config_text[1 << 20];

/** Where `start` finds its config, as src/runtime/config-path.ts: config_path (or config_body)
 * of runtimeoptions.v1.Options, then $TSSHIM_CONFIG, then the default file, which may be absent.
 * Read once. */
static enum config_state read_config(void) {
  static int done;
  static enum config_state state;
  if (done) return state;
  done = 1;
  state = CONFIG_UNSURE;
  char *text = config_text;
  char config[PATH_MAX];
  config[0] = 0;
  if (options_len > 0) {
    const unsigned char *type, *value, *path, *body;
    size_t type_len, value_len, path_len, body_len;
    const unsigned char *o = (const unsigned char *)options;
    if (pb_field(o, options_len, 1, &type, &type_len) < 0 || pb_field(o, options_len, 2, &value, &value_len) < 0) return state;
    static const char wanted[] = "runtimeoptions.v1.Options";
    size_t wl = sizeof wanted - 1;
    if (type && type_len >= wl && !memcmp(type + type_len - wl, wanted, wl) && value) {
      if (pb_field(value, value_len, 2, &path, &path_len) < 0 || pb_field(value, value_len, 3, &body, &body_len) < 0) return state;
      if (path_len >= sizeof config || body_len >= sizeof config_text) return state;
      if (path_len) {
        memcpy(config, path, path_len);
        config[path_len] = 0;
        if (strlen(config) != path_len) return state;
      } else if (body_len) {
        memcpy(text, body, body_len);
        text[body_len] = 0;
        if (!memchr(text, 0, body_len)) state = CONFIG_TEXT;
        return state;
      }
    }
  }
  int explicit = 1;
  const char *env = getenv("TSSHIM_CONFIG");
  if (!config[0] && env && *env) snprintf(config, sizeof config, "%s", env);
  if (!config[0]) {
    snprintf(config, sizeof config, "/etc/tsshim/config.toml");
    explicit = 0;
  }
  ssize_t n = read_file(config, text, sizeof config_text);
  if (n < 0) {
    if (!explicit && errno == ENOENT) state = CONFIG_ABSENT;
  } else if (!memchr(text, 0, (size_t)n)) {
    state = CONFIG_TEXT;
  }
  return state;
}

static enum grouping read_grouping(void) {
  switch (read_config()) {
    case CONFIG_TEXT: return scan_grouping(config_text);
    case CONFIG_ABSENT: return GROUPING_POD;
    default: return GROUPING_UNKNOWN;
  }
}

/** `startup_snapshot = true` among the top-level keys: the daemon starts from the start-up
 * snapshot. Anything else, or a config this reading is unsure of, starts it from the bundle,
 * which is always right (only slower to start); Node validates the key itself. */
static int read_startup_snapshot(void) {
  if (read_config() != CONFIG_TEXT) return 0;
  int on = 0;
  for (const char *line = config_text; line && *line;) {
    const char *next = strchr(line, '\n');
    size_t len = next ? (size_t)(next - line) : strlen(line);
    char buf[512];
    if (len >= sizeof buf) return 0;
    memcpy(buf, line, len);
    buf[len] = 0;
    line = next ? next + 1 : NULL;
    char *p = buf;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '[') break;
    if (strstr(p, "\"\"\"") || strstr(p, "\'\'\'")) return 0;
    if (strncmp(p, "startup_snapshot", 16)) continue;
    char value[8], rest[2];
    int n = sscanf(p, "startup_snapshot = %7[a-z] %1s", value, rest);
    if (n < 1 || (n == 2 && rest[0] != '#')) return 0;
    on = strcmp(value, "true") == 0;
  }
  return on;
}

/* ---- fast path: `start` when the group's daemon already serves ---- */

static const char *const GROUP_ANNOTATIONS[] = {
    "annotations.io.containerd.tsshim.v2.group", "annotations.io.containerd.runc.v2.group", "annotations.io.kubernetes.cri.sandbox-id"};

static int write_address_file(const char *address) {
  int fd = open("address.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (write_all(fd, address, strlen(address)) || close(fd)) return -1;
  return rename("address.tmp", "address");
}

/** Returns only when the full path must decide. */
static void fast_start(const struct flags *fl) {
  static char spec[1 << 20];
  struct json_field fields[3];
  for (int i = 0; i < 3; i++) fields[i].key = GROUP_ANNOTATIONS[i];
  const char *group = fl->id;
  enum grouping grouping = read_grouping();
  if (grouping == GROUPING_UNKNOWN) return;
  if (grouping == GROUPING_NODE) {
    // No task id can contain ':' (containerd's identifier rules), so this group is no task's.
    group = ":node";
  } else if (grouping == GROUPING_POD) {
    ssize_t n = read_file("config.json", spec, sizeof spec);
    if (n < 0 || json_scan(spec, (size_t)n, fields, 3)) return;
    for (int i = 0; i < 3; i++) {
      if (fields[i].found == 1 && fields[i].value[0]) { group = fields[i].value; break; }
      if (fields[i].found == 2) return;
    }
  }
  const char *dir = getenv("TSSHIM_SOCKET_DIR");
  if (!dir || !*dir) dir = "/run/tsshim";
  char key[8192], digest[65], path[PATH_MAX], address[PATH_MAX + 8];
  const char *parts[] = {fl->address, fl->namespace, group};
  if (path_join(key, sizeof key, parts, 3)) return;
  sha256_hex(key, strlen(key), digest);
  const char *dparts[] = {dir, digest};
  if (path_join(path, sizeof path, dparts, 2)) return;
  // The full path needs the same name: spared the cost of loading node:crypto for it.
  setenv("TSSHIM_GROUP_SOCKET", path, 1);
  if (grouping == GROUPING_NODE) {
    // A node daemon outlives the task whose bundle it started in, and with it that bundle's
    // log FIFO: it logs to a file beside its socket instead.
    static char log[PATH_MAX + 8];
    snprintf(log, sizeof log, "%s.log", path);
    setenv("TSSHIM_DAEMON_LOG", log, 1);
  }
  if (probe_socket(path) != ACCEPTING) return;
  snprintf(address, sizeof address, "unix://%s", path);
  if (write_address_file(address)) return;
  if (write_all(1, address, strlen(address))) exit(1);
  exit(0);
}

/* ---- fast path: `delete` after a clean Delete ---- */

static int mounted_under(const char *dir) {
  static char info[1 << 22];
  ssize_t n = read_file("/proc/self/mountinfo", info, sizeof info);
  if (n < 0) return 1;
  size_t dlen = strlen(dir);
  for (char *line = info; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = 0;
    // The fifth field is the mount point, with space, tab, newline and backslash octal-escaped.
    char *p = line;
    for (int field = 0; field < 4 && p; field++) { p = strchr(p, ' '); if (p) p++; }
    if (p) {
      char point[PATH_MAX];
      size_t m = 0;
      for (; *p && *p != ' ' && m + 1 < sizeof point; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
          point[m++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
          p += 3;
        } else {
          point[m++] = *p;
        }
      }
      point[m] = 0;
      if (strncmp(point, dir, dlen) == 0 && (point[dlen] == 0 || point[dlen] == '/')) return 1;
    }
    line = next;
  }
  return 0;
}

static size_t varint(unsigned char *out, uint64_t v) {
  size_t n = 0;
  do {
    out[n] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v) out[n] |= 0x80;
    n++;
  } while (v);
  return n;
}

/** "2026-12-02T05:28:30.123Z", as Date.toISOString writes it. */
static int parse_iso(const char *s, int64_t *seconds, int32_t *nanos) {
  struct tm tm = {0};
  int ms, used = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &used) != 7) return -1;
  if (used != 24 || s[used]) return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *seconds = (int64_t)timegm(&tm);
  *nanos = ms * 1000000;
  return 0;
}

static void fast_delete(const struct flags *fl) {
  char bundle[PATH_MAX];
  if (fl->bundle[0]) snprintf(bundle, sizeof bundle, "%s", fl->bundle);
  else if (!getcwd(bundle, sizeof bundle)) return;
#define IN_BUNDLE(name) (snprintf(path, sizeof path, "%s/%s", bundle, name), path)
  char path[PATH_MAX + 32];
  // The daemon removes the runtime record once it has deleted the container itself: while it is
  // there, a runtime delete may be due.
  if (access(IN_BUNDLE("tsshim-runtime.json"), F_OK) == 0 || errno != ENOENT) return;
  char text[4096];
  struct json_field exit_fields[2] = {{.key = "status"}, {.key = "exitedAt"}};
  ssize_t n = read_file(IN_BUNDLE("init.exit.json"), text, sizeof text);
  if (n < 0 || json_scan(text, (size_t)n, exit_fields, 2) || exit_fields[0].found != 2 || exit_fields[1].found != 1) return;
  char *end;
  long status = strtol(exit_fields[0].value, &end, 10);
  if (*end || status < 0 || status > 0xffffffffL) return;
  int64_t seconds;
  int32_t nanos;
  if (parse_iso(exit_fields[1].value, &seconds, &nanos)) return;
  char rootfs[PATH_MAX];
  if (realpath(IN_BUNDLE("rootfs"), rootfs)) {
    if (mounted_under(rootfs)) return;
  } else if (errno != ENOENT) {
    return;
  }
  // A daemon killed after the Delete leaves its socket file: removed when nothing listens on it.
  char address[PATH_MAX + 8];
  if (read_file(IN_BUNDLE("address"), address, sizeof address) > 0) {
    const char *sock = strncmp(address, "unix://", 7) == 0 ? address + 7 : address;
    struct stat st;
    if (sock[0] == '/' && lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && probe_socket(sock) == REFUSED) unlink(sock);
  }
  uint64_t pid = UNKNOWN_PID;
  char pidtext[32];
  if (read_file(IN_BUNDLE("init.pid"), pidtext, sizeof pidtext) > 0) {
    char *e;
    long v = strtol(pidtext, &e, 10);
    while (*e == '\n' || *e == ' ' || *e == '\t' || *e == '\r') e++;
    if (e != pidtext && !*e && v > 0 && v <= 0x7fffffffL) pid = (uint64_t)v;
  }
  // DeleteResponse {pid = 1, exit_status = 2, exited_at = 3 {seconds = 1, nanos = 2}}, every
  // field written as protobufjs writes it.
  unsigned char ts[32], out[64];
  size_t t = 0, o = 0;
  ts[t++] = 0x08;
  t += varint(ts + t, (uint64_t)seconds);
  ts[t++] = 0x10;
  t += varint(ts + t, (uint64_t)(int64_t)nanos);
  out[o++] = 0x08;
  o += varint(out + o, pid);
  out[o++] = 0x10;
  o += varint(out + o, (uint64_t)status);
  out[o++] = 0x1a;
  out[o++] = (unsigned char)t;
  memcpy(out + o, ts, t);
  o += t;
  if (write_all(1, out, o)) exit(1);
  exit(0);
}

/* ---- the full path: Node ---- */

static char **node_argv(const char *dir, const struct payload *pl, int snapshot, int argc, char **argv) {
  char **args = calloc((size_t)argc + 34, sizeof *args);
  int n = 0;
  char *node = malloc(PATH_MAX), *entry = malloc(PATH_MAX);
  snprintf(node, PATH_MAX, "%s/node", dir);
  snprintf(entry, PATH_MAX, "%s/%s", dir, pl->entry);
  args[n++] = node;
  char *flags = strdup(pl->node_flags);
  for (char *f = strtok(flags, " "); f && n < 28; f = strtok(NULL, " ")) args[n++] = f;
  if (snapshot && pl->snapshot[0]) {
    /* The entry's path still comes first after `--`, so process.argv reads as for
     * `node <entry> …` and ps shows which bundle the process runs. */
    char *blob = malloc(PATH_MAX);
    snprintf(blob, PATH_MAX, "%s/%s", dir, pl->snapshot);
    args[n++] = "--snapshot-blob";
    args[n++] = blob;
    args[n++] = "--";
  }
  args[n++] = entry;
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  return args;
}

/** Runs Node; if its unpacked copy has just been removed (another version's upgrade), unpacks
 * it again once. */
static void exec_node(int self, const struct payload *pl, char **args) {
  execv(args[0], args);
  if (errno == ENOENT) {
    char dir[PATH_MAX];
    unpack(self, pl, dir, sizeof dir);
    execv(args[0], args);
  }
}

/** `start`: the Node process becomes the daemon itself, in its own session so that it outlives
 * this one, and reports its address, or why it cannot serve, on fd 4. containerd collects this
 * process's output until every holder of the pipe has closed it, so the daemon's stdout and
 * stderr go to the bundle's log FIFO (whose contents containerd copies into its own log). */
static void start_daemon(int self, const struct payload *pl, char **args) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC)) die("pipe");
  char containerd_pid[24];
  snprintf(containerd_pid, sizeof containerd_pid, "%d", (int)getppid());
  struct stat st;
  const char *log = stat("log", &st) == 0 && S_ISFIFO(st.st_mode) ? "log" : "/dev/null";
  const char *daemon_log = getenv("TSSHIM_DAEMON_LOG");
  // The options go on to Node on a pipe of their own: it reads them when it has to decide the
  // group itself (the front end could not).
  int opts[2];
  if (pipe2(opts, O_CLOEXEC)) die("pipe");
  fcntl(opts[1], F_SETPIPE_SZ, (int)sizeof options);
  if (options_len && write_all(opts[1], options, options_len)) die("cannot hand on the options");
  close(opts[1]);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    setsid();
    int in = opts[0];
    int out;
    if (daemon_log) {
      // The socket directory, made here as Node would make it (0700), since the log goes first.
      char dir[PATH_MAX];
      snprintf(dir, sizeof dir, "%s", daemon_log);
      *strrchr(dir, '/') = 0;
      mkdirs(dir, 0700);
      out = open(daemon_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    } else {
      out = open(log, O_RDWR | O_CLOEXEC);
    }
    if (in < 0 || out < 0) _exit(127);
    // dup2 onto itself would keep close-on-exec.
    if (ready[1] == 4 ? fcntl(4, F_SETFD, 0) < 0 : dup2(ready[1], 4) < 0) _exit(127);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
    setenv("TSSHIM_READY_FD", "4", 1);
    setenv("TSSHIM_CONTAINERD_PID", containerd_pid, 1);
    exec_node(self, pl, args);
    _exit(127);
  }
  close(ready[1]);
  close(opts[0]);
  char out[8192];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(ready[0], out + n, sizeof out - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || n + (size_t)r >= sizeof out - 1) { if (r > 0) n += (size_t)r; break; }
    n += (size_t)r;
  }
  out[n] = 0;
  if (strncmp(out, "unix://", 7) == 0) {
    exit(write_all(1, out, n) ? 1 : 0);
  }
  fprintf(stderr, "%s\n", n ? out : "shim daemon exited before it was ready");
  exit(1);
}

/** containerd's identifier rule (what Node's check refuses, precisely worded, the fast paths leave
 * to it): alphanumeric runs joined by single '.', '_' or '-', at most 76 characters. */
static int valid_identifier(const char *s) {
  if (!s) return 0;
  size_t n = strlen(s);
  if (n == 0 || n > 76) return 0;
  int prev_sep = 1;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) { prev_sep = 0; continue; }
    if ((c == '.' || c == '_' || c == '-') && !prev_sep) { prev_sep = 1; continue; }
    return 0;
  }
  return !prev_sep;
}

int main(int argc, char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) die("cannot open /proc/self/exe");
  struct payload pl;
  if (read_trailer(self, &pl)) {
    fprintf(stderr, "containerd-shim-tsshim-v2: this file carries no payload (build it with npm run package)\n");
    return 1;
  }
  struct flags fl;
  int plain = parse_flags(argc, argv, &fl) == 0 && fl.rest == 0;
  // TSSHIM_FRONT_FULL=1 always takes the full path: to compare the fast paths' answers with Node's.
  int fast = pl.shim && plain && !getenv("TSSHIM_FRONT_FULL") && valid_identifier(fl.id) && valid_identifier(fl.namespace);
  if (pl.shim && strcmp(fl.action, "start") == 0) read_options();
  if (fast && strcmp(fl.action, "start") == 0) fast_start(&fl);
  if (fast && strcmp(fl.action, "delete") == 0) fast_delete(&fl);

  char dir[PATH_MAX];
  unpack(self, &pl, dir, sizeof dir);
  // Node's compile cache turns the bundle's compile work into a cache read on every later start.
  char cache[PATH_MAX];
  const char *compile = getenv("TSSHIM_COMPILE_CACHE");
  if (!compile || !*compile) {
    char root[PATH_MAX - 32];
    cache_root(root, sizeof root);
    snprintf(cache, sizeof cache, "%s/compile-cache", root);
    compile = cache;
  }
  setenv("NODE_COMPILE_CACHE", compile, 1);
  // `delete` starts Node from the start-up snapshot, which saves most of the bundle's start-up
  // work; a daemon does when the config asks for it: a process started from a snapshot holds
  // its own copy of it (~7 MiB more private memory; docs/performance.md). Anything else (-v,
  // check, info) evaluates little of the bundle and starts faster without. TSSHIM_NO_SNAPSHOT=1:
  // never.
  const char *no_snapshot = getenv("TSSHIM_NO_SNAPSHOT");
  int snapshot = pl.shim && !(no_snapshot && *no_snapshot && strcmp(no_snapshot, "0") != 0);
  if (snapshot && strcmp(fl.action, "start") == 0) snapshot = read_startup_snapshot();
  else if (snapshot && strcmp(fl.action, "delete") != 0) snapshot = 0;
  char **args = node_argv(dir, &pl, snapshot, argc, argv);
  if (pl.shim && strcmp(fl.action, "start") == 0) start_daemon(self, &pl, args);
  exec_node(self, &pl, args);
  die("cannot run Node");
}
