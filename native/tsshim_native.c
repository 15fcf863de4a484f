// The few Linux calls a containerd shim needs that Node.js has no API for.
//
// Only ABI-stable N-API (plus libuv's uv_poll, which N-API hands out through
// napi_get_uv_event_loop), so one build serves every Node release with N-API 8 and libuv 1.
// Every failed syscall throws an Error shaped like Node's own system errors (code 'ENOENT',
// negative errno, syscall), so callers can branch on `code`. Every fd created here is
// close-on-exec: the shim spawns runc all the time and must not leak fds into containers.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <termios.h>

#define NAPI_CALL(env, call)                                            \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      napi_throw_error((env), NULL, "N-API call failed: " #call);       \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

// Errno names by number, spelled out with the symbolic constants so the table is right on
// every architecture. libuv's uv_err_name() only knows the errors libuv itself returns.
#define E(name) [name] = #name
static const char *const errno_names[] = {
    E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC), E(EBADF),
    E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST),
    E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
    E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE),
    E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM),
    E(ECHRNG), E(EL2NSYNC), E(EL3HLT), E(EL3RST), E(ELNRNG), E(EUNATCH), E(ENOCSI), E(EL2HLT),
    E(EBADE), E(EBADR), E(EXFULL), E(ENOANO), E(EBADRQC), E(EBADSLT), E(EBFONT), E(ENOSTR),
    E(ENODATA), E(ETIME), E(ENOSR), E(ENONET), E(ENOPKG), E(EREMOTE), E(ENOLINK), E(EADV),
    E(ESRMNT), E(ECOMM), E(EPROTO), E(EMULTIHOP), E(EDOTDOT), E(EBADMSG), E(EOVERFLOW), E(ENOTUNIQ),
    E(EBADFD), E(EREMCHG), E(ELIBACC), E(ELIBBAD), E(ELIBSCN), E(ELIBMAX), E(ELIBEXEC), E(EILSEQ),
    E(ERESTART), E(ESTRPIPE), E(EUSERS), E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE),
    E(ENOPROTOOPT), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT),
    E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH), E(ENETRESET),
    E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(EISCONN), E(ENOTCONN), E(ESHUTDOWN),
    E(ETOOMANYREFS), E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH), E(EALREADY),
    E(EINPROGRESS), E(ESTALE), E(EUCLEAN), E(ENOTNAM), E(ENAVAIL), E(EISNAM), E(EREMOTEIO),
    E(EDQUOT), E(ENOMEDIUM), E(EMEDIUMTYPE), E(ECANCELED), E(ENOKEY), E(EKEYEXPIRED),
    E(EKEYREVOKED), E(EKEYREJECTED), E(EOWNERDEAD), E(ENOTRECOVERABLE), E(ERFKILL), E(EHWPOISON),
};
#undef E

static const char *errno_name(int err) {
  if (err > 0 && (size_t)err < sizeof errno_names / sizeof errno_names[0] && errno_names[err])
    return errno_names[err];
  return "EUNKNOWN";
}

static napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *path) {
  char msg[512];
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", errno_name(err), strerror(err), syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", errno_name(err), strerror(err), syscall);
  napi_value js_msg, js_code, js_errno, js_syscall, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &js_code);
  napi_create_error(env, js_code, js_msg, &error);
  napi_create_int32(env, -err, &js_errno);
  napi_set_named_property(env, error, "errno", js_errno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall);
  napi_set_named_property(env, error, "syscall", js_syscall);
  if (path) {
    napi_value js_path;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &js_path);
    napi_set_named_property(env, error, "path", js_path);
  }
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, make_errno_error(env, err, syscall, path));
  return NULL;
}

static napi_value int_value(napi_env env, int64_t x) {
  napi_value v;
  napi_create_int64(env, x, &v);
  return v;
}

// Reads argument `i` as an integer; throws a TypeError and returns 0 on a non-number.
static int arg_int64(napi_env env, napi_value *argv, size_t argc, size_t i, int64_t *out) {
  napi_valuetype t = napi_undefined;
  if (i < argc) napi_typeof(env, argv[i], &t);
  if (t != napi_number) {
    char msg[64];
    snprintf(msg, sizeof msg, "argument %zu must be a number", i + 1);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  napi_get_value_int64(env, argv[i], out);
  return 1;
}

static int arg_fd(napi_env env, napi_value *argv, size_t argc, size_t i, int *out) {
  int64_t v;
  if (!arg_int64(env, argv, argc, i, &v)) return 0;
  if (v < 0 || v > 0x7fffffff) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "file descriptor out of range");
    return 0;
  }
  *out = (int)v;
  return 1;
}

