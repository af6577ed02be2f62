--[[
bench/run.lua -- Torchlet's benchmarks: the original's six rows plus the
moons training step, the million chain and the memory of a node; prints
the original's table and writes the result as JSON.

    ./setup.sh bench [options]          (builds first)
    lua5.4 bench/run.lua [options]      (from a built tree, any directory)

    --compare      also run plain Lua (bench/plain.lua) and the floor
                   (bench/floor.c, also with an empty __gc) on the same
                   rows, in this process, and
                   print the ratios and the targets; if a python3 can
                   import torch, add PyTorch's numbers (bench/compare_torch.py;
                   TORCHLET_BENCH_PYTHON=/path/to/python picks it, =none skips)
    --update       keep the best result per row in
                   bench/benchmark_data/best.json and append an entry to
                   bench/benchmark_log.json (no prompt)
    --title TEXT   the log entry's title (default: the last commit's subject)
    --json PATH    where to write this run (default bench/results/latest.json)
    --quick        3 samples per row: checks that everything runs, measures
                   nothing worth keeping (refused with --update)

After the tables it runs bench/model_batched.lua (issue 13's model
targets: model(X) against the same network by hand, bytes per parameter)
and prints its verdicts; with --compare, then bench/speed_targets.lua
(issue 14's targets against PyTorch, about 80 s; --quick passes on).

Rows that need torchlet.nn read "n/a (torchlet.nn not built)" until it is.
]]
-- The tree this file is in, found from its own path, so the command works
-- from any directory; LUA_PATH and LUA_CPATH, when set, still come first
-- (LUA_CPATH='build/debug/?.so;;' runs the debug build).
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = package.path .. (";%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua"):format(root, root, root)
package.cpath = package.cpath .. (";%s/build/?.so"):format(root)

local harness = require "bench.harness"
local impls = require "bench.impls"
local meta = require "bench.meta"
local moons = require "bench.moons"
local report = require "bench.report"
local rows = require "bench.rows"
local store = require "bench.store"

local USAGE = "usage: lua5.4 bench/run.lua [--compare] [--update] [--title TEXT] [--json PATH] [--quick]"

local function parse_args(argv)
  local opts = {json = root .. "/bench/results/latest.json"}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--compare" then opts.compare = true
    elseif a == "--update" then opts.update = true
    elseif a == "--quick" then opts.quick = true
    elseif a == "--title" or a == "--json" then
      i = i + 1
      if argv[i] == nil then error(a .. " needs a value\n" .. USAGE, 0) end
      opts[a:sub(3)] = argv[i]
    elseif a == "--help" or a == "-h" then print(USAGE); os.exit(0)
    else error("unknown option " .. a .. "\n" .. USAGE, 0) end
    i = i + 1
  end
  if opts.quick and opts.update then error("--quick results are not kept: drop --update", 0) end
  return opts
end

