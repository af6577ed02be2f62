#!/usr/bin/env bash
# spec/luarocks_test.sh -- `luarocks make` of rockspec/torchlet-scm-1.rockspec
# into a temporary tree, without network, then a script from another
# directory through that tree only.  The builtin backend compiles in the
# source tree, so it runs on a copy of the checkout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src" "$tmp/elsewhere"
cp -r "$repo/core" "$repo/bindings" "$repo/lua" "$repo/rockspec" "$repo/README.md" "$tmp/src/"
(cd "$tmp/src" &&
  luarocks --lua-version=5.4 make rockspec/torchlet-scm-1.rockspec \
    --tree="$tmp/tree" >"$tmp/luarocks.log" 2>&1) ||
  { cat "$tmp/luarocks.log" >&2; exit 1; }
# every module of lua/torchlet, by name: torchlet, torchlet.data ...
modules=$(cd "$repo/lua" && find torchlet -name '*.lua' |
  sed 's|/init\.lua$||; s|\.lua$||; s|/|.|g' | tr '\n' ' ')
cd "$tmp/elsewhere"
LUA_PATH="$tmp/tree/share/lua/5.4/?.lua;$tmp/tree/share/lua/5.4/?/init.lua" \
LUA_CPATH="$tmp/tree/lib/lua/5.4/?.so" lua5.4 - "$tmp/tree" $modules <<'LUA'
local tree = ...
local function from_tree(name, path)
  local found = assert(package.searchpath(name, path), name .. " is not installed")
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
print("luarocks_test: the rock works, dy/dx = " .. x.grad)
LUA