// Returns a malloc'd copy of string argument `i`, or NULL after throwing.
static char *arg_string(napi_env env, napi_value *argv, size_t argc, size_t i) {
  napi_valuetype t = napi_undefined;
  if (i < argc) napi_typeof(env, argv[i], &t);
  if (t != napi_string) {
    char msg[64];
    snprintf(msg, sizeof msg, "argument %zu must be a string", i + 1);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[i], NULL, 0, &len);
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[i], s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "string must not contain NUL bytes");
    return NULL;
  }
  return s;
}

#define GET_ARGS(n)                                                      \
  size_t argc = (n);                                                     \
  napi_value argv[(n) > 0 ? (n) : 1];                                    \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

static napi_value SetChildSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return throw_errno(env, errno, "prctl", NULL);
  return NULL;
}

// Hands the free memory at the top of malloc's heaps (and whole free pages inside them) back
// to the kernel. glibc keeps what a burst of output freed for reuse, and Node never asks.
static napi_value TrimMalloc(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, malloc_trim(0) != 0, &result));
  return result;
}

static napi_value IsChildSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  int on = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) < 0) return throw_errno(env, errno, "prctl", NULL);
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, on != 0, &result));
  return result;
}

// waitpid(pid, WNOHANG) for one pid: null while it runs, {code, signal} once reaped.
static napi_value WaitpidNoHang(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int64_t pid;
  if (!arg_int64(env, argv, argc, 0, &pid)) return NULL;
  if (pid <= 0) {
    // waitpid(0) and waitpid(-1) would reap children that libuv is waiting for.
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "pid must be positive");
    return NULL;
  }
  int status = 0, r;
  do r = waitpid((pid_t)pid, &status, WNOHANG); while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "waitpid", NULL);
  napi_value result, nul;
  napi_get_null(env, &nul);
  if (r == 0) return nul;
  NAPI_CALL(env, napi_create_object(env, &result));
  napi_set_named_property(env, result, "code", WIFEXITED(status) ? int_value(env, WEXITSTATUS(status)) : nul);
  napi_set_named_property(env, result, "signal", WIFSIGNALED(status) ? int_value(env, WTERMSIG(status)) : nul);
  return result;
}

static napi_value Pipe2(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return throw_errno(env, errno, "pipe2", NULL);
  napi_value result;
  NAPI_CALL(env, napi_create_object(env, &result));
  napi_set_named_property(env, result, "readFd", int_value(env, fds[0]));
  napi_set_named_property(env, result, "writeFd", int_value(env, fds[1]));
  return result;
}

// Frees a NULL-terminated array of strings made by arg_string_array.
static void free_string_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

// Argument `i` as a NULL-terminated array of malloc'd strings, or NULL after throwing.
static char **arg_string_array(napi_env env, napi_value *argv, size_t argc, size_t i) {
  bool is_array = false;
  if (i < argc) napi_is_array(env, argv[i], &is_array);
  if (!is_array) {
    char msg[64];
    snprintf(msg, sizeof msg, "argument %zu must be an array of strings", i + 1);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[i], &n);
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (uint32_t k = 0; k < n; k++) {
    napi_value item;
    napi_get_element(env, argv[i], k, &item);
    if (!(out[k] = arg_string(env, &item, 1, 0))) {
      free_string_array(out);
      return NULL;
    }
  }
  return out;
}

// The vfork child of Spawn: fds 0-2, default dispositions for every signal (the raw syscall
// also reaches the two glibc keeps for itself, which posix_spawn leaves ignored), an empty
// mask, the cwd, then exec. It shares our memory and stack until the exec, so it only makes
// syscalls, in a frame of its own (never inlined into the caller's, whose locals the parent reads
// again); what failed goes back through *err.
__attribute__((noinline, noreturn)) static void spawn_child(const char *file, char **args, char **envp, const char *cwd, const int *fds, volatile int *err) {
  for (int k = 0; k < 3; k++) {
    if (fds[k] != k && dup2(fds[k], k) < 0) goto fail;
  }
  struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = {SIG_DFL, 0, NULL, 0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  }
  if (cwd && chdir(cwd) < 0) goto fail;
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
  execve(file, args, envp);
fail:
  *err = errno;
  _exit(127);
}

