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
collector's share spread over every op.
]]
local clock = require "bench.clock"

local M = {}

-- Options: inner (runs per sample), samples (wanted), budget_s (seconds
-- after which sampling stops, once at least 3 samples are taken).
-- Returns {min =, median =, mean =, samples = n}: microseconds per run.
function M.measure(timed, opts)
  timed(opts.inner)  -- warm-up: pools, caches, scratch arrays
  local t, sum, start = {}, 0, clock.now()
  local budget_ns = opts.budget_s * 1e9
  while #t < opts.samples and (#t < 3 or clock.now() - start < budget_ns) do
    t[#t + 1] = timed(opts.inner) / opts.inner / 1000
    sum = sum + t[#t]
  end
  table.sort(t)
  local n = #t
  local median = n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
  return {min = t[1], median = median, mean = sum / n, samples = n}
end

return M
