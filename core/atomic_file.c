/*
** atomic_file.c -- files written whole or not at all (tl__out, internal.h):
** model files (serialize.c) and pictures (viz_*.c, plot.c) go through it.
**
** The bytes go to a fresh temporary file in the target's own directory
** (rename is atomic only within one file system), which is then renamed
** over the target.  Readers see the old file or the new one, never a part:
**
**   - the temporary's name is "<target>.tmp-" plus 16 hex digits of a
**     generator seeded from the pid, the clock and stack addresses, and it
**     is created with O_CREAT|O_EXCL: a file, a symbolic link or another
**     saver's temporary already there is never opened, written through or
**     replaced; we draw another name (stale temporaries of killed runs
**     only cost a retry each, with 2^64 names they almost never collide);
**   - it is 0600 while written, so nobody else can open it half-way; its
**     final mode is the target's if the target exists (a 0600 model stays
**     0600), else what open(path, O_CREAT, 0666) would give a new file;
**   - it is flushed to disk (fsync) before the rename, and the directory
**     after it, so a crash does not leave an empty file under the
**     target's name;
**   - on any failure it is removed and the error names the user's path.
**
** Symbolic links: a target that is a link is followed (to any depth, as
** open() does) and the file it finally points to is replaced; the link
** stays a link.  That is what writing to a link with fopen() always did,
** and what editors do: a link "model.tl -> runs/7/model.tl" means "save
** into run 7"; replacing the link with a plain file would silently detach
** the two names.  The temporary goes beside the file finally replaced.
** Only regular files are replaced: a directory, device or pipe at the
** target is an error (renaming over /dev/null as root would destroy it).
**
** No state outside the tl__out and the stack, so threads that each use
** their own tl_ctx may save at the same time.
*/
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Symbolic links followed before giving up (ELOOP), as Linux's 40. */
#define MAX_LINKS 40
/* Bytes of the target's file name kept in the temporary's name, so that
** a name near NAME_MAX (255) still leaves room for the suffix. */
#define MAX_BASE 200
/* Names drawn before giving up: each is 64 random bits, so only a file
** system that refuses every name (not stale files) can exhaust this. */
#define MAX_TRIES 100

static tl_status fail(tl_ctx *ctx, const tl__out *out, int err) {
  return tl_ctx_fail(ctx, TL_EIO, "cannot write '%s': %s", out->path,
                     strerror(err));
}

/* {======================================================================
** Names
** ======================================================================= */