// Starts a program: spawn(file, argv, envp, cwd | null, [fd0, fd1, fd2]), where an fd of -1 is
// /dev/null; returns the pid. vfork, not the fork() of libuv's uv_spawn: no copy of this
// process's page tables, which costs a Node process of tens of MB milliseconds of a blocked
// event loop on every runtime call. The child starts as libuv's would: default signal
// dispositions, an empty mask, fds 0-2 plus whatever lacks close-on-exec (everything this
// process opens has it). An exec failure (ENOENT, EACCES) is thrown here, its child reaped.
// The others are the caller's to reap: the pid is not libuv's, so its exit is the Reaper's.
static napi_value Spawn(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  char *file = NULL, *cwd = NULL, **args = NULL, **envp = NULL;
  int fds[3] = {-1, -1, -1}, dups[3] = {-1, -1, -1}, devnull = -1;
  napi_value result = NULL;
  napi_valuetype cwd_type = napi_undefined;
  if (argc > 3) napi_typeof(env, argv[3], &cwd_type);
  if (!(file = arg_string(env, argv, argc, 0)) || !(args = arg_string_array(env, argv, argc, 1)) ||
      !(envp = arg_string_array(env, argv, argc, 2)) ||
      (cwd_type != napi_null && cwd_type != napi_undefined && !(cwd = arg_string(env, argv, argc, 3))))
    goto out;
  bool is_array = false;
  if (argc > 4) napi_is_array(env, argv[4], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argument 5 must be an array of three fds");
    goto out;
  }
  for (uint32_t k = 0; k < 3; k++) {
    napi_value item;
    int64_t v;
    napi_get_element(env, argv[4], k, &item);
    if (!arg_int64(env, &item, 1, 0, &v)) goto out;
    if (v < 0) {
      if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        throw_errno(env, errno, "open", "/dev/null");
        goto out;
      }
      fds[k] = devnull;
    } else {
      fds[k] = (int)v;
    }
  }
  // The child's dup2s run in order: a source that is itself one of 0-2 could be overwritten by
  // an earlier one, so such a source is first copied above 2 (close-on-exec, closed below).
  for (int k = 0; k < 3; k++) {
    if (fds[k] <= 2 && fds[k] != k) {
      if ((dups[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 3)) < 0) {
        throw_errno(env, errno, "fcntl", NULL);
        goto out;
      }
      fds[k] = dups[k];
    }
  }
  // Every signal blocked until the child has reset its dispositions: a handler of ours must
  // never run in it.
  uint64_t all = ~(uint64_t)0, saved = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, sizeof all);
  volatile int child_err = 0;
  pid_t pid = vfork();
  if (pid == 0) spawn_child(file, args, envp, cwd, fds, &child_err);
  int vfork_err = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, sizeof saved);
  if (pid < 0) {
    throw_errno(env, vfork_err, "vfork", NULL);
    goto out;
  }
  if (child_err != 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    // Node's wording for the same failure: "spawn /usr/bin/runc ENOENT".
    char syscall_name[4096 + 8], msg[4096 + 32];
    snprintf(syscall_name, sizeof syscall_name, "spawn %s", file);
    snprintf(msg, sizeof msg, "spawn %s %s", file, errno_name(child_err));
    napi_value error = make_errno_error(env, child_err, syscall_name, file), js_msg;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
    napi_set_named_property(env, error, "message", js_msg);
    napi_throw(env, error);
    goto out;
  }
  result = int_value(env, pid);
out:
  for (int k = 0; k < 3; k++)
    if (dups[k] >= 0) close(dups[k]);
  if (devnull >= 0) close(devnull);
  free(file);
  free(cwd);
  free_string_array(args);
  free_string_array(envp);
  return result;
}

// FIONREAD: bytes waiting to be read in a pipe, FIFO or pty (from either end of a pipe).
// It tells whether output the shim copies has been taken, without reading it.
static napi_value BytesQueued(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (!arg_fd(env, argv, argc, 0, &fd)) return NULL;
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) < 0) return throw_errno(env, errno, "ioctl", NULL);
  return int_value(env, n);
}

