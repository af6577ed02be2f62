#!/usr/bin/env bash
# spec/install_test.sh -- installs Torchlet into a temporary PREFIX and uses
# that install, and only it, from another directory:
#   1. the stock lua5.4 with LUA_PATH/LUA_CPATH pointing into PREFIX, lua5.3
#      through PREFIX/lib/lua/5.3, lua5.1 and luajit through .../5.1;
#   2. PREFIX/bin/torchlet with no LUA_PATH/LUA_CPATH at all;
#   3. a plain C program built with `pkg-config --cflags --libs torchlet`;
#   4. a C program with its own Lua VM built with `... torchlet-lua`;
#   5. C++: every header compiled by g++, a function of each linked, and
#      examples/cpp/host.cpp (Lua VM, arrays from C++ buffers, the core);
# then `setup.sh uninstall` must leave nothing of it.  Then
#   6. `setup.sh install --no-viz`, from a copy of the checkout, into a
#      second PREFIX: nothing installed needs graphviz or cairo, scripts
#      train on every VM, C hosts build, and drawing raises an error that
#      says it was not built.
# Each step checks where its module came from, so the repository's copy
# cannot pass for the installed one.  Exits non-zero at the first failure.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
work=$tmp/elsewhere
mkdir -p "$work"

"$repo/setup.sh" install "$prefix" >/dev/null

cd "$work"
# Trains y = 2x + 1 with one weight and one bias; arg 1 is the prefix the
# module must come from.
cat >fit.lua <<'LUA'
local prefix = assert(arg[1], "usage: fit.lua PREFIX")
local torchlet = require "torchlet"
-- package.searchpath (5.2+ and LuaJIT), written out for Lua 5.1
local function searchpath(name, path)
  for t in path:gmatch("[^;]+") do
    local f = io.open((t:gsub("%?", (name:gsub("%.", "/")))), "r")
    if f then f:close() return (t:gsub("%?", (name:gsub("%.", "/")))) end
  end
end
local function from_prefix(what, path)
  local found = assert(searchpath(what, path), what .. " not found")
  assert(found:sub(1, #prefix) == prefix, what .. " comes from " .. found)
end
from_prefix("torchlet", package.path)
local Element = torchlet.Element
local w, b = Element(0.0), Element(0.0)
for _ = 1, 200 do
  local loss = 0
  for x = -2, 2 do loss = loss + (w * x + b - (2 * x + 1)) ^ 2 end
  w.grad, b.grad = 0, 0
  loss:backward()
  w.data, b.data = w.data - 0.02 * w.grad, b.data - 0.02 * b.grad
end
assert(math.abs(w.data - 2) < 1e-3 and math.abs(b.data - 1) < 1e-3,
       "did not fit: " .. tostring(w) .. " " .. tostring(b))
print("fit.lua: w = " .. w.data .. ", b = " .. b.data)
LUA

# 1. the stock interpreter through the installed module
LUA_PATH="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua" \
LUA_CPATH="$prefix/lib/lua/5.4/?.so" \
  lua5.4 -e "assert(package.searchpath('torchlet.core', package.cpath):find('$prefix', 1, true))" \
  fit.lua "$prefix"

# 1b. Lua 5.3 through lib/lua/5.3, Lua 5.1 and LuaJIT through lib/lua/5.1
# (one module for both, the 5.1 C ABI); $1 the prefix, $2 the interpreter.
other_vm() {
  local lv=5.1
  [ "$2" = lua5.3 ] && lv=5.3
  LUA_PATH="$1/share/lua/$lv/?.lua;$1/share/lua/$lv/?/init.lua" \
  LUA_CPATH="$1/lib/lua/$lv/?.so" "$2" fit.lua "$1"
}
for vm in lua5.3 lua5.1 luajit; do other_vm "$prefix" "$vm"; done

# 2. the installed program finds its own Lua part; nothing else is set
env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 \
  "$prefix/bin/torchlet" fit.lua "$prefix"

# 3. plain C against the installed core
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cat >grad.c <<'C'
#include <stdio.h>
#include <torchlet/torchlet.h>
#include <torchlet/tl_nn.h>

int main(void) {  /* d(a*b + a)/da at a = 2, b = 3 is 4 */
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) return 1;
  tl_node *a = tl_leaf(ctx, 2), *b = tl_leaf(ctx, 3);
  tl_node *c = tl_mul(ctx, a, b), *d = tl_add(ctx, c, a);
  int ok = d != NULL && tl_backward(ctx, d) == TL_OK && tl_grad(a) == 4;
  printf("grad.c: dd/da = %g\n", tl_grad(a));
  /* and a model from the installed nn header: MLP(2, {3, 1}) */
  static const size_t sizes[2] = { 3, 1 };
  static const tl_act acts[2] = { TL_ACT_RELU, TL_ACT_LINEAR };
  tl_mlp *m = tl_mlp_new(ctx, TL_KIND_MLP, 2, 2, sizes, acts, TL_INIT_DEFAULT);
  tl_node *y = NULL, *x[2] = { a, b };
  ok = ok && m != NULL && tl_mlp_nparams(m) == 4 && tl_mlp_nscalars(m) == 13 &&
       tl_mlp_forward(ctx, m, x, &y) == TL_OK;
  tl_release(ctx, y);
  tl_mlp_free(ctx, m);
  tl_release(ctx, d); tl_release(ctx, c);
  tl_release(ctx, b); tl_release(ctx, a);
  ok = ok && tl_ctx_live_nodes(ctx) == 0;
  tl_ctx_free(ctx);
  return ok ? 0 : 1;
}
C
# shellcheck disable=SC2046  # pkg-config output is meant to split
cc -std=c11 -Wall -Wextra -Werror -o grad grad.c $(pkg-config --cflags --libs torchlet)
./grad

# the core needs neither graphviz nor cairo; the drawing library brings them
core_libs=$(pkg-config --libs torchlet)
case "$core_libs" in
  *gvc*|*cairo*) echo "install_test: the core links drawing libraries: $core_libs" >&2; exit 1;;
