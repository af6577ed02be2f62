/*
** threads_test.c -- several lua_States in several threads train at once,
** without locks, and each gets exactly what one state alone gets.
**
**     build/tests/threads_test [threads [steps [script [lua-dir]]]]
**
** First one run on the main thread gives the reference; then 'threads'
** pthreads (default 4) each open their own lua_State with Torchlet linked
** in, run the same seeded training script and keep its result: the final
** loss and every parameter as hex floats.  Every result must equal the
** reference byte for byte.  Exits 0 when they all do, 1 otherwise.  Built
** in the tsan configuration too, where ThreadSanitizer checks that the
** states really share nothing (it exits 66 on a race).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../bindings/torchlet_lua.h"

#define MAX_THREADS 64

typedef struct job {
  const char *script, *lua_dir, *steps;
  char *result;        /* malloc'd output of the script, or NULL */
  char error[512];     /* why there is no result */
} job;

/* In protected mode: opens the libraries and Torchlet, extends package.path
** with the directory of the pure-Lua part, runs the script with 'steps' as
** its argument and leaves its result (a string) on the stack. */
static int pmain(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  luaL_openlibs(L);
  luaL_requiref(L, "torchlet.core", luaopen_torchlet_core, 0);
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", j->lua_dir, j->lua_dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  if (luaL_loadfile(L, j->script) != LUA_OK) return lua_error(L);
  lua_pushstring(L, j->steps);
  lua_call(L, 1, 1);
  if (lua_type(L, -1) != LUA_TSTRING)
    return luaL_error(L, "%s returned no string", j->script);
  return 1;
}

/* One whole run in a fresh lua_State: fills j->result or j->error. */
static void *run(void *arg) {
  job *j = arg;
  j->result = NULL;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    snprintf(j->error, sizeof j->error, "cannot create a lua_State");
    return NULL;
  }
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, j);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if ((j->result = malloc(len + 1)) != NULL) memcpy(j->result, s, len + 1);
    else snprintf(j->error, sizeof j->error, "out of memory");
  } else
    snprintf(j->error, sizeof j->error, "%s", lua_tostring(L, -1));
  lua_close(L);
  return NULL;
}

int main(int argc, char **argv) {
  int nthreads = argc > 1 ? atoi(argv[1]) : 4;
  if (nthreads < 1 || nthreads > MAX_THREADS) {
    fprintf(stderr, "threads_test: threads must be 1..%d\n", MAX_THREADS);
    return EXIT_FAILURE;
  }
  job proto = { argc > 3 ? argv[3] : "spec/c/threads_train.lua",
                argc > 4 ? argv[4] : "lua", argc > 2 ? argv[2] : "2000",
                NULL, "" };
  job ref = proto, jobs[MAX_THREADS];
  pthread_t tids[MAX_THREADS];

  run(&ref);                                  /* the single-threaded run */
  if (ref.result == NULL) {
    fprintf(stderr, "threads_test: reference run failed: %s\n", ref.error);
    return EXIT_FAILURE;
  }
  int started = 0, failed = 0;
  for (int t = 0; t < nthreads; t++) {
    jobs[t] = proto;
    if (pthread_create(&tids[t], NULL, run, &jobs[t]) != 0) {
      fprintf(stderr, "threads_test: cannot start thread %d\n", t);
      failed = 1;
      break;
    }
    started++;
  }
  for (int t = 0; t < started; t++) {
    pthread_join(tids[t], NULL);
    if (jobs[t].result == NULL) {
      fprintf(stderr, "threads_test: thread %d failed: %s\n", t, jobs[t].error);
      failed = 1;
    } else if (strcmp(jobs[t].result, ref.result) != 0) {
      fprintf(stderr, "threads_test: thread %d differs from the reference:\n"
              "%s\n-- reference --\n%s\n", t, jobs[t].result, ref.result);
      failed = 1;
    }
    free(jobs[t].result);
  }
  if (!failed)
    printf("threads_test: %d threads match the single-threaded run bit for "
           "bit (%.*s)\n", nthreads, (int)strcspn(ref.result, "\n"), ref.result);
  free(ref.result);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