/* splitmix64: one step of the name generator. */
static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A seed that differs between processes (pid), threads (stack address)
** and calls (clock, the tl__out's address). */
static uint64_t seed_of(const tl__out *out) {
  struct timespec ts = {0, 0};
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t s = (uint64_t)getpid();
  s = s * 0x100000001b3ull ^ (uint64_t)ts.tv_sec;
  s = s * 0x100000001b3ull ^ (uint64_t)ts.tv_nsec;
  s = s * 0x100000001b3ull ^ (uint64_t)(uintptr_t)out;
  s = s * 0x100000001b3ull ^ (uint64_t)(uintptr_t)&ts;
  return s;
}

/* The directory part of 'p' with its final slash ("" for a bare name). */
static size_t dir_len(const char *p) {
  const char *slash = strrchr(p, '/');
  return slash == NULL ? 0 : (size_t)(slash - p) + 1;
}

/* Follows symbolic links from 'path' to the file it names: *target is a
** malloc'd path, *st its lstat (st_mode 0 when nothing is there yet).
** Returns 0 or an errno. */
static int resolve(const char *path, char **target, struct stat *st) {
  char *cur = malloc(strlen(path) + 1);
  if (cur == NULL) return ENOMEM;
  strcpy(cur, path);
  for (int hops = 0;; hops++) {
    if (lstat(cur, st) != 0) {
      int err = errno;
      if (err != ENOENT) { free(cur); return err; }
      st->st_mode = 0;            /* a new file (or a missing directory:
                                     creating the temporary will say so) */
      break;
    }
    if (!S_ISLNK(st->st_mode)) break;
    if (hops == MAX_LINKS) { free(cur); return ELOOP; }
    /* the link's text; st_size is its length except on odd file systems,
    ** so grow until readlink leaves room */
    size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
    char *link = NULL;
    ssize_t n;
    for (;;) {
      char *bigger = realloc(link, cap);
      if (bigger == NULL) { free(link); free(cur); return ENOMEM; }
      link = bigger;
      n = readlink(cur, link, cap);
      if (n < 0) { int err = errno; free(link); free(cur); return err; }
      if ((size_t)n < cap) break;
      cap *= 2;
    }
    link[n] = '\0';
    /* a relative link is relative to the link's directory */
    size_t d = link[0] == '/' ? 0 : dir_len(cur);
    char *next = malloc(d + (size_t)n + 1);
    if (next == NULL) { free(link); free(cur); return ENOMEM; }
    memcpy(next, cur, d);
    memcpy(next + d, link, (size_t)n + 1);
    free(link);
    free(cur);
    cur = next;
  }
  *target = cur;
  return 0;
}

/* Creates a file that did not exist, named after 'target' with a random
** suffix, with 'mode' (before the umask): its descriptor, and its name in
** 'name' (room for dir + MAX_BASE + 22 bytes), or -1 with errno set. */
static int create_unique(const char *target, char *name, mode_t mode,
                         uint64_t *rng) {
  size_t d = dir_len(target), b = strlen(target + d);
  if (b > MAX_BASE) b = MAX_BASE;
  memcpy(name, target, d + b);
  for (int i = 0; i < MAX_TRIES; i++) {
    snprintf(name + d + b, 22, ".tmp-%016llx", (unsigned long long)mix(rng));
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

/* The permission bits a new file made by open(..., 0666) in the directory
** of 'target' gets: the umask, or the directory's default ACL, applied.
** Learnt by making (and removing) an empty file, because reading the umask
** means setting it, which would race with other threads creating files. */
static int new_file_mode(const char *target, char *name, uint64_t *rng,
                         mode_t *mode) {
  int fd = create_unique(target, name, 0666, rng);
  if (fd < 0) return errno;
  struct stat st;
  int err = fstat(fd, &st) != 0 ? errno : 0;
  close(fd);
  unlink(name);
  *mode = st.st_mode & 0777;
  return err;
}

/* }====================================================================== */

/* {======================================================================
** Writing
** ======================================================================= */

tl_status tl__out_open(tl_ctx *ctx, tl__out *out, const char *path) {
  out->f = NULL;
  out->path = path;
  out->target = NULL;
  out->tmp = NULL;
  out->mode = 0;
  out->failed = 0;
  if (path[0] == '\0') return fail(ctx, out, ENOENT);
  struct stat st;
  int err = resolve(path, &out->target, &st);
  if (err != 0) return fail(ctx, out, err);
  size_t d = dir_len(out->target);
  if (out->target[d] == '\0') err = EISDIR;          /* "dir/" */
  else if (S_ISDIR(st.st_mode)) err = EISDIR;
  else if (st.st_mode != 0 && !S_ISREG(st.st_mode)) {
    free(out->target);
    out->target = NULL;
    return tl_ctx_fail(ctx, TL_EIO, "cannot write '%s': not a regular file",
                       path);
  }
  if (err == 0 && (out->tmp = malloc(d + MAX_BASE + 22)) == NULL) err = ENOMEM;
  uint64_t rng = seed_of(out);
  mode_t mode = st.st_mode & 0777;
  if (err == 0 && st.st_mode == 0)
    err = new_file_mode(out->target, out->tmp, &rng, &mode);
  int fd = -1;
  if (err == 0) {
    fd = create_unique(out->target, out->tmp, 0600, &rng);
    if (fd < 0) err = errno;
  }
  if (err == 0 && (out->f = fdopen(fd, "wb")) == NULL) {
    err = errno;
    close(fd);
    unlink(out->tmp);
  }
  if (err != 0) {
    free(out->tmp);
    free(out->target);
    out->tmp = out->target = NULL;
    return err == ENOMEM
         ? tl_ctx_fail(ctx, TL_ENOMEM, "cannot write '%s': out of memory", path)
         : fail(ctx, out, err);
  }
  out->mode = (unsigned)mode;
  return TL_OK;
}

tl_status tl__out_write(tl_ctx *ctx, tl__out *out, const void *p, size_t n) {
  errno = 0;
  if (n > 0 && fwrite(p, 1, n, out->f) != n) {
    out->failed = 1;
    return fail(ctx, out, errno ? errno : EIO);
  }
  return TL_OK;
}

void tl__out_abort(tl__out *out) {
  if (out->f != NULL) fclose(out->f);
  out->f = NULL;
  if (out->tmp != NULL) unlink(out->tmp);
  free(out->tmp);
  free(out->target);
  out->tmp = out->target = NULL;
}

/* Flushes the directory holding 'target', so the rename survives a crash.
** Best effort: the new file is already in place and whole, and some file
** systems refuse fsync on directories. */
static void sync_dir(const char *target) {
  size_t d = dir_len(target);
  char *dir = malloc(d + 2);
  if (dir == NULL) return;
  if (d == 0) strcpy(dir, ".");
  else { memcpy(dir, target, d); dir[d] = '\0'; }
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

tl_status tl__out_commit(tl_ctx *ctx, tl__out *out) {
  int fd = fileno(out->f);
  int err = out->failed ? EIO : 0;
  errno = 0;
  if (err == 0 && (fflush(out->f) != 0 || ferror(out->f)))
    err = errno ? errno : EIO;
  if (err == 0 && out->mode != 0600 && fchmod(fd, (mode_t)out->mode) != 0)
    err = errno;
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (fclose(out->f) != 0 && err == 0) err = errno ? errno : EIO;
  out->f = NULL;
  if (err == 0 && rename(out->tmp, out->target) != 0) err = errno;
  if (err != 0) {
    tl__out_abort(out);
    return fail(ctx, out, err);
  }
  sync_dir(out->target);
  free(out->tmp);
  free(out->target);
  out->tmp = out->target = NULL;
  return TL_OK;
}

/* }====================================================================== */
