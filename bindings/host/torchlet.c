/*
** torchlet.c -- the `torchlet` program: Lua 5.4 with Torchlet built in, in
** the spirit of Torch7's `th`.
**
**     torchlet [options] [script [args]]
**
** The C part of the module is linked in (package.preload["torchlet.core"]),
** the pure-Lua part is looked for next to the program (an install's
** share/lua/5.4, or the repository's lua/ when run from build/), and the
** global 'torchlet' holds require "torchlet" before anything runs.  Like
** lua.c: 'arg' holds the script's arguments (arg[0] the script, negative
** indices the program and options), the script also receives them as '...',
** and errors print a traceback and exit with status 1.
*/
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifdef TL_HAVE_LIBEDIT
#include <editline/readline.h>   /* libedit's readline(), add_history() */
#endif

#include "../../core/torchlet.h"
#include "../torchlet_lua.h"

#define PROGNAME "torchlet"
#define LUA_VDIR LUA_VERSION_MAJOR "." LUA_VERSION_MINOR

static void print_usage(FILE *f) {
  fprintf(f,
    "usage: " PROGNAME " [options] [script [args]]\n"
    "Runs Lua " LUA_VDIR " with Torchlet loaded as the global 'torchlet'.\n"
    "  -e chunk  run the string 'chunk'\n"
    "  -l mod    require 'mod' into the global 'mod'\n"
    "  -i        interactive prompt after the script (results are printed)\n"
    "  -v        show the version\n"
    "  -h        show this help\n"
    "  --        stop handling options\n"
    "  -         run standard input as a script\n"
    "With no script, the prompt starts if standard input is a terminal;\n"
    "otherwise standard input is run as a script.\n");
}

/* {======================================================================
** Errors: a message handler that adds a traceback, and a reporter
** ======================================================================= */

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {  /* an error object that is not a string */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;       /* its __tostring is the message */
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls the function below its 'narg' arguments in protected mode with
** the traceback handler; leaves 'nres' results or the message. */
static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

/* Prints the message on top (if the status is an error) and pops it. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, PROGNAME ": %s\n", msg ? msg : "(no message)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* }====================================================================== */

/* {======================================================================
** Finding the pure-Lua part
** ======================================================================= */

/* The directory of this program ("" if unknown), into 'buf'. */
static void program_dir(char *buf, size_t size, const char *argv0) {
  ssize_t len = readlink("/proc/self/exe", buf, size - 1);
  if (len <= 0) {  /* not Linux: fall back on argv[0] if it has a slash */
    len = (argv0 && strchr(argv0, '/')) ? (ssize_t)strlen(argv0) : 0;
    if ((size_t)len >= size) len = 0;
    memcpy(buf, argv0 ? argv0 : "", (size_t)len);
  }
  buf[len] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash != NULL) *slash = '\0'; else buf[0] = '\0';
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* Prepends to package.path the first directory next to the program that
** holds torchlet/init.lua: an install's PREFIX/share/lua/5.4 (program in
** PREFIX/bin), or the repository's lua/ (program in build/bin/, or in
** build/debug/bin/ and the like).
** Prepended, so the program's own copy wins over another install; LUA_PATH
** still applies after it. */
static void add_lua_dir(lua_State *L, const char *argv0) {
  static const char *const candidates[] = {
    "/../share/lua/" LUA_VDIR, "/../../lua", "/../../../lua",
  };
  char dir[PATH_MAX], path[PATH_MAX + 64];
  program_dir(dir, sizeof dir, argv0);
  if (dir[0] == '\0') return;
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    snprintf(path, sizeof path, "%s%s/torchlet/init.lua", dir, candidates[i]);
    if (!file_exists(path)) continue;
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s%s/?.lua;%s%s/?/init.lua;", dir, candidates[i],
                    dir, candidates[i]);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    return;
  }
}

/* Preloads the linked-in C part and sets the global 'torchlet'. */
static int open_torchlet(lua_State *L, const char *argv0) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_torchlet_core);
  lua_setfield(L, -2, "torchlet.core");
  lua_pop(L, 2);
  add_lua_dir(L, argv0);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "torchlet");
  int status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, "torchlet");
  return report(L, status);
}

