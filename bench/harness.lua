--[[
bench/harness.lua -- turns a timed function into a minimum and a median.

A row's timed function takes 'inner', runs its operation that many times
and returns the nanoseconds spent in the part it times (setup such as
building the graph to differentiate stays outside).  One sample is the mean
over 'inner' runs; single timings are noise, so a row takes many samples
after a warm-up and reports their minimum and median.

The garbage collector is left running: collecting the results of an op is
part of what an op costs in Lua.  Its work comes in bursts (a cycle, then
the finalizers of the objects it found dead), so a few samples carry most
of it: the minimum is the sample that paid least, the median may or may not
include it, and the mean over all samples is the steady-state cost with the
collector's share spread over every op -- but on a shared machine one
preempted sample moves the mean as much as a collection does.  So the
figure used for ratios is 'amortized': the samples, in the order they were
taken, are cut into BLOCKS runs of consecutive samples; each block's mean
carries its share of collections, and the median of the block means
ignores the few blocks a busy machine spoils (a median of means).
]]
local clock = require "bench.clock"

local M = {}

local BLOCKS = 10

-- Options: inner (runs per sample), samples (wanted), budget_s (seconds
-- after which sampling stops, once at least 3 samples are taken).
-- Returns {min =, median =, mean =, amortized =, samples = n}: microseconds
-- per run.
function M.measure(timed, opts)
  timed(opts.inner)  -- warm-up: pools, caches, scratch arrays
  local t, sum, start = {}, 0, clock.now()
  local budget_ns = opts.budget_s * 1e9
  while #t < opts.samples and (#t < 3 or clock.now() - start < budget_ns) do
    t[#t + 1] = timed(opts.inner) / opts.inner / 1000
    sum = sum + t[#t]
  end
  local n = #t
  local amortized = M.median(M.block_means(t, BLOCKS))
  table.sort(t)
  return {min = t[1], median = M.median(t), mean = sum / n, amortized = amortized,
          samples = n}
end

-- The median of a sorted array.
function M.median(sorted)
  local n = #sorted
  local half = math.floor(n / 2)     -- no // on Lua 5.1 (spec/bench_spec.lua runs there)
  if n % 2 == 1 then return sorted[half + 1] end
  return (sorted[half] + sorted[half + 1]) / 2
end

-- The q-quantile of xs (unsorted; not changed): the smallest value with at
-- least a fraction q of them at or below it (p90: q = 0.9).
function M.quantile(xs, q)
  local s = {}
  for i = 1, #xs do s[i] = xs[i] end
  table.sort(s)
  return s[math.max(1, math.ceil(q * #s))]
end

-- The mean of xs.
function M.mean(xs)
  local s = 0
  for i = 1, #xs do s = s + xs[i] end
  return s / #xs
end

-- The means of at most 'blocks' runs of consecutive values of 't' (fewer
-- when 't' is shorter; the last block takes the remainder), sorted.
function M.block_means(t, blocks)
  local size = math.max(1, math.floor((#t + blocks - 1) / blocks))
  local means = {}
  local i = 1
  while i <= #t do
    local last = #t - i + 1 < 2 * size and #t or i + size - 1
    local sum = 0
    for j = i, last do sum = sum + t[j] end
    means[#means + 1] = sum / (last - i + 1)
    i = last + 1
  end
  table.sort(means)
  return means
end

return M