-- {==================================================================
-- Runners in other processes (the C runner, PyTorch): their lines
-- "row <id> <min> <median> <mean> <amortized> <samples> <unit>" and
-- "meta <k> <v>"
-- ===================================================================

local C_UNITS = {us = true, ns_node = true, bytes = true}

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs 'cmd' and reads its rows; {error = message} if it fails.
local function run_lines(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  local c = {rows = {}, meta = {}}
  if not ok then
    c.error = ("%s failed: %s"):format(cmd, (out:gsub("%s+$", "")))
    return c
  end
  for line in out:gmatch("[^\n]+") do
    local id, mn, md, mean, am, n, unit =
      line:match("^row\t(%S+)\t(%S+)\t(%S+)\t(%S+)\t(%S+)\t(%d+)\t(%S+)$")
    if id and C_UNITS[unit] then
      c.rows[id] = {min = tonumber(mn), median = tonumber(md), mean = tonumber(mean),
                    amortized = tonumber(am), samples = tonumber(n)}
    else
      local key, value = line:match("^meta\t(%S+)\t(.*)$")
      if key then c.meta[key] = value end
    end
  end
  return c
end

local function run_c(quick)
  return run_lines(quote(root .. "/build/bench/bench_core") .. (quick and " --quick" or ""))
end

-- PyTorch's rows, or nil when no python3 at hand imports torch.
local function run_torch(quick)
  local chosen = os.getenv("TORCHLET_BENCH_PYTHON")
  if chosen == "none" then return nil end
  local candidates = chosen and {chosen} or {"python3", "/usr/bin/python3"}
  for _, py in ipairs(candidates) do
    if os.execute(quote(py) .. " -c 'import torch' >/dev/null 2>&1") then
      return run_lines(quote(py) .. " " .. quote(root .. "/bench/compare_torch.py") ..
                       (quick and " --quick" or ""))
    end
  end
  return nil
end

-- }==================================================================

-- The field of an implementation that provides a capability.
local PROVIDES = {mlp = "mlp", moons = "moons_step", batched = "moons_step_batched"}

-- What an implementation lacks for a row, or nil if it can run it.
local function lacks(impl, need)
  if need == "scalar" then return nil end
  local field = PROVIDES[need]
  if field and impl[field] == nil then return impl.missing[need] or "not available" end
  return impl.missing[need]
end

local function run_row(row, impl, quick)
  local why = lacks(impl, row.needs)
  if why then return {na = why} end
  collectgarbage("collect")  -- each implementation starts from a clean heap
  local ok, r = pcall(function()
    local timed = row.setup(impl)
    return harness.measure(timed, {
      inner = row.inner,
      samples = quick and 3 or row.samples,
      budget_s = quick and 0 or row.budget_s,
    })
  end)
  if not ok then return {na = "error: " .. tostring(r)} end
  return r
end

local function node_bytes(impl)
  local why = lacks(impl, "graph")
  if why then return {na = why} end
  local ok, b = pcall(impl.node_bytes)
  if not ok then return {na = "error: " .. tostring(b)} end
  return {min = b, median = b, mean = b, amortized = b, samples = 1}
end

local function main(argv)
  local opts = parse_args(argv)
  local torchlet_impl, err = impls.torchlet()
  if torchlet_impl == nil then error(err .. " (run ./setup.sh build)", 0) end
  local list = {torchlet_impl}
  if opts.compare then
    list[#list + 1] = impls.plain()
    local floor_impl, ferr = impls.floor()
    if floor_impl == nil then error(ferr .. " (run ./setup.sh build)", 0) end
    list[#list + 1] = floor_impl
    list[#list + 1] = impls.floor(true)
  end

  local c = run_c(opts.quick)
  local c_na = c.error and {na = c.error} or nil
  local torch = opts.compare and run_torch(opts.quick) or nil
  local result = {meta = meta.collect(root, arg and arg[-1]), rows = {}}
  result.meta.compiler = c.meta.compiler or "unknown"
  result.meta.torch = torch and torch.meta.torch or nil
  -- which build was measured (LUA_CPATH may point at another tree's)
  result.meta.module = package.searchpath("torchlet.core", package.cpath)
  result.meta.moons_data = select(3, moons.data())

  for _, row in ipairs(rows) do
    local results = {c_core = c_na or c.rows[row.id]}
    if torch then results.torch = torch.error and {na = torch.error} or torch.rows[row.id] end
    for _, impl in ipairs(list) do
      io.stderr:write(("bench: %-12s %s\n"):format(row.id, impl.name))
      results[impl.name] = run_row(row, impl, opts.quick)
    end
    result.rows[#result.rows + 1] = {id = row.id, title = row.title, unit = "us",
                                     initial = row.initial, results = results}
  end
  result.rows[#result.rows + 1] = {
    id = "chain", title = "Million-chain forward + backward (per node, C)", unit = "ns_node",
    results = {c_core = c_na or c.rows.chain, c_free = c_na or c.rows.chain_free},
  }
  local mem = {c_core = c_na or c.rows.node_bytes, pool = c_na or c.rows.pool_bytes_per_node}
  for _, impl in ipairs(list) do
    if impl.missing.graph == nil then mem[impl.name] = node_bytes(impl) end
  end
  result.rows[#result.rows + 1] = {id = "node_bytes", title = "Core memory per scalar node",
                                   unit = "bytes", results = mem}

  local m = result.meta
  print(("Torchlet benchmarks — %s, %d cores; %s; %s; git %s; %s"):format(
    m.cpu, m.cores, m.compiler, m.lua, m.git, m.date))
  print("module: " .. tostring(m.module))
  print()
  print(report.main_table(result))
  if opts.compare then
    print()
    print(report.compare_table(result))
    print()
    print("Targets:")
    print(report.targets(result))
  end
  local p = io.popen(quote(root .. "/build/bench/bench_matmul") .. (opts.quick and " --quick" or "") .. " 2>&1")
  local mm = p:read("a")
  p:close()
  result.matmul = {}
  print()
  -- issue 14's target: >= 0.8 of OpenBLAS (one thread) at every size, in
  -- both dtypes
  print("| matmul, one thread | dtype | Torchlet's kernel (GFLOP/s) | OpenBLAS (GFLOP/s) | Torchlet / OpenBLAS | >= 0.8 |")
  print("|---|---|---|---|---|---|")
  for line in mm:gmatch("[^\n]+") do
    local dtype, n, ours, blas = line:match("^matmul\t(%a+%d+)\t(%d+)\t([%d.]+)\t(%S+)")
    if n then
      local r = tonumber(blas) and tonumber(ours) / tonumber(blas)
      local verdict = not r and "n/a" or r >= 0.8 and "met" or "MISSED"
      print(("| %s x %s | %s | %s | %s | %s | %s |"):format(n, n, dtype, ours, blas,
            r and ("%.2f"):format(r) or "n/a", verdict))
      result.matmul[#result.matmul + 1] = {n = tonumber(n), dtype = dtype,
                                           torchlet_gflops = tonumber(ours),
                                           blas_gflops = tonumber(blas)}
    end
  end
  -- The target benchmarks, each in a process of its own (a memory
  -- target wants a node pool nothing else has used; speed_targets runs
  -- PyTorch in a child of its own): their lines are printed and stored
  -- under 'key' in the results.
  local lua = arg and arg[-1] or "lua5.4"
  local function run_targets(script, key, stderr_too)
    local cmd = quote(lua) .. " " .. quote(root .. "/bench/" .. script)
                .. (opts.quick and " --quick" or "") .. (stderr_too and " 2>&1" or "")
    local child = io.popen(cmd)
    result[key] = {}
    print()
    for line in child:read("a"):gmatch("[^\n]+") do
      print(line)
      result[key][#result[key] + 1] = line
    end
    if not child:close() then print(("bench/%s failed (its messages are above)"):format(script)) end
  end
  run_targets("model_batched.lua", "model_targets", true)       -- issue 13
  run_targets("collector.lua", "collector_targets", true)       -- issue 13
  run_targets("page_faults.lua", "page_fault_targets", true)    -- issue 14
  if opts.compare then run_targets("speed_targets.lua", "speed_targets") end  -- issue 14
  print()
  print("Absolute numbers vary by machine; compare ratios measured in one run.")

  store.write(opts.json, result)
  print("wrote " .. opts.json)
  if opts.update then
    local best_path = root .. "/bench/benchmark_data/best.json"
    local log_path = root .. "/bench/benchmark_log.json"
    local best = store.read(best_path, {})
    local improved = store.merge_best(best, result)
    store.write(best_path, best)
    local log = store.read(log_path, {})
    log[#log + 1] = store.log_entry(opts.title or m.subject, result)
    store.write(log_path, log)
    print(("updated %s (%d improved) and %s (%d entries)"):format(
      best_path, #improved, log_path, #log))
  end
end

local ok, err = pcall(main, arg or {})
if not ok then
  io.stderr:write("bench: ", tostring(err), "\n")
  os.exit(1)
end