static napi_value GetPeerCred(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (!arg_fd(env, argv, argc, 0, &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return throw_errno(env, errno, "getsockopt", NULL);
  napi_value result;
  NAPI_CALL(env, napi_create_object(env, &result));
  napi_set_named_property(env, result, "pid", int_value(env, cred.pid));
  napi_set_named_property(env, result, "uid", int_value(env, cred.uid));
  napi_set_named_property(env, result, "gid", int_value(env, cred.gid));
  return result;
}

static napi_value SetWinsize(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd;
  int64_t rows, cols;
  if (!arg_fd(env, argv, argc, 0, &fd) || !arg_int64(env, argv, argc, 1, &rows) ||
      !arg_int64(env, argv, argc, 2, &cols))
    return NULL;
  if (rows < 0 || rows > 0xffff || cols < 0 || cols > 0xffff) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "rows and cols must be between 0 and 65535");
    return NULL;
  }
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, errno, "ioctl", NULL);
  return NULL;
}

static napi_value EventFd(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = eventfd(0, EFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "eventfd", NULL);
  return int_value(env, fd);
}

// mount(source, target, fstype, flags, data); empty fstype/data are passed as NULL, which is
// what bind mounts, remounts and propagation changes expect.
static napi_value Mount(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int64_t flags;
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  if (!(source = arg_string(env, argv, argc, 0)) || !(target = arg_string(env, argv, argc, 1)) ||
      !(fstype = arg_string(env, argv, argc, 2)) || !arg_int64(env, argv, argc, 3, &flags) ||
      !(data = arg_string(env, argv, argc, 4)))
    goto out;
  if (mount(source, target, fstype[0] ? fstype : NULL, (unsigned long)flags, data[0] ? data : NULL) < 0)
    throw_errno(env, errno, "mount", target);
out:
  free(source);
  free(target);
  free(fstype);
  free(data);
  return NULL;
}

static napi_value Umount2(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int64_t flags;
  char *target = arg_string(env, argv, argc, 0);
  if (!target) return NULL;
  if (arg_int64(env, argv, argc, 1, &flags) && umount2(target, (int)flags) < 0)
    throw_errno(env, errno, "umount2", target);
  free(target);
  return NULL;
}

// recvFd(socketFd, cb): waits on the loop (uv_poll, no thread) for one message on a connected
// unix socket and calls cb(err, fd, name) with the first fd it carried (SCM_RIGHTS).
// The caller must not let libuv read the socket (net pauseOnConnect): a plain read would
// make the kernel drop the ancillary data and close the passed fd.
typedef struct {
  uv_poll_t poll;
  int fd;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
} recv_fd_t;

static void recv_fd_closed(uv_handle_t *handle) { free(handle->data); }

static void recv_fd_finish(recv_fd_t *r, napi_value err, int fd, const char *name, size_t name_len) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, args[3], result;
  napi_get_reference_value(env, r->cb, &cb);
  napi_get_global(env, &recv);  // make_callback wants an object as `this`
  if (err) {
    args[0] = err;
  } else {
    napi_get_null(env, &args[0]);
  }
  args[1] = int_value(env, fd);
  napi_create_string_utf8(env, name, name_len, &args[2]);
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, recv_fd_closed);
  // make_callback, not call_function: it drains the microtask queue, so the JS promise
  // waiting on this settles now instead of at some later, unrelated callback.
  napi_make_callback(env, r->ctx, recv, cb, 3, args, &result);
  napi_delete_reference(env, r->cb);
  napi_async_destroy(env, r->ctx);
  napi_close_handle_scope(env, scope);
}

static void recv_fd_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  recv_fd_t *r = poll->data;
  napi_env env = r->env;
  if (status < 0) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    recv_fd_finish(r, make_errno_error(env, -status, "uv_poll", NULL), -1, "", 0);
    napi_close_handle_scope(env, scope);
    return;
  }
  char data[4096];
  char control[CMSG_SPACE(sizeof(int) * 8)];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = recvmsg(r->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  int err = n < 0 ? errno : 0;
  int got = -1;
  if (n >= 0) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int *fds = (int *)CMSG_DATA(c);
      for (size_t i = 0; i < count; i++) {
        if (got < 0) got = fds[i];
        else close(fds[i]);  // a console socket carries one fd; never leak surplus ones
      }
    }
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value error = NULL;
  if (err) error = make_errno_error(env, err, "recvmsg", NULL);
  else if (got < 0) error = make_errno_error(env, ENOMSG, "recvmsg", NULL);
  recv_fd_finish(r, error, got, data, n > 0 ? (size_t)n : 0);
  napi_close_handle_scope(env, scope);
}

