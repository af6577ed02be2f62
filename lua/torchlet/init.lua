--[[
torchlet -- reverse-mode automatic differentiation with a C core.

    local torchlet = require "torchlet"
    local a = torchlet.Element(2.0, "a")

The C part is the submodule torchlet.core; this file re-exports it and adds
what is easier to write in Lua.  It sets no globals.
]]
local core = require "torchlet.core"

local M = {}
for k, v in pairs(core) do M[k] = v end
M.core = core
M.plot = require "torchlet.plot"

return M
