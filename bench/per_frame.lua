--[[
bench/per_frame.lua -- what one frame of a game or editor pays: the batch-1
forward pass and training step of MLP(32, {64, 64, 4}), on whichever VM runs
it (Lua 5.4, 5.3, 5.1 or LuaJIT: it loads the module built for that VM from
build/, build/lua5.3/, build/lua5.1/ or build/luajit/).

    lua5.4 bench/per_frame.lua [--quick]
    luajit bench/per_frame.lua [--quick]

The first row is the cost of one call into the binding that does
almost nothing.  Two ways to hand a frame's 32 numbers in: a Lua table (model(x) builds a
neuron node per output, and returns a Lua array of 4 Elements) and a (1 x 32)
array Element (one linear node per layer, a (1 x 4) result).  The training
step is zero_grad, forward, cross-entropy against a class, backward, and an
Adam step.  Each row is the median over 21 samples of the time per call
averaged over a batch of calls, in CPU time (os.clock, the one clock every
VM has), with the collector running as it would in a host.
]]
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
local vm = jit and "luajit" or ({["Lua 5.1"] = "lua5.1", ["Lua 5.3"] = "lua5.3"})[_VERSION]
package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;"):format(root, root) .. package.path
package.cpath = ("%s/build/%s?.so;"):format(root, vm and vm .. "/" or "") .. package.cpath

local torchlet = require "torchlet"
local E, nn, optim, loss = torchlet.Element, torchlet.nn, torchlet.optim, torchlet.loss

local quick = arg and arg[1] == "--quick"
local SAMPLES, CALLS = quick and 5 or 21, quick and 50 or 500

-- median over SAMPLES of the mean time per call of fn over CALLS calls, in µs
local function measure(fn)
  for _ = 1, CALLS do fn() end                  -- warm up (and let LuaJIT trace)
  local times = {}
  for s = 1, SAMPLES do
    local t0 = os.clock()
    for _ = 1, CALLS do fn() end
    times[s] = (os.clock() - t0) / CALLS * 1e6
  end
  table.sort(times)
  return times[(SAMPLES + 1) / 2 - ((SAMPLES + 1) / 2) % 1]
end

torchlet.manual_seed(1)
local model = nn.MLP(32, {64, 64, 4})
local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local x = {}
for i = 1, 32 do x[i] = math.sin(i) end
local X = E({x}, {requires_grad = false})
local class = 3

local rows = {
  -- what crossing into C costs, for comparison with the rows below (a step
  -- makes 5 such calls: zero_grad, model, cross_entropy, backward, step)
  {"one binding call, X:numel()", function() return X:numel() end},
  {"forward, table input", function() return model(x) end},
  {"forward, (1 x 32) array", function() return model(X) end},
  {"forward under no_grad, array", function()
    return torchlet.no_grad(function() return model(X) end) end},
  {"training step, table input", function()
    opt:zero_grad()
    local l = loss.cross_entropy(model(x), class)
    l:backward()
    opt:step()
  end},
  {"training step, (1 x 32) array", function()
    opt:zero_grad()
    local l = loss.cross_entropy(model(X), {class})
    l:backward()
    opt:step()
  end},
}

print(("per_frame: %s, Torchlet %s, MLP(32, {64, 64, 4}), batch 1"):format(
  jit and jit.version or _VERSION, torchlet.core._VERSION))
for _, row in ipairs(rows) do
  print(("  %-32s %9.2f us"):format(row[1], measure(row[2])))
end