static napi_value RecvFd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  if (!arg_fd(env, argv, argc, 0, &fd)) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argument 2 must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  recv_fd_t *r = calloc(1, sizeof *r);
  if (!r) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  r->fd = fd;
  r->env = env;
  r->poll.data = r;
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) {
    free(r);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  rc = uv_poll_start(&r->poll, UV_READABLE | UV_DISCONNECT, recv_fd_ready);
  if (rc < 0) {
    uv_close((uv_handle_t *)&r->poll, recv_fd_closed);
    return throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  napi_value resource_name;
  napi_create_string_utf8(env, "tsshim:recvFd", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &r->ctx);
  napi_create_reference(env, argv[1], 1, &r->cb);
  return NULL;
}

// watchEventfd(fd, cb): calls cb(err, count) on the loop (uv_poll, no thread) each time the
// eventfd is signalled, with the counter it read (which resets it). The watch owns the fd from
// this call on, even when the call throws, and closes it in closeEventfdWatch. It does not keep
// the loop alive: a cgroup notification is never a reason for the process to stay up.
typedef struct {
  uv_poll_t poll;
  int fd;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int in_callback;
  int stop_requested;
} efd_watch_t;

// What the JS side holds. It outlives the watch, so a late drain or close finds NULL instead
// of freed memory; it is freed when the External is collected.
typedef struct {
  efd_watch_t *w;
} efd_box_t;

// The counter (resetting it), 0 when nothing was signalled, -errno on failure.
static int64_t efd_read(int fd) {
  uint64_t count;
  ssize_t n;
  do n = read(fd, &count, sizeof count); while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN ? 0 : -errno;
  return (int64_t)count;
}

// No N-API calls here: at shutdown this runs after the environment is gone.
static void efd_watch_closed(uv_handle_t *handle) {
  efd_watch_t *w = handle->data;
  close(w->fd);
  free(w);
}

static void efd_watch_release(efd_watch_t *w) {
  napi_delete_reference(w->env, w->cb);
  napi_async_destroy(w->env, w->ctx);
  uv_close((uv_handle_t *)&w->poll, efd_watch_closed);
}

static void efd_watch_stop(efd_box_t *box) {
  efd_watch_t *w = box->w;
  if (!w) return;
  box->w = NULL;
  uv_poll_stop(&w->poll);
  // Stopped from inside its own callback: the callback's context is still in use.
  if (w->in_callback) w->stop_requested = 1;
  else efd_watch_release(w);
}

static void efd_watch_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  efd_watch_t *w = poll->data;
  int64_t count = status < 0 ? status : efd_read(w->fd);
  if (count == 0) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, args[2], result;
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &recv);
  if (count < 0) {
    args[0] = make_errno_error(env, (int)-count, status < 0 ? "uv_poll" : "read", NULL);
    args[1] = int_value(env, 0);
    // A failing fd would wake the loop forever; the error is reported once.
    uv_poll_stop(poll);
  } else {
    napi_get_null(env, &args[0]);
    // Counters this large never happen; a double keeps the value exact up to 2^53.
    napi_create_double(env, (double)count, &args[1]);
  }
  w->in_callback = 1;
  napi_make_callback(env, w->ctx, recv, cb, 2, args, &result);
  w->in_callback = 0;
  napi_close_handle_scope(env, scope);
  if (w->stop_requested) efd_watch_release(w);
}

static void efd_box_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  efd_watch_stop(data);
  free(data);
}

// Argument 1 as the data of an External made here, or NULL after throwing `message`.
static void *arg_external(napi_env env, napi_value *argv, size_t argc, const char *message) {
  napi_valuetype t = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &t);
  void *data = NULL;
  if (t != napi_external || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return NULL;
  }
  return data;
}

static efd_box_t *arg_efd_box(napi_env env, napi_value *argv, size_t argc) {
  return arg_external(env, argv, argc, "argument 1 must be an eventfd watch");
}

