--[[
torchlet -- reverse-mode automatic differentiation with a C core.

    local torchlet = require "torchlet"
    local a = torchlet.Element(2.0, "a")

The C part is the submodule torchlet.core; this file re-exports it and adds
what is easier to write in Lua.  It sets no globals.

    torchlet.nn      Neuron, Layer, MLP, load          (C: bindings/nn.c)
    torchlet.optim   SGD, RMSprop, Adagrad, Adam, AdamW (C: bindings/optim.c)
    torchlet.loss    mse, hinge, bce, cross_entropy     (C: bindings/loss.c)
    torchlet.data    make_moons, make_circles, make_blobs (lua/torchlet/data.lua)
]]
local core = require "torchlet.core"

local M = {}
for k, v in pairs(core) do M[k] = v end
M.core = core
M.data = require "torchlet.data"

return M
