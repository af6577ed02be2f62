--[[
bench/harness.lua -- turns a timed function into a minimum and a median.

A row's timed function takes 'inner', runs its operation that many times
and returns the nanoseconds spent in the part it times (setup such as
building the graph to differentiate stays outside).  One sample is the mean
over 'inner' runs; single timings are noise, so a row takes many samples
after a warm-up and reports their minimum and median.

The garbage collector is left running: collecting the results of an op is
part of what an op costs in Lua, and the median shows that share (the
minimum is the sample that paid least of it).
]]
local clock = require "bench.clock"

local M = {}

-- Options: inner (runs per sample), samples (wanted), budget_s (seconds
-- after which sampling stops, once at least 3 samples are taken).
-- Returns {min = us, median = us, samples = n}: microseconds per run.
function M.measure(timed, opts)
  timed(opts.inner)  -- warm-up: pools, caches, scratch arrays
  local t, start = {}, clock.now()
  local budget_ns = opts.budget_s * 1e9
  while #t < opts.samples and (#t < 3 or clock.now() - start < budget_ns) do
    t[#t + 1] = timed(opts.inner) / opts.inner / 1000
  end
  table.sort(t)
  local n = #t
  local median = n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
  return {min = t[1], median = median, samples = n}
end

return M
