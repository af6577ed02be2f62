--[[
bench/moons.lua -- the 100 moons points of the training-step row, the same
for every implementation: torchlet.data.make_moons when it is built (what
a Torchlet user trains on), otherwise a plain-Lua generator of the same
shape (two interleaving half circles, noise 0.1, labels -1 and 1).
]]
local M = {}

local N, NOISE, SEED = 100, 0.1, 1

-- A standard normal number from math.random (Box-Muller).
local function normal()
  local u1, u2 = 1 - math.random(), math.random()
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

function M.make_moons(n)
  math.randomseed(SEED)
  local X, y = {}, {}
  local half = math.floor(n / 2)
  for i = 1, n do
    local upper = i <= half
    local t = math.pi * ((upper and i - 1 or i - 1 - half) / math.max(half - 1, 1))
    local x1 = upper and math.cos(t) or 1 - math.cos(t)
    local x2 = upper and math.sin(t) or 0.5 - math.sin(t)
    X[i] = {x1 + NOISE * normal(), x2 + NOISE * normal()}
    y[i] = upper and -1 or 1
  end
  return X, y
end

-- X, y and where they came from.
function M.data()
  local ok, torchlet = pcall(require, "torchlet")
  if ok and torchlet.data and torchlet.data.make_moons then
    local X, y = torchlet.data.make_moons(N, {noise = NOISE, seed = SEED})
    return X, y, "torchlet.data.make_moons"
  end
  local X, y = M.make_moons(N)
  return X, y, "bench/moons.lua"
end

return M