/* }====================================================================== */

/* {======================================================================
** Options, the arg table, scripts
** ======================================================================= */

typedef struct options {
  int interactive;   /* -i */
  int version;       /* -v */
  int help;          /* -h */
  int chunks;        /* some -e */
  int script;        /* index in argv of the script, or 0 for none */
} options;

/* Checks the options and finds the script; runs nothing yet.  Returns 0
** on a bad option (after printing why). */
static int scan_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) { o->script = i; return 1; }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) o->script = i + 1;
      return 1;
    }
    if (strcmp(a, "-i") == 0) o->interactive = 1;
    else if (strcmp(a, "-v") == 0) o->version = 1;
    else if (strcmp(a, "-h") == 0) o->help = 1;
    else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
      if (++i >= argc) {
        fprintf(stderr, PROGNAME ": '%s' needs an argument\n", a);
        print_usage(stderr);
        return 0;
      }
      if (a[1] == 'e') o->chunks = 1;
    } else {
      fprintf(stderr, PROGNAME ": unknown option '%s'\n", a);
      print_usage(stderr);
      return 0;
    }
  }
  return 1;
}

/* The global 'arg': arg[0] is the script (or the program when there is
** none), arguments after it are 1.., the program and options are < 0. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script) {
  int after = script > 0 ? argc - script - 1 : 0;
  lua_createtable(L, after, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

/* Runs -e and -l in the order given.  Returns 0 on the first error. */
static int run_options(lua_State *L, int argc, char **argv, int script) {
  int end = script > 0 ? script : argc;
  for (int i = 1; i < end; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (strcmp(a, "-e") == 0) {
      const char *chunk = argv[++i];
      if (dochunk(L, luaL_loadbuffer(L, chunk, strlen(chunk), "=(command line)")))
        return 0;
    } else if (strcmp(a, "-l") == 0) {
      const char *mod = argv[++i];
      lua_getglobal(L, "require");
      lua_pushstring(L, mod);
      int status = docall(L, 1, 1);
      if (status == LUA_OK) lua_setglobal(L, mod);
      if (report(L, status) != LUA_OK) return 0;
    }
  }
  return 1;
}

/* Runs the file 'name' (standard input if NULL or "-") with argv[first..]
** as '...'.  Returns 1 on success. */
static int run_script(lua_State *L, const char *name, int first, int argc,
                      char **argv) {
  if (name != NULL && strcmp(name, "-") == 0) name = NULL;
  int status = luaL_loadfile(L, name);
  if (status == LUA_OK) {
    int n = argc - first;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = first; i < argc; i++) lua_pushstring(L, argv[i]);
    status = docall(L, n, 0);
  }
  return report(L, status) == LUA_OK;
}

/* }====================================================================== */

/* {======================================================================
** The interactive prompt
** ======================================================================= */

/* Compiles 'line' as "return line" so expressions print their value; if
** that is not valid Lua, leaves nothing pushed and returns non-OK. */
static int load_as_return(lua_State *L, const char *line) {
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbufferx(L, retline, strlen(retline), "=stdin", "t");
  lua_remove(L, -2);           /* the "return" string */
  if (status != LUA_OK) lua_pop(L, 1);
  return status;
}

/* A syntax error at the end of the input means "more lines to come". */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  static const char eof[] = "<eof>";
  return len >= sizeof eof - 1 && strcmp(msg + len - (sizeof eof - 1), eof) == 0;
}

/* Prints the values on the stack above 'base' with the global 'print',
** so Elements show through their __tostring. */
static void print_results(lua_State *L, int base) {
  int n = lua_gettop(L) - base;
  if (n == 0) return;
  lua_getglobal(L, "print");
  lua_insert(L, base + 1);
  report(L, docall(L, n, 0));
}

