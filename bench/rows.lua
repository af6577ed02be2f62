--[[
bench/rows.lua -- the rows of the table, written once for every
implementation (bench/impls.lua).  The first six are the original's
(its benchmark.py), with its numbers as "initial"; then the extra rows.

Each row: id, title, initial (the original's µs, or nil), needs (the
capability it uses: "scalar", "graph", "mlp", "moons", "batched"), inner (runs per
sample), samples and budget_s (see bench/harness.lua), and setup(impl),
which returns the timed function: timed(inner) -> nanoseconds.
]]
local clock = require "bench.clock"
local moons = require "bench.moons"

local now = clock.now
local MLP_X = {1, 2, 3}
local SEED = 1

local function binary_row(id, title, initial, op)
  return {
    id = id, title = title, initial = initial, needs = "scalar",
    inner = 1000, samples = 300, budget_s = 1,
    setup = function(impl)
      local a, b = impl.scalar(2), impl.scalar(3)
      if op == "add" then
        return function(n)
          local t0 = now()
          for _ = 1, n do local _ = a + b end
          return now() - t0
        end
      end
      return function(n)
        local t0 = now()
        for _ = 1, n do local _ = a * b end
        return now() - t0
      end
    end,
  }
end

-- One full training step on the moons (forward over the 100 points, hinge
-- + 1e-4 L2, zero_grad, backward, SGD step), made by impl[maker](X, y).
-- 500 samples: the collector frees a dozen or more steps' graphs at once,
-- so a block of the amortized time must span several cycles.
local function moons_row(id, title, needs, maker)
  return {
    id = id, title = title, needs = needs, inner = 1, samples = 500, budget_s = 3,
    setup = function(impl)
      local X, y = moons.data()
      impl.seed(SEED)
      local step = impl[maker](X, y)
      return function(n)
        local t0 = now()
        for _ = 1, n do step() end
        return now() - t0
      end
    end,
  }
end

local function mlp(impl)
  impl.seed(SEED)
  return impl.mlp(3, {4, 4, 1})
end

return {
  binary_row("add", "Addition (1K ops)", 5.127, "add"),
  binary_row("mul", "Multiplication (1K ops)", 4.892, "mul"),
  {
    id = "backward", title = "Backward Pass", initial = 154.600,
    needs = "graph", inner = 100, samples = 300, budget_s = 1,
    -- one backward() of c = a*b + a, over fresh graphs built untimed
    setup = function(impl)
      local graphs = {}
      return function(n)
        for i = 1, n do
          local a, b = impl.scalar(2), impl.scalar(3)
          graphs[i] = a * b + a
        end
        local t0 = now()
        for i = 1, n do graphs[i]:backward() end
        return now() - t0
      end
    end,
  },
  {
    id = "mlp_forward", title = "MLP Forward Pass (100 runs)", initial = 413.949,
    needs = "mlp", inner = 100, samples = 300, budget_s = 1.5,
    -- MLP(3, {4, 4, 1}) on x = {1, 2, 3}
    setup = function(impl)
      local model = mlp(impl)
      return function(n)
        local t0 = now()
        for _ = 1, n do local _ = model(MLP_X) end
        return now() - t0
      end
    end,
  },
  {
    id = "mlp_backward", title = "MLP Backward Pass", initial = 884.800,
    needs = "mlp", inner = 100, samples = 300, budget_s = 1.5,
    -- one backward of model(x) * 1.0, over outputs built untimed
    setup = function(impl)
      local model, outs = mlp(impl), {}
      return function(n)
        for i = 1, n do outs[i] = model(MLP_X) * 1.0 end
        local t0 = now()
        for i = 1, n do outs[i]:backward() end
        return now() - t0
      end
    end,
  },
  {
    id = "zero_grad", title = "Zero Grad (100 runs)", initial = 5.948,
    needs = "mlp", inner = 100, samples = 300, budget_s = 1,
    setup = function(impl)
      local model = mlp(impl)
      return function(n)
        local t0 = now()
        for _ = 1, n do model:zero_grad() end
        return now() - t0
      end
    end,
  },
  moons_row("moons_step", "Moons training step, MLP(2,{16,16,1}), 100 points",
            "moons", "moons_step"),
  -- the same step with the points as one array Element: one matmul per
  -- layer instead of one node per neuron and point
  moons_row("moons_step_batched", "Moons training step, batched (one 100×2 array)",
            "batched", "moons_step_batched"),
}