static napi_value WatchEventfd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  if (!arg_fd(env, argv, argc, 0, &fd)) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argument 2 must be a function");
    return NULL;
  }
  // Non-blocking, so that a wake-up someone else already drained, and drainEventfd, never block.
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return throw_errno(env, errno, "fcntl", NULL);
  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  efd_box_t *box = calloc(1, sizeof *box);
  efd_watch_t *w = calloc(1, sizeof *w);
  if (!box || !w) {
    free(box);
    free(w);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  w->fd = fd;
  w->env = env;
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(box);
    free(w);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  uv_unref((uv_handle_t *)&w->poll);
  napi_value resource_name, external;
  napi_create_string_utf8(env, "tsshim:watchEventfd", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &w->ctx);
  napi_create_reference(env, argv[1], 1, &w->cb);
  rc = uv_poll_start(&w->poll, UV_READABLE, efd_watch_ready);
  if (rc < 0) {
    free(box);
    efd_watch_release(w);
    return throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  box->w = w;
  if (napi_create_external(env, box, efd_box_finalize, NULL, &external) != napi_ok) {
    efd_watch_stop(box);
    free(box);
    napi_throw_error(env, NULL, "N-API call failed: napi_create_external");
    return NULL;
  }
  return external;
}

// The signals not yet delivered to the callback, read now (0 if none); the callback will not
// see them again. Lets a caller settle an ordering question without waiting for the loop.
static napi_value DrainEventfd(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  efd_box_t *box = arg_efd_box(env, argv, argc);
  if (!box) return NULL;
  if (!box->w) return int_value(env, 0);
  int64_t count = efd_read(box->w->fd);
  if (count < 0) return throw_errno(env, (int)-count, "read", NULL);
  napi_value result;
  NAPI_CALL(env, napi_create_double(env, (double)count, &result));
  return result;
}

static napi_value CloseEventfdWatch(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  efd_box_t *box = arg_efd_box(env, argv, argc);
  if (box) efd_watch_stop(box);
  return NULL;
}

// spliceCopy(srcFd, dstFd, cb): moves everything from a pipe to a pipe or FIFO with splice(2)
// on the loop (two uv_polls, no thread), the bytes never passing through this process; calls
// cb(err, bytes) once, at the source's end of file or on a failure. Back-pressure is the
// kernel's: a full destination stops the copy until it is writable, and the source pipe then
// fills and blocks its writer. The copy owns both fds from this call on, even when it throws,
// and closes them when it ends or is closed (closeSpliceCopy: no callback then).
typedef struct splice_box splice_box_t;

typedef struct {
  uv_poll_t src_poll, dst_poll;
  int src, dst;
  int open_handles;
  int waiting; // 0 none, 1 source readable, 2 destination writable
  double bytes;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  splice_box_t *box;
} splice_copy_t;

// What the JS side holds; it outlives the copy and keeps its final count.
struct splice_box {
  splice_copy_t *c;
  double bytes;
};

static void splice_handle_closed(uv_handle_t *handle) {
  splice_copy_t *c = handle->data;
  if (--c->open_handles > 0) return;
  close(c->src);
  close(c->dst);
  free(c);
}

// Detaches the copy from its box and frees it once libuv is done with its handles.
static void splice_release(splice_copy_t *c) {
  if (c->box) {
    c->box->bytes = c->bytes;
    c->box->c = NULL;
    c->box = NULL;
  }
  uv_close((uv_handle_t *)&c->src_poll, splice_handle_closed);
  uv_close((uv_handle_t *)&c->dst_poll, splice_handle_closed);
}

static void splice_ready(uv_poll_t *poll, int status, int events);

static void splice_wait(splice_copy_t *c, int which) {
  if (c->waiting == which) return;
  if (c->waiting == 1) uv_poll_stop(&c->src_poll);
  if (c->waiting == 2) uv_poll_stop(&c->dst_poll);
  c->waiting = which;
  if (which == 1) uv_poll_start(&c->src_poll, UV_READABLE | UV_DISCONNECT, splice_ready);
  if (which == 2) uv_poll_start(&c->dst_poll, UV_WRITABLE, splice_ready);
}

static void splice_end(splice_copy_t *c, int err) {
  napi_env env = c->env;
  napi_ref ref = c->cb;
  napi_async_context ctx = c->ctx;
  double bytes = c->bytes;
  splice_release(c);
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, args[2], result;
  napi_get_reference_value(env, ref, &cb);
  napi_get_global(env, &recv);
  if (err) args[0] = make_errno_error(env, err, "splice", NULL);
  else napi_get_null(env, &args[0]);
  napi_create_double(env, bytes, &args[1]);
  napi_make_callback(env, ctx, recv, cb, 2, args, &result);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, ref);
  napi_async_destroy(env, ctx);
}