/* Reads one line into *line (a getline buffer of *cap bytes), without its
** newline, after showing 'prompt' on a terminal; returns its length, or -1
** at the end of input.  On a terminal with libedit the line can be edited
** and earlier ones recalled (arrow keys, ^R); without it, an arrow key
** arrives as an escape sequence, which the text-only load below refuses. */
static ssize_t read_line(int tty, const char *prompt, char **line, size_t *cap) {
#ifdef TL_HAVE_LIBEDIT
  if (tty) {
    char *l = readline(prompt);
    if (l == NULL) return -1;
    size_t n = strlen(l);
    if (n >= *cap) {
      char *grown = realloc(*line, n + 1);
      if (grown == NULL) { free(l); return -1; }
      *line = grown;
      *cap = n + 1;
    }
    memcpy(*line, l, n + 1);
    free(l);
    if (n > 0) add_history(*line);
    return (ssize_t)n;
  }
#endif
  if (tty) { fputs(prompt, stdout); fflush(stdout); }
  ssize_t len = getline(line, cap, stdin);
  if (len > 0 && (*line)[len - 1] == '\n') (*line)[--len] = '\0';
  return len;
}

/* Compiles the next statement into a function on top of the stack, reading
** more lines while it is incomplete.  A line is tried as an expression
** first, so that its values are printed.  Returns -1 at the end of input,
** else the load status (the message on top if it is not LUA_OK). */
static int read_statement(lua_State *L, int tty, char **line, size_t *cap) {
  int more = 0;                /* the text so far is on top when set */
  for (;;) {
    ssize_t len = read_line(tty, more ? ">> " : "> ", line, cap);
    if (len < 0) {
      if (!more) return -1;
      lua_pop(L, 1);           /* an unfinished statement at the end */
      lua_pushliteral(L, "stdin: unfinished statement at the end of input");
      return LUA_ERRSYNTAX;
    }
    if (!more && load_as_return(L, *line) == LUA_OK) return LUA_OK;
    if (more) {
      lua_pushliteral(L, "\n");
      lua_pushstring(L, *line);
      lua_concat(L, 3);
    } else
      lua_pushstring(L, *line);
    size_t srclen;
    const char *src = lua_tolstring(L, -1, &srclen);
    int status = luaL_loadbufferx(L, src, srclen, "=stdin", "t");
    if (!incomplete(L, status)) {
      lua_remove(L, -2);       /* the text */
      return status;
    }
    lua_pop(L, 1);             /* the message; keep the text */
    more = 1;
  }
}

/* Runs statements from standard input until it ends, printing results. */
static void repl(lua_State *L) {
  int tty = isatty(STDIN_FILENO);
  char *line = NULL;
  size_t cap = 0;
  int base = lua_gettop(L);
  int status;
  while ((status = read_statement(L, tty, &line, &cap)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (report(L, status) == LUA_OK) print_results(L, base);
    lua_settop(L, base);
  }
  free(line);
  if (tty) fputs("\n", stdout);
}

/* }====================================================================== */

static void print_version(void) {
  printf("Torchlet %s  %s\n", TL_VERSION, LUA_RELEASE);
  fflush(stdout);
}

/* Runs everything in protected mode, so even a memory error while setting
** up is reported instead of aborting.  Returns the exit status. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  options o;
  int ok = scan_args(argc, argv, &o);
  if (ok && o.help) { print_usage(stdout); ok = 2; }
  if (ok != 1) {
    lua_pushinteger(L, ok ? EXIT_SUCCESS : EXIT_FAILURE);
    return 1;
  }
  int tty = isatty(STDIN_FILENO);
  if (o.version || (o.interactive && tty)) print_version();
  luaL_openlibs(L);
  create_arg_table(L, argc, argv, o.script);
  lua_settop(L, 0);
  ok = open_torchlet(L, argv[0]) == LUA_OK
    && run_options(L, argc, argv, o.script)
    && (o.script == 0 || run_script(L, argv[o.script], o.script + 1, argc, argv));
  if (ok && o.interactive)
    repl(L);
  else if (ok && o.script == 0 && !o.chunks && !o.version) {
    /* a bare `torchlet`: a prompt on a terminal, else a script on stdin */
    if (tty) { print_version(); repl(L); }
    else ok = run_script(L, NULL, argc, argc, argv);
  }
  lua_pushinteger(L, ok ? EXIT_SUCCESS : EXIT_FAILURE);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, PROGNAME ": cannot create a Lua state: not enough memory\n");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int result = status == LUA_OK ? (int)lua_tointeger(L, -1) : EXIT_FAILURE;
  report(L, status);
  lua_close(L);
  return result;
}
