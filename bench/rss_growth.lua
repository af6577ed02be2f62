-- bench/rss_growth.lua -- resident memory over a long training loop.
--
--   lua5.4 bench/rss_growth.lua [STEPS] [WARMUP]       default 100000, 1000
--
-- Trains a small MLP for STEPS steps (scalar path and batched path
-- alternating) and compares the resident set size after WARMUP steps with
-- the one at the end.  Prints the figures and exits 1 if it grew by 5% or
-- more: a leak of even a few bytes per step shows over 100,000 steps.
--
-- A full collection every 100 steps bounds the garbage waiting for the
-- collector: otherwise how many dead graphs pile up before a cycle depends
-- on the collector's timing, and one more 256 KB block in the node pool
-- (kept for reuse, not leaked) is 3% of this 9 MB process.
local torchlet = require "torchlet"
local nn, optim, loss, data = torchlet.nn, torchlet.optim, torchlet.loss, torchlet.data

local steps = math.tointeger(tonumber(arg[1] or "100000"))
local warmup = math.tointeger(tonumber(arg[2] or "1000"))
assert(steps and warmup and warmup < steps, "usage: rss_growth.lua [STEPS] [WARMUP]")

local rss_kb = require("bench.rss").kb

torchlet.manual_seed(1)
local X, y = data.make_moons(16, {noise = 0.1, seed = 1})
local batch = torchlet.Element(X)
local model = nn.MLP(2, {8, 1})
local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local base
local t0 = os.clock()
for step = 1, steps do
  local l
  if step % 2 == 0 then
    l = loss.hinge(model(batch), y)
  else
    local scores = {}
    for i = 1, #X do scores[i] = model(X[i]) end
    l = loss.hinge(scores, y) + 1e-4 * model:l2()
  end
  opt:zero_grad()
  l:backward()
  opt:step()
  if step % 100 == 0 then collectgarbage() end
  if step == warmup then
    collectgarbage()
    base = rss_kb()
  end
end
collectgarbage()
local final = rss_kb()
local growth = (final - base) / base * 100
print(("rss after %d warm-up steps: %d kB; after %d steps: %d kB; growth %.2f%% (%.1f s)")
  :format(warmup, base, steps, final, growth, os.clock() - t0))
os.exit(growth < 5 and 0 or 1)