// Moves what there is, at most 256 splices a wake-up so that the rest of the loop gets its
// turn (the source poll, level-triggered, fires again at once).
static void splice_pump(splice_copy_t *c) {
  for (int i = 0; i < 256; i++) {
    ssize_t n = splice(c->src, NULL, c->dst, NULL, 1 << 20, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
      c->bytes += (double)n;
      continue;
    }
    if (n == 0) return splice_end(c, 0);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return splice_end(c, errno);
    // Either side may be the one that would block: data waiting in the source means the
    // destination is full.
    int queued = 0;
    if (ioctl(c->src, FIONREAD, &queued) < 0) return splice_end(c, errno);
    splice_wait(c, queued > 0 ? 2 : 1);
    return;
  }
  splice_wait(c, 1);
}

static void splice_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  splice_copy_t *c = poll->data;
  if (status < 0) return splice_end(c, -status);
  splice_pump(c);
}

static void splice_box_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  splice_box_t *box = data;
  // Dropped while copying: at shutdown, or by a caller that lost it; the copy stops.
  if (box->c) {
    napi_delete_reference(box->c->env, box->c->cb);
    napi_async_destroy(box->c->env, box->c->ctx);
    splice_release(box->c);
  }
  free(box);
}

static splice_box_t *arg_splice_box(napi_env env, napi_value *argv, size_t argc) {
  return arg_external(env, argv, argc, "argument 1 must be a splice copy");
}

static napi_value SpliceCopy(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int src, dst;
  if (!arg_fd(env, argv, argc, 0, &src)) return NULL;
  if (!arg_fd(env, argv, argc, 1, &dst)) {
    close(src);
    return NULL;
  }
  napi_valuetype t = napi_undefined;
  if (argc > 2) napi_typeof(env, argv[2], &t);
  splice_copy_t *c = calloc(1, sizeof *c);
  splice_box_t *box = calloc(1, sizeof *box);
  int err = 0;
  const char *failed = NULL;
  uv_loop_t *loop = NULL;
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argument 3 must be a function");
  } else if (!c || !box) {
    napi_throw_error(env, "ENOMEM", "out of memory");
  } else {
    // Our ends only: each end of a pipe is its own open file, so the writer keeps blocking.
    for (int k = 0; k < 2 && !failed; k++) {
      int fd = k == 0 ? src : dst, flags = fcntl(fd, F_GETFL);
      if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) err = errno, failed = "fcntl";
    }
    if (!failed && napi_get_uv_event_loop(env, &loop) != napi_ok) err = EINVAL, failed = "napi_get_uv_event_loop";
    if (!failed && (err = -uv_poll_init(loop, &c->src_poll, src)) != 0) failed = "uv_poll_init";
    if (!failed) {
      c->open_handles = 1;
      if ((err = -uv_poll_init(loop, &c->dst_poll, dst)) != 0) failed = "uv_poll_init";
      else c->open_handles = 2;
    }
    if (failed) throw_errno(env, err, failed, NULL);
  }
  if (!c || !box || t != napi_function || failed) {
    // Handles already initialised must be closed through libuv, which then frees the copy.
    if (c && c->open_handles > 0) {
      c->src = src;
      c->dst = dst;
      c->src_poll.data = c->dst_poll.data = c;
      if (c->open_handles == 1) uv_close((uv_handle_t *)&c->src_poll, splice_handle_closed);
      else splice_release(c);
    } else {
      close(src);
      close(dst);
      free(c);
    }
    free(box);
    return NULL;
  }
  c->src = src;
  c->dst = dst;
  c->env = env;
  c->src_poll.data = c->dst_poll.data = c;
  c->box = box;
  box->c = c;
  napi_value resource_name, external;
  napi_create_string_utf8(env, "tsshim:spliceCopy", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &c->ctx);
  napi_create_reference(env, argv[2], 1, &c->cb);
  if (napi_create_external(env, box, splice_box_finalize, NULL, &external) != napi_ok) {
    splice_box_finalize(env, box, NULL);
    napi_throw_error(env, NULL, "N-API call failed: napi_create_external");
    return NULL;
  }
  splice_wait(c, 1);
  return external;
}

