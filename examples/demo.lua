-- examples/demo.lua -- the a/b/c/d example of the original README.
local torchlet = require "torchlet"
local Element = torchlet.Element

local a = Element(2.0, "a")
local b = Element(3.0, "b")
local c = a * b
c.label = "c"
local d = c + a
d.label = "d"
d:backward()
print("d = a*b + a =", d)
print("dd/da =", a.grad, "dd/db =", b.grad)