esac

# 3b. a C program that draws, with `pkg-config --cflags --libs torchlet-viz`
cat >draw.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <torchlet/tl_viz.h>

int main(void) {
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) return 1;
  tl_node *a = tl_leaf(ctx, 2.0), *b = tl_mul(ctx, a, a);
  char *dot = NULL;
  size_t len = 0;
  int ok = tl_viz_dot(ctx, b, NULL, &dot, &len) == TL_OK && dot != NULL &&
           strstr(dot, "digraph") != NULL;
  printf("draw.c: %s\n", ok ? "DOT written" : tl_ctx_error(ctx));
  free(dot);
  tl_release(ctx, b); tl_release(ctx, a);
  tl_ctx_free(ctx);
  return ok ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o draw draw.c $(pkg-config --cflags --libs torchlet-viz)
./draw

# 4. a C host with its own Lua VM and the installed binding linked in: the
# embedding guide's own snippet (the first C block of its section on hosts)
awk '/^##+ C and C\+\+ programs with their own Lua VM/ { sect = 1 }
     sect && /^```c$/ { inblock = 1; next }
     inblock && /^```$/ { exit }
     inblock { print }' "$repo/doc/embedding.md" >host.c
grep -q luaopen_torchlet_core host.c ||
  { echo "install_test: no C snippet found in doc/embedding.md's section on hosts" >&2; exit 1; }
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o host host.c $(pkg-config --cflags --libs torchlet-lua)
[ "$(env -u LUA_PATH -u LUA_CPATH ./host)" = 6 ] ||
  { echo "install_test: doc/embedding.md's C host did not print 6" >&2; exit 1; }