// {bytes, queued, ended}: bytes moved so far, what waits in the source pipe, whether the copy
// is over (ended or closed).
static napi_value SpliceStatus(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  splice_box_t *box = arg_splice_box(env, argv, argc);
  if (!box) return NULL;
  int queued = 0;
  if (box->c && ioctl(box->c->src, FIONREAD, &queued) < 0) queued = 0;
  napi_value result, bytes, ended;
  NAPI_CALL(env, napi_create_object(env, &result));
  napi_create_double(env, box->c ? box->c->bytes : box->bytes, &bytes);
  napi_get_boolean(env, box->c == NULL, &ended);
  napi_set_named_property(env, result, "bytes", bytes);
  napi_set_named_property(env, result, "queued", int_value(env, queued));
  napi_set_named_property(env, result, "ended", ended);
  return result;
}

// Stops a copy before its end, closing both fds; its callback is never called.
static napi_value CloseSpliceCopy(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  splice_box_t *box = arg_splice_box(env, argv, argc);
  if (!box || !box->c) return NULL;
  splice_copy_t *c = box->c;
  napi_delete_reference(env, c->cb);
  napi_async_destroy(env, c->ctx);
  splice_release(c);
  return NULL;
}

static void set_constant(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_set_named_property(env, obj, name, int_value(env, value));
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"setChildSubreaper", NULL, SetChildSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isChildSubreaper", NULL, IsChildSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitpidNoHang", NULL, WaitpidNoHang, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pipe2", NULL, Pipe2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bytesQueued", NULL, BytesQueued, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getPeerCred", NULL, GetPeerCred, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWinsize", NULL, SetWinsize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"eventfd", NULL, EventFd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, Mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, Umount2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvFd", NULL, RecvFd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchEventfd", NULL, WatchEventfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drainEventfd", NULL, DrainEventfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeEventfdWatch", NULL, CloseEventfdWatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimMalloc", NULL, TrimMalloc, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawn", NULL, Spawn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceCopy", NULL, SpliceCopy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceStatus", NULL, SpliceStatus, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeSpliceCopy", NULL, CloseSpliceCopy, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));

  napi_value c;
  NAPI_CALL(env, napi_create_object(env, &c));
  set_constant(env, c, "MS_RDONLY", MS_RDONLY);
  set_constant(env, c, "MS_NOSUID", MS_NOSUID);
  set_constant(env, c, "MS_NODEV", MS_NODEV);
  set_constant(env, c, "MS_NOEXEC", MS_NOEXEC);
  set_constant(env, c, "MS_SYNCHRONOUS", MS_SYNCHRONOUS);
  set_constant(env, c, "MS_REMOUNT", MS_REMOUNT);
  set_constant(env, c, "MS_MANDLOCK", MS_MANDLOCK);
  set_constant(env, c, "MS_DIRSYNC", MS_DIRSYNC);
  set_constant(env, c, "MS_NOATIME", MS_NOATIME);
  set_constant(env, c, "MS_NODIRATIME", MS_NODIRATIME);
  set_constant(env, c, "MS_BIND", MS_BIND);
  set_constant(env, c, "MS_REC", MS_REC);
  set_constant(env, c, "MS_UNBINDABLE", MS_UNBINDABLE);
  set_constant(env, c, "MS_PRIVATE", MS_PRIVATE);
  set_constant(env, c, "MS_SLAVE", MS_SLAVE);
  set_constant(env, c, "MS_SHARED", MS_SHARED);
  set_constant(env, c, "MS_RELATIME", MS_RELATIME);
  set_constant(env, c, "MS_STRICTATIME", MS_STRICTATIME);
  set_constant(env, c, "MS_LAZYTIME", MS_LAZYTIME);
  set_constant(env, c, "MNT_FORCE", MNT_FORCE);
  set_constant(env, c, "MNT_DETACH", MNT_DETACH);
  set_constant(env, c, "MNT_EXPIRE", MNT_EXPIRE);
  set_constant(env, c, "UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW);
  NAPI_CALL(env, napi_set_named_property(env, exports, "constants", c));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
