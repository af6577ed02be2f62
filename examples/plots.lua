-- examples/plots.lua -- exercises torchlet.plot on made-up data:
--   plot_loss.png      two loss curves with a legend
--   plot_scatter.png   two noisy half moons, coloured by class
--   plot_boundary.png  the regions a hand-made classifier gives each class
-- The pictures go to the directory given as argument (default: the current
-- one).  Run after ./setup.sh build:  lua5.4 examples/plots.lua /tmp
local root = (arg and arg[0] or ""):match("^(.*)/examples/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath

local torchlet = require "torchlet"
local Element = torchlet.Element
local plot = torchlet.plot
local dir = arg[1] or "."

-- a loss that falls and wobbles, and a validation loss above it
local train, val = {}, {}
for step = 1, 100 do
  train[step] = 2.5 * math.exp(-step / 20) + 0.05 * math.sin(step) + 0.1
  val[step] = train[step] + 0.08 + 0.002 * step
end
print(plot.line({{name = "train", y = train}, {name = "validation", y = val}},
                {title = "Loss", xlabel = "step", ylabel = "loss",
                 file = dir .. "/plot_loss.png"}))

-- two half moons with a little deterministic noise
local X, y, points = {}, {}, {}
math.randomseed(42)                -- the same picture every run
local n = 100
for i = 1, n do
  local upper = i <= n // 2
  local t = math.pi * (i % (n // 2)) / (n // 2)
  local x1 = upper and math.cos(t) or 1 - math.cos(t)
  local x2 = upper and math.sin(t) or 0.5 - math.sin(t)
  x1 = x1 + 0.1 * (2 * math.random() - 1)
  x2 = x2 + 0.1 * (2 * math.random() - 1)
  local class = upper and 1 or -1
  X[i], y[i], points[i] = {x1, x2}, class, {x1, x2, class}
end
print(plot.scatter(points, {title = "Two moons", xlabel = "x1", ylabel = "x2",
                            file = dir .. "/plot_scatter.png"}))

-- any callable works as a model: here a parabola, built from Elements
local function model(x)
  local x1, x2 = Element(x[1]), Element(x[2])
  return (x2 - 0.25) * 4 - (x1 - 0.5) ^ 2
end
print(plot.decision_boundary(model, X, y, {title = "Decision boundary",
                                           xlabel = "x1", ylabel = "x2",
                                           file = dir .. "/plot_boundary.png"}))
