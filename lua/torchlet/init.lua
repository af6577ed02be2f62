--[[
torchlet -- reverse-mode automatic differentiation with a C core.

    local torchlet = require "torchlet"
    local a = torchlet.Element(2.0, "a")

The C part is the submodule torchlet.core; this file re-exports it and adds
what is easier to write in Lua.  It sets no globals.

    torchlet.nn      Neuron, Layer, MLP, load, linear   (C: bindings/nn.c),
                     Linear, Sequential, ReLU, ..., Dropout (lua/torchlet/modules.lua)
    torchlet.optim   SGD, RMSprop, Adagrad, Adam, AdamW (C: bindings/optim.c),
                     clip_grad_norm, schedule (lua/torchlet/optim_extra.lua)
    torchlet.loss    mse, hinge, bce, cross_entropy     (C: bindings/loss.c)
    torchlet.data    make_moons, make_circles, make_blobs, batches (lua/torchlet/data.lua)
    torchlet.Function, torchlet.gradcheck             (lua/torchlet/autograd.lua)
    torchlet.compile                                  (lua/torchlet/compile.lua)
]]
local core = require "torchlet.core"
local concat, type = table.concat, type

local M = {}
for k, v in pairs(core) do M[k] = v end
M.core = core
M.plot = require "torchlet.plot"
do
  local autograd = require "torchlet.autograd"
  M.Function, M.gradcheck = autograd.Function, autograd.gradcheck
end
M.data = require "torchlet.data"
M.compile = require("torchlet.compile").compile
-- The Lua part of optim joins the C part's table, so torchlet.optim and
-- torchlet.core.optim stay one table.
for k, v in pairs(require "torchlet.optim_extra") do core.optim[k] = v end
-- Likewise the modules (Linear, Sequential, activations, Dropout) join nn.
for k, v in pairs(require "torchlet.modules") do core.nn[k] = v end

-- Nested value tables (x.data, x.grad, x:totable() of arrays) print as
-- [[1, 2], [3, 4]], rows of a matrix on lines of their own.
local function format_values(t, depth)
  local parts = {}
  for i = 1, #t do
    local v = t[i]
    parts[i] = type(v) == "table" and format_values(v, depth + 1)
               or core.format_number(v, 4)
  end
  -- a matrix's rows one per line; a vector's values on one line
  local rows = depth == 0 and type(t[1]) == "table"
  return "[" .. concat(parts, rows and ",\n " or ", ") .. "]"
end
core.values_meta.__tostring = function(t) return format_values(t, 0) end

return M
