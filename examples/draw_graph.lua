-- examples/draw_graph.lua -- draws the a/b/c/d example of the README after
-- backward, in both views:
--   images/Digraph.gv.png    graphviz (records and op ellipses)
--   images/example_cairo.png cairo (the quick view; edges show gradients)
-- Run from anywhere after ./setup.sh build:  lua5.4 examples/draw_graph.lua
local root = (arg and arg[0] or ""):match("^(.*)/examples/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath

local torchlet = require "torchlet"
local Element = torchlet.Element

local a = Element(2.0, "a")
local b = Element(3.0, "b")
local c = a * b
c.label = "c"
local d = c + a
d.label = "d"
d:backward()

print(d:visualize("graphviz", {file = root .. "/images/Digraph.gv.png"}))
print(d:visualize("cairo", {file = root .. "/images/example_cairo.png"}))
