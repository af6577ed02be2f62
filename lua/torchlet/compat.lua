--[[
torchlet.compat -- the few things the pure-Lua modules need that Lua 5.1 and
LuaJIT 2.1 spell differently from Lua 5.3 and 5.4.  Every file in lua/ is
written in the Lua 5.1 subset (no //, no bitwise operators, no goto, no
integer-only library functions) and reaches the rest through here.
]]
local type, floor = type, math.floor
local tointeger = math.tointeger

local M = {}

-- An integral number as an integer where the VM has the subtype (5.3+),
-- as itself where numbers are all floats (5.1, LuaJIT); nil for anything
-- else (fractions, NaN, infinities, strings), as math.tointeger does.
if tointeger then
  function M.to_integer(x)
    if type(x) == "number" then return tointeger(x) end
    return nil
  end
else
  function M.to_integer(x)
    if type(x) == "number" and x == floor(x) and x >= -2 ^ 63 and x < 2 ^ 63 then
      return x
    end
    return nil
  end
end

M.unpack = table.unpack or unpack   -- luacheck: ignore (5.1's global)

return M
