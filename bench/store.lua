--[[
bench/store.lua -- JSON files of results, as the original kept them:
the last run (bench/results/latest.json), the best result per row
(bench/benchmark_data/best.json) and the titled log of updates
(bench/benchmark_log.json).  Files are written to a temporary name and
renamed, so an interrupted run never leaves half a file.
]]
local json = require "dkjson"

local M = {}

-- Keys in this order first, so files diff well from one run to the next.
local KEYORDER = {"title", "date", "cpu", "cores", "compiler", "lua", "git",
                  "subject", "module", "moons_data", "torch",
                  "meta", "id", "unit", "initial", "rows", "results",
                  "add", "mul", "backward", "mlp_forward", "mlp_backward",
                  "zero_grad", "moons_step", "moons_step_batched", "chain", "node_bytes",
                  "torchlet", "c_core", "c_free", "pool", "plain", "floor",
                  "floor_gc", "min", "median", "mean", "amortized", "samples", "na"}

function M.encode(value)
  return json.encode(value, {indent = true, keyorder = KEYORDER})
end

function M.write(path, value)
  local dir = path:match("^(.*)/[^/]*$")
  if dir then os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  assert(f:write(M.encode(value), "\n"))
  assert(f:close())
  assert(os.rename(tmp, path))
end

-- The decoded file, 'default' if it does not exist; a file that exists
-- but is not JSON is an error (never silently replaced).
function M.read(path, default)
  local f = io.open(path)
  if f == nil then return default end
  local text = f:read("a")
  f:close()
  local value, _, err = json.decode(text)
  if err then error(("%s: not valid JSON: %s"):format(path, err), 0) end
  return value
end

-- The implementations whose results are kept: Torchlet from Lua and C.
local KEPT = {"torchlet", "c_core"}

-- Keeps in 'best' (a table keyed by row id) the lower minimum per row and
-- implementation; returns the ids that improved.
function M.merge_best(best, result)
  local improved = {}
  for _, row in ipairs(result.rows) do
    for _, impl in ipairs(KEPT) do
      local r = row.results[impl]
      if r and not r.na then
        best[row.id] = best[row.id] or {title = row.title, unit = row.unit}
        local old = best[row.id][impl]
        if old == nil or r.min < old.min then
          best[row.id][impl] = {min = r.min, median = r.median, amortized = r.amortized,
                                date = result.meta.date, git = result.meta.git}
          improved[#improved + 1] = row.id .. "/" .. impl
        end
      end
    end
  end
  return improved
end

-- One log entry: the title, the facts, and each row's minimum and median.
function M.log_entry(title, result)
  local rows = {}
  for _, row in ipairs(result.rows) do
    local kept = {}
    for _, impl in ipairs(KEPT) do
      local r = row.results[impl]
      if r and not r.na then kept[impl] = {min = r.min, median = r.median, amortized = r.amortized} end
    end
    rows[row.id] = kept
  end
  local m = result.meta
  return {title = title, date = m.date, cpu = m.cpu, cores = m.cores,
          compiler = m.compiler, lua = m.lua, git = m.git, rows = rows}
end

return M
