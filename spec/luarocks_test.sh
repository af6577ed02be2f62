#!/usr/bin/env bash
# spec/luarocks_test.sh -- `luarocks make` of rockspec/torchlet-scm-1.rockspec
# into a temporary tree, without network, for Lua 5.4 and for Lua 5.1, then
# a script from another directory through that tree only: with lua5.4, and
# with lua5.1 and luajit (LuaJIT loads the module built for 5.1's C API).
# The builtin backend compiles in the source tree, so each build runs on a
# copy of the checkout of its own.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/elsewhere"
# every module of lua/torchlet, by name: torchlet, torchlet.data ...
modules=$(cd "$repo/lua" && find torchlet -name '*.lua' |
  sed 's|/init\.lua$||; s|\.lua$||; s|/|.|g' | tr '\n' ' ')

# Builds the rock for Lua $1 into $tmp/tree.
make_rock() {
  local src="$tmp/src$1"
  mkdir "$src"
  cp -r "$repo/core" "$repo/bindings" "$repo/lua" "$repo/rockspec" "$repo/README.md" "$src/"
  (cd "$src" &&
    luarocks --lua-version="$1" make rockspec/torchlet-scm-1.rockspec \
      --tree="$tmp/tree" >"$tmp/luarocks$1.log" 2>&1) ||
    { cat "$tmp/luarocks$1.log" >&2; exit 1; }
}

# Runs the check script with interpreter $2 through the tree's Lua $1 part.
use_rock() {
  local lv=$1 lua=$2 share="$tmp/tree/share/lua/$1"
  # shellcheck disable=SC2086  # the module names are meant to split
  (cd "$tmp/elsewhere" &&
    LUA_PATH="$share/?.lua;$share/?/init.lua" LUA_CPATH="$tmp/tree/lib/lua/$lv/?.so" \
      "$lua" - "$tmp/tree" $modules) <<'LUA'
local tree = ...
-- package.searchpath is 5.2's (LuaJIT has it, 5.1 not)
local function searchpath(name, path)
  for pattern in path:gmatch("[^;]+") do
    local file = pattern:gsub("%?", (name:gsub("%.", "/")))
    local f = io.open(file)
    if f then f:close(); return file end
  end
end
local function from_tree(name, path)
  local found = assert(searchpath(name, path), name .. " is not installed")
  assert(found:sub(1, #tree) == tree, name .. " comes from " .. found)
end
from_tree("torchlet.core", package.cpath)
for i = 2, select("#", ...) do
  local name = select(i, ...)
  from_tree(name, package.path)
  require(name)
end
local torchlet = require "torchlet"
local x = torchlet.Element(3)
local y = x * x + 2 * x
y:backward()
assert(x.grad == 8, "d(x^2 + 2x)/dx at 3 is 8, got " .. x.grad)
print("luarocks_test: the rock works on " .. (rawget(_G, "jit") and jit.version or _VERSION)
      .. ", dy/dx = " .. x.grad)
LUA
}

make_rock 5.4
use_rock 5.4 lua5.4
make_rock 5.1
use_rock 5.1 lua5.1
use_rock 5.1 luajit
