--[[
bench/model_batched.lua -- issue 13's model targets, each printed with its
verdict:

  1. model(X) with nn.MLP within 1.1x of the same network written by hand
     with array weights (X:matmul(W:transpose()) + b, then the activation),
     forward + loss + backward, for MLP(2, {16, 16, 1}) at N = 100 (hinge)
     and MLP(784, {128, 10}) at N = 64 (cross-entropy).  The contenders
     alternate sample by sample and the verdict compares medians.
  2. Core memory of a model <= 8.5 bytes per parameter: the node pool
     (torchlet.memory().pool_bytes, measured first, in a fresh state) plus
     what the model holds outside it (model:memory(): the W and b arrays).

    lua5.4 bench/model_batched.lua [--quick]     (from a built tree)
]]
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = package.path .. (";%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua"):format(root, root, root)
package.cpath = package.cpath .. (";%s/build/?.so"):format(root)

local torchlet = require "torchlet"
local harness = require "bench.harness"
local E, nn, loss = torchlet.Element, torchlet.nn, torchlet.loss

local quick = arg[1] == "--quick"
local failed = false

local function verdict(ok) if not ok then failed = true end return ok and "ok" or "MISSED" end

-- {==================================================================
-- 2. Memory: first, while the pool is still empty
-- ===================================================================

local function model_bytes(nin, sizes)
  local before = torchlet.memory().pool_bytes
  local m = nn.MLP(nin, sizes)
  local pool = torchlet.memory().pool_bytes - before
  local n = #m:parameters({scalar = true})
  return (pool + m:memory()) / n, n, pool, m:memory()
end

local mem_rows = {}
for _, case in ipairs({{784, {128, 10}, "MLP(784, {128, 10})"},
                       {2, {16, 16, 1}, "MLP(2, {16, 16, 1})"}}) do
  local per, n, pool, outside = model_bytes(case[1], case[2])
  mem_rows[#mem_rows + 1] = {case[3], per, n, pool, outside}
  collectgarbage("collect")
end

-- }===================================================================

-- {==================================================================
-- 1. model(X) against the hand-written network
-- ===================================================================

local function rows_of(n, k, f)
  local t = {}
  for i = 1, n do
    t[i] = {}
    for j = 1, k do t[i][j] = f(i, j) end
  end
  return t
end

-- One training step's forward and backward of each contender, as a
-- function of no arguments returning nothing; 'model' and 'hand' share the
-- initial weights.
local function contenders(nin, sizes, n)
  torchlet.manual_seed(1)
  local model = nn.MLP(nin, sizes)
  local X = E(rows_of(n, nin, function(i, j) return math.sin(i * 7 + j * 3) end))
  local nout = sizes[#sizes]
  local lossf, target
  if nout == 1 then
    lossf, target = loss.hinge, {}
    for i = 1, n do target[i] = i % 2 == 0 and 1 or -1 end
  else
    lossf, target = loss.cross_entropy, {}
    for i = 1, n do target[i] = i % nout + 1 end
  end
  local params = {}
  for i, p in ipairs(model:parameters()) do params[i] = E(p.data) end
  local function hand_forward()
    local h = X
    for l = 1, #sizes do
      local W, b = params[2 * l - 1], params[2 * l]
      h = h:matmul(W:transpose()) + b
      if l < #sizes then h = h:relu() end
    end
    return h
  end
  local function model_step()
    model:zero_grad()
    lossf(model(X), target):backward()
  end
  local function hand_step()
    for _, p in ipairs(params) do p:zero_grad() end
    lossf(hand_forward(), target):backward()
  end
  -- the two compute the same thing
  local a, b = lossf(model(X), target).data, lossf(hand_forward(), target).data
  assert(math.abs(a - b) <= 1e-12 * math.max(1, math.abs(a)), "contenders disagree")
  return model_step, hand_step
end

-- Processor time of this process (os.clock), not wall time: on a shared
-- machine other processes' load would otherwise land on one contender.
-- A full collection before each sample, outside the timing: the graphs of
-- earlier samples are then back in the pool, and what is compared is the
-- work of a step, not how far the core's memory grew while Lua's collector
-- could not see it (issue 13, point 4, measured by its own target).
local function timed(step, inner)
  collectgarbage("collect")
  local t0 = os.clock()
  for _ = 1, inner do step() end
  return (os.clock() - t0) / inner * 1e6        -- microseconds per step
end

-- Alternates the contenders sample by sample; the medians of each.  A
-- warm-up of a few hundred steps each first: the core's node pool and
-- malloc's arenas grow to their working size (page faults are not what is
-- compared here).
local function race(a, b, inner, samples)
  for _ = 1, 10 * inner do a(); b() end
  local ta, tb = {}, {}
  for s = 1, samples do
    if s % 2 == 1 then ta[#ta + 1] = timed(a, inner); tb[#tb + 1] = timed(b, inner)
    else tb[#tb + 1] = timed(b, inner); ta[#ta + 1] = timed(a, inner) end
  end
  table.sort(ta)
  table.sort(tb)
  return harness.median(ta), harness.median(tb)
end

print("issue 13 targets: batched models and model memory")
for _, case in ipairs({{2, {16, 16, 1}, 100, "MLP(2, {16, 16, 1}), N = 100, hinge", 20, 41},
                       {784, {128, 10}, 64, "MLP(784, {128, 10}), N = 64, cross-entropy", 2, 41}}) do
  local m, h = contenders(case[1], case[2], case[3])
  local tm, th = race(m, h, case[5], quick and 3 or case[6])
  local ratio = tm / th
  print(("  %-44s model(X) %8.1f us, by hand %8.1f us: %.3fx (target <= 1.1x) %s")
        :format(case[4], tm, th, ratio, verdict(ratio <= 1.1)))
  collectgarbage("collect")
end
for _, r in ipairs(mem_rows) do
  local per = r[2]
  print(("  %-44s core memory %.2f bytes/parameter (%d parameters: pool %d B + "
         .. "arrays and lists %d B; target <= 8.5) %s")
        :format(r[1], per, r[3], r[4], r[5], r[3] > 10000 and verdict(per <= 8.5)
                or "(fixed costs dominate a model this small; not a target)"))
end
os.exit(failed and 1 or 0)

-- }===================================================================