# 5. C++ against the install: each header on its own, a function of each
# linked (a header without extern "C" fails here: tl_ctx_new() is not
# tl_ctx_new), then the example host
for h in "$prefix"/include/torchlet/*.h; do
  printf '#include <torchlet/%s>\n' "$(basename "$h")" |
    g++ -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c++ - \
      $(pkg-config --cflags torchlet-lua)
done
cat >headers.cpp <<'CPP'
#include <torchlet/tl_loss.h>
#include <torchlet/tl_nn.h>
#include <torchlet/tl_optim.h>
#include <torchlet/tl_plot.h>
#include <torchlet/torchlet_lua.h>
int main() {
  const void *fns[] = {
    reinterpret_cast<const void *>(&tl_ctx_new), reinterpret_cast<const void *>(&tl_loss_check_targets),
    reinterpret_cast<const void *>(&tl_mlp_new), reinterpret_cast<const void *>(&tl_optim_name),
    reinterpret_cast<const void *>(&tl_plot_line), reinterpret_cast<const void *>(&tl_viz_dot),
    reinterpret_cast<const void *>(&luaopen_torchlet_core), reinterpret_cast<const void *>(&tlb_push_array),
  };
  for (const void *f : fns) if (f == nullptr) return 1;
  return 0;
}
CPP
# shellcheck disable=SC2046
g++ -std=c++11 -Wall -Wextra -Werror -o headers headers.cpp $(pkg-config --cflags --libs torchlet-lua)
./headers
# shellcheck disable=SC2046
g++ -std=c++11 -Wall -Wextra -Werror -o host_cpp "$repo/examples/cpp/host.cpp" \
  $(pkg-config --cflags --libs torchlet-lua)
env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 ./host_cpp

# the layout doc/embedding.md promises
for f in bin/torchlet lib/libtorchlet.a lib/libtorchlet_viz.a lib/libtorchlet_lua.a \
         include/torchlet/torchlet.h include/torchlet/torchlet_lua.h \
         include/torchlet/tl_nn.h include/torchlet/tl_optim.h \
         include/torchlet/tl_checkpoint.h \
         include/torchlet/tl_loss.h include/torchlet/tl_viz.h \
         include/torchlet/tl_plot.h include/torchlet/tl_interop.h \
         lib/lua/5.4/torchlet/core.so share/lua/5.4/torchlet/init.lua \
         lib/lua/5.3/torchlet/core.so share/lua/5.3/torchlet/init.lua \
         lib/lua/5.1/torchlet/core.so share/lua/5.1/torchlet/init.lua \
         lib/pkgconfig/torchlet.pc lib/pkgconfig/torchlet-viz.pc \
         lib/pkgconfig/torchlet-lua.pc share/doc/torchlet/LICENSE; do
  [ -e "$prefix/$f" ] || { echo "install_test: missing $f" >&2; exit 1; }
done
[ ! -e "$prefix/include/torchlet/internal.h" ] ||
  { echo "install_test: internal.h was installed" >&2; exit 1; }

# uninstall leaves nothing of ours behind
"$repo/setup.sh" uninstall "$prefix" >/dev/null
left=$(find "$prefix" -name '*torchlet*')
[ -z "$left" ] || { echo "install_test: uninstall left $left" >&2; exit 1; }

# 6. without graphviz and cairo, built from a copy (switching the
# repository's own build/ would change what the other checks run)
nv=$tmp/noviz
mkdir -p "$tmp/src"
tar -C "$repo" --exclude=./build --exclude=./.git -cf - . | tar -C "$tmp/src" -xf -
"$tmp/src/setup.sh" install --no-viz "$nv" >/dev/null
for f in bin/torchlet lib/lua/5.4/torchlet/core.so lib/lua/5.3/torchlet/core.so \
         lib/lua/5.1/torchlet/core.so; do
  if readelf -d "$nv/$f" | grep -E 'NEEDED.*(gvc|cgraph|cairo)'; then
    echo "install_test: the --no-viz $f needs a drawing library" >&2; exit 1
  fi
done
for pc in torchlet torchlet-viz torchlet-lua; do
  case "$(PKG_CONFIG_PATH="$nv/lib/pkgconfig" pkg-config --libs "$pc")" in
    *gvc*|*cgraph*|*cairo*) echo "install_test: --no-viz $pc.pc links drawing" >&2; exit 1;;
  esac
done
LUA_PATH="$nv/share/lua/5.4/?.lua;$nv/share/lua/5.4/?/init.lua" \
LUA_CPATH="$nv/lib/lua/5.4/?.so" lua5.4 fit.lua "$nv"
for vm in lua5.3 lua5.1 luajit; do other_vm "$nv" "$vm"; done
env -u LUA_PATH -u LUA_CPATH "$nv/bin/torchlet" fit.lua "$nv"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o host_noviz host.c \
  $(PKG_CONFIG_PATH="$nv/lib/pkgconfig" pkg-config --cflags --libs torchlet-lua)
[ "$(env -u LUA_PATH -u LUA_CPATH ./host_noviz)" = 6 ] ||
  { echo "install_test: doc/embedding.md's C host did not print 6 (--no-viz)" >&2; exit 1; }
# drawing: an error saying why, and no file written
drawn=$("$nv/bin/torchlet" -e '
  local e = torchlet.Element(2, "a") * 3
  local file = os.tmpname() .. ".png"
  for _, call in ipairs{function() return e:visualize("cairo", {file = file}) end,
                        function() return e:visualize("graphviz", {file = file}) end,
                        function() return torchlet.plot.line({1, 2, 3}, {file = file}) end} do
    local ok, err = pcall(call)
    assert(not ok, "drawing worked without graphviz and cairo")
    assert(not io.open(file), "a file was written")
    print(err)
  end')
n=$(printf '%s\n' "$drawn" | grep -c "built without them" || true)
[ "$n" = 3 ] || { echo "install_test: --no-viz drawing said: $drawn" >&2; exit 1; }
"$tmp/src/setup.sh" uninstall "$nv" >/dev/null
left=$(find "$nv" -name '*torchlet*')
[ -z "$left" ] || { echo "install_test: uninstall left $left (--no-viz)" >&2; exit 1; }
echo "install_test: all uses of the installs under $prefix and $nv (--no-viz) work, and uninstall removes them"
