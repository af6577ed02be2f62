--[[
bench/speed_targets.lua -- issue 14's targets ("Speed at real sizes"),
Torchlet against PyTorch 1.13 on one thread, in one run, each printed with
its verdict:

  T1  MLP(784, {128, 10}), batch 64, cross-entropy + Adam (lr 1e-3), one
      full training step (forward, loss, zero_grad, backward, step):
      Torchlet <= PyTorch float64, and <= PyTorch float32.
  T2  MLP(784, {512, 512, 10}), batch 128, the same step: <= 1.2x PyTorch
      in each dtype; the GFLOP/s it reaches, against Torchlet's matmul
      kernel alone at the first layer's size (128x784 by 784x512).
  T3  MLP(32, {64, 64, 4}), batch 1: the training step >= 2x faster than
      PyTorch's, and the forward pass under no_grad >= 2x faster.  Torchlet
      runs both its paths (a 1x32 array, and a table of 32 numbers); the
      faster counts.
  T4  the batched moons step of bench/rows.lua (MLP(2, {16, 16, 1}) on one
      100x2 array, hinge + 1e-4 L2, SGD with momentum; PyTorch's is
      bench/compare_torch.py's): >= 3x faster than PyTorch.

T1 and T2 run in each dtype on both sides (Torchlet's model, data and
optimizer in float32 for the float32 rows).

    lua5.4 bench/speed_targets.lua [--quick] [--rounds N] [--clock cpu|wall]
                                   [--only t1,t2,...]  (from a built tree)

Method.  Torchlet runs in this process; PyTorch in a child python3
(bench/speed_targets_torch.py; TORCHLET_BENCH_PYTHON=/path picks it,
=none skips it), driven through a named pipe so that the contenders
alternate block by block: for each target, a Torchlet block, then a
PyTorch block, then the next target; the whole list --rounds times (3).
A block warms up (longer in the first round), picks the steps per sample
so that a sample lasts about 20 ms, and samples for 1.5 s.  Each sample is
timed twice: processor time of the process (os.clock, Python's
process_time) and wall time (bench/clock.c when built, perf_counter).
Each contender's median and minimum are over all its samples of all
rounds; verdicts use the medians of processor time (--clock wall: of wall
time): the machine is shared, and wall time then counts other processes'
turns on the processor, in bursts no interleaving evens out.  Lua's collector
runs as in any training loop (a full collection before each block, outside
the timing).  --quick: two rounds of a few steps each, to check that it
runs (< 30 s); its figures mean nothing.

Without a python3 that imports torch it prints Torchlet's times and
"PyTorch not available: targets not judged".  Exits 0 whatever the
verdicts (missed targets are results, not errors).
]]
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = package.path .. (";%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua"):format(root, root, root)
package.cpath = package.cpath .. (";%s/build/?.so"):format(root)

local torchlet = require "torchlet"
local harness = require "bench.harness"
local impls = require "bench.impls"
local moons = require "bench.moons"
local E, nn, optim, loss = torchlet.Element, torchlet.nn, torchlet.optim, torchlet.loss

-- seconds: bench/clock.c's monotonic clock when built
local clock_ok, clock = pcall(require, "bench.clock")
local now = clock_ok and function() return clock.now() * 1e-9 end or os.clock

local USAGE = "usage: lua5.4 bench/speed_targets.lua [--quick] [--rounds N] [--clock cpu|wall] "
  .. "[--only t1,t2,...]"

local function parse_args(argv)
  -- a block: warm up for 'warmup' seconds (at least 'min_warm' steps), then
  -- samples of about 'sample' seconds for 'block' seconds (at least
  -- 'min_samples')
  local opts = {rounds = 3, warmup_first = 0.5, warmup = 0.1, block = 1.5, sample = 0.02,
                min_warm = 2, min_samples = 3, clock = "cpu"}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--quick" then
      opts.quick = true
      opts.rounds, opts.warmup_first, opts.warmup, opts.block, opts.sample = 2, 0, 0, 0, 0.001
      opts.min_warm, opts.min_samples = 1, 2
    elseif a == "--rounds" then
      i = i + 1
      opts.rounds = math.tointeger(tonumber(argv[i] or ""))
      if opts.rounds == nil or opts.rounds < 1 then
        error("--rounds needs a whole number >= 1\n" .. USAGE, 0)
      end
    elseif a == "--clock" then
      i = i + 1
      opts.clock = argv[i]
      if opts.clock ~= "cpu" and opts.clock ~= "wall" then
        error("--clock needs cpu or wall\n" .. USAGE, 0)
      end
    elseif a == "--only" then
      -- a comma-separated list of target names (t1,t2,...): run only those
      i = i + 1
      opts.only = {}
      for name in (argv[i] or ""):gmatch("[^,]+") do opts.only[name] = true end
    elseif a == "--help" or a == "-h" then print(USAGE); os.exit(0)
    else error("unknown option " .. a .. "\n" .. USAGE, 0) end
    i = i + 1
  end
  return opts
end

-- {==================================================================
-- Torchlet's contenders: each maker returns step(), one training step (or
-- one forward pass) of the case
-- ===================================================================

-- Class of row i of a batch: 7(i-1) mod k, 1-based (the PyTorch side's
-- (7i) mod k, 0-based).
local function classes(n, k)
  local c = {}
  for i = 1, n do c[i] = (i - 1) * 7 % k + 1 end
  return c
end

-- Forward, loss, zero_grad, backward, step: the order of PyTorch's loop.
local function train_step(nin, sizes, n, dtype)
  torchlet.manual_seed(1)
  local model = nn.MLP(nin, sizes, {dtype = dtype})
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  local X, y = torchlet.rand(n, nin, {dtype = dtype}), classes(n, sizes[#sizes])
  return function()
    local l = loss.cross_entropy(model(X), y)
    opt:zero_grad()
    l:backward()
    opt:step()
  end
end

-- T3's one sample as a table of 32 numbers (the scalar path), and as the
-- same numbers in a 1x32 array
local T3_X = {}
for j = 1, 32 do T3_X[j] = 0.5 + 0.5 * math.sin(j) end

local function t3_model()
  torchlet.manual_seed(1)
  return nn.MLP(32, {64, 64, 4})
end

local function t3_train(input, class)
  local model = t3_model()
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  return function()
    local l = loss.cross_entropy(model(input), class)
    opt:zero_grad()
    l:backward()
    opt:step()
  end
end

-- no_grad entered on every call, as `with torch.no_grad():` is
local function t3_forward(input)
  local model = t3_model()
  local function forward() return model(input) end
  return function() torchlet.no_grad(forward) end
end

-- The matmul kernel alone at T2's first layer: (128x784)(784x512), no graph.
local MM = {128, 784, 512}
local function kernel()
  torchlet.manual_seed(1)
  local A, B = torchlet.rand(MM[1], MM[2]), torchlet.rand(MM[2], MM[3])
  local function mm() return A:matmul(B) end
  return function() torchlet.no_grad(mm) end
end

local MAKERS = {
  t1 = function() return train_step(784, {128, 10}, 64) end,
  t2 = function() return train_step(784, {512, 512, 10}, 128) end,
  t1_f32 = function() return train_step(784, {128, 10}, 64, "float32") end,
  t2_f32 = function() return train_step(784, {512, 512, 10}, 128, "float32") end,
  kernel = kernel,
  t3_train_array = function() return t3_train(E({T3_X}), {1}) end,
  t3_train_scalar = function() return t3_train(T3_X, 1) end,
  t3_forward_array = function() return t3_forward(E({T3_X})) end,
  t3_forward_scalar = function() return t3_forward(T3_X) end,
  t4 = function()
    local X, y = moons.data()
    torchlet.manual_seed(1)
    local step = assert(impls.torchlet().moons_step_batched, "no batched moons step")(X, y)
    return function() step() end
  end,
}

-- }==================================================================

-- {==================================================================
-- PyTorch in a child, through a named pipe: this process writes
-- "run <case> <warmup_s> <block_s> <sample_s>" into the pipe and reads
-- "result <case> <µs>..." from the child's stdout
-- ===================================================================

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The child, or nil and why not.
local function start_torch()
  local chosen = os.getenv("TORCHLET_BENCH_PYTHON")
  if chosen == "none" then return nil, "TORCHLET_BENCH_PYTHON=none" end
  local fifo = os.tmpname()
  os.remove(fifo)
  if not os.execute("mkfifo -m 600 " .. quote(fifo)) then return nil, "mkfifo failed" end
  local why = {}
  for _, py in ipairs(chosen and {chosen} or {"python3", "/usr/bin/python3"}) do
    -- exec: the child is python itself, so closing the pipe reaches it
    local p = io.popen(("exec %s %s --control %s 2>&1"):format(
      quote(py), quote(root .. "/bench/speed_targets_torch.py"), quote(fifo)))
    local out = {}
    while true do
      local line = p:read("l")
      if line == nil then break end
      local version = line:match("^ready\t(.*)$")
      if version then
        -- the child has the pipe open for reading: opening it does not block
        local ctl = assert(io.open(fifo, "w"))
        ctl:setvbuf("line")
        return {proc = p, ctl = ctl, fifo = fifo, version = version, python = py}
      end
      if line:match("^notorch") then break end
      out[#out + 1] = line
    end
    p:close()
    why[#why + 1] = py .. ": " .. (#out > 0 and table.concat(out, " / ") or "cannot import torch")
  end
  os.remove(fifo)
  return nil, table.concat(why, "; ")
end

-- PyTorch's samples (µs per step) of one block, or nil and why.
local function torch_block(t, case, warmup, block, sample)
  t.ctl:write(("run %s %g %g %g\n"):format(case, warmup, block, sample))
  while true do
    local line = t.proc:read("l")
    if line == nil then return nil, "the PyTorch child exited" end
    local id, rest = line:match("^result\t(%S+)\t(.*)$")
    if id == case then
      local s = {cpu = {}, wall = {}}
      for c, w in rest:gmatch("([^\t/]+)/([^\t]+)") do
        s.cpu[#s.cpu + 1], s.wall[#s.wall + 1] = tonumber(c), tonumber(w)
      end
      return s
    end
    if line:match("^error") or line:match("Error") then return nil, line end
  end
end

-- 'failed': the child is gone or in trouble, so no "quit" (a write into a
-- pipe nobody reads would end this process with SIGPIPE)
local function stop_torch(t, failed)
  if t == nil then return end
  if not failed then t.ctl:write("quit\n") end
  t.ctl:close()
  t.proc:close()
  os.remove(t.fifo)
end

-- }==================================================================

-- {==================================================================
-- Blocks and rounds
-- ===================================================================

-- Microseconds per step of each sample of one block, {cpu = {...}, wall =
-- {...}}; the same rule as speed_targets_torch.py's block() (whose minima
-- stay 2 and 3: --quick lowers them here for the debug build's specs).
local function block(step, warmup, block_s, sample, opts)
  collectgarbage("collect")
  local t0, n = now(), 0
  while n < opts.min_warm or now() - t0 < warmup do step(); n = n + 1 end
  local inner = math.max(1, math.floor(sample / ((now() - t0) / n) + 0.5))
  local cpu, wall, start = {}, {}, now()
  while #wall < opts.min_samples or now() - start < block_s do
    local c, t = os.clock(), now()
    for _ = 1, inner do step() end
    wall[#wall + 1] = (now() - t) / inner * 1e6
    cpu[#cpu + 1] = (os.clock() - c) / inner * 1e6
  end
  return {cpu = cpu, wall = wall}
end

-- The schedule of one round: {"tl", case} runs in this process, {"pt",
-- case_dtype} in PyTorch's child.
local SCHEDULE = {
  {"tl", "t1"}, {"pt", "t1_f64"}, {"tl", "t1_f32"}, {"pt", "t1_f32"},
  {"tl", "t2"}, {"tl", "kernel"}, {"pt", "t2_f64"}, {"tl", "t2_f32"}, {"pt", "t2_f32"},
  {"tl", "t3_train_array"}, {"tl", "t3_train_scalar"}, {"pt", "t3_train_f64"},
  {"tl", "t3_forward_array"}, {"tl", "t3_forward_scalar"}, {"pt", "t3_forward_f64"},
  {"tl", "t4"}, {"pt", "t4_f64"},
}

local function loadavg()
  local f = io.open("/proc/loadavg")
  if f == nil then return "unknown" end
  local l = f:read("l") or ""
  f:close()
  return l:match("^(%S+ %S+ %S+)") or "unknown"
end

-- }==================================================================

-- {==================================================================
-- Report
-- ===================================================================

local function fmt_time(us)
  if us >= 1000 then return ("%.3f ms"):format(us / 1000) end
  return ("%.1f µs"):format(us)
end

-- Matmul flops a training step of MLP(nin, sizes) at batch n needs:
-- forward, the weight gradients, and the input gradients of every layer
-- but the first (the data X needs none).
local function step_flops(nin, sizes, n)
  local fwd, dx, prev = 0, 0, nin
  for l, out in ipairs(sizes) do
    fwd = fwd + 2 * n * prev * out
    if l > 1 then dx = dx + 2 * n * prev * out end
    prev = out
  end
  return 2 * fwd + dx, fwd
end

local function main(argv)
  local opts = parse_args(argv)
  local load0 = loadavg()
  local torch, torch_why = start_torch()
  local steps, samples = {}, {}
  for round = 1, opts.rounds do
    local warmup = round == 1 and opts.warmup_first or opts.warmup
    for _, item in ipairs(SCHEDULE) do
      local who, case = item[1], item[2]
      local key = who .. ":" .. case
      local s
      local target = case == "kernel" and "t2" or case:match("^t%d")
      if opts.only and not opts.only[target] then who = "skip" end
      io.stderr:write(("speed_targets: round %d/%d %s\n"):format(round, opts.rounds, key))
      if who == "tl" then
        steps[case] = steps[case] or MAKERS[case]()
        s = block(steps[case], warmup, opts.block, opts.sample, opts)
      elseif who == "pt" and torch then
        local err
        s, err = torch_block(torch, case, warmup, opts.block, opts.sample)
        if s == nil then
          stop_torch(torch, true)
          torch, torch_why = nil, "the PyTorch child failed: " .. tostring(err)
        end
      end
      if s then
        local all = samples[key] or {cpu = {}, wall = {}}
        samples[key] = all
        for _, k in ipairs{"cpu", "wall"} do table.move(s[k], 1, #s[k], #all[k] + 1, all[k]) end
      end
    end
  end
  local version = torch and torch.version
  local python = torch and torch.python
  stop_torch(torch)

  -- stat[key]: the judged clock's median and min, and the other's as 'other'
  local stat = {}
  local other_clock = opts.clock == "cpu" and "wall" or "cpu"
  for key, s in pairs(samples) do
    local function summary(t)
      table.sort(t)
      return {median = harness.median(t), min = t[1], n = #t}
    end
    stat[key] = summary(s[opts.clock])
    stat[key].other = summary(s[other_clock])
  end
  local judged = version ~= nil and torch_why == nil

  local out = {}
  local function say(fmt, ...) out[#out + 1] = fmt:format(...) end
  say("issue 14 targets: speed at real sizes (bench/speed_targets.lua)")
  say("  one thread; %d rounds, each target's contenders interleaved block by block "
      .. "(%g s a block after warm-up); median (and minimum) over all samples;",
      opts.rounds, opts.block)
  say("  times are %s time (%s time beside them); verdicts on the medians of %s time;",
      opts.clock == "cpu" and "processor" or "wall", other_clock == "cpu" and "processor" or "wall",
      opts.clock == "cpu" and "processor" or "wall")
  say("  load average %s at the start, %s at the end%s", load0, loadavg(),
      opts.quick and "; --quick: these figures mean nothing" or "")
  if judged then
    say("  PyTorch %s, %s, one thread (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1); "
        .. "zero_grad(set_to_none=True)",
        version, python)
  else
    say("  PyTorch not available: targets not judged (%s)", torch_why or "?")
  end

  local function contender(label, key)
    local s = stat[key]
    if s then
      say("      %-44s %12s  (min %s; %s %s, min %s; %d samples)", label, fmt_time(s.median),
          fmt_time(s.min), other_clock, fmt_time(s.other.median), fmt_time(s.other.min), s.n)
    end
  end
  local function verdict(ok) return ok and "met" or "MISSED" end
  -- A target on the ratio of medians: "at most" (Torchlet time <= bound x
  -- PyTorch's) or "faster" (PyTorch's time >= bound x Torchlet's).
  local function judge(kind, name, tl, pt, bound, note)
    local t = stat[tl]
    local p = judged and stat[pt]
    if not t then return end   -- left out by --only
    if not p then
      say("target %s: Torchlet %s; PyTorch not available: not judged", name, fmt_time(t.median))
      return
    end
    if kind == "at most" then
      local r = t.median / p.median
      say("target %s: Torchlet %s / PyTorch %s = %.2fx (minima %.2fx; target <= %gx%s): %s", name,
          fmt_time(t.median), fmt_time(p.median), r, t.min / p.min, bound, note or "",
          verdict(r <= bound))
    else
      local r = p.median / t.median
      say("target %s: PyTorch %s / Torchlet %s = %.2fx faster (minima %.2fx; target >= %gx%s): %s",
          name, fmt_time(p.median), fmt_time(t.median), r, p.min / t.min, bound, note or "",
          verdict(r >= bound))
    end
  end
  local function at_most(...) return judge("at most", ...) end
  local function faster(...) return judge("faster", ...) end

  say("T1  MLP(784, {128, 10}), batch 64, cross-entropy + Adam, full step")
  contender("Torchlet nn.MLP, model(X), float64", "tl:t1")
  contender("PyTorch float64", "pt:t1_f64")
  contender("Torchlet nn.MLP, model(X), float32", "tl:t1_f32")
  contender("PyTorch float32", "pt:t1_f32")
  at_most("T1 float64", "tl:t1", "pt:t1_f64", 1)
  at_most("T1 float32", "tl:t1_f32", "pt:t1_f32", 1)

  say("T2  MLP(784, {512, 512, 10}), batch 128, cross-entropy + Adam, full step")
  contender("Torchlet nn.MLP, model(X), float64", "tl:t2")
  contender("PyTorch float64", "pt:t2_f64")
  contender("Torchlet nn.MLP, model(X), float32", "tl:t2_f32")
  contender("PyTorch float32", "pt:t2_f32")
  local flops, fwd = step_flops(784, {512, 512, 10}, 128)
  local function gflops(key, f)
    return stat[key] and ("%.1f"):format(f / (stat[key].median * 1e3)) or "—"
  end
  local kflops = 2 * MM[1] * MM[2] * MM[3]
  say("      matmul flops a step needs: %.1f M (forward %.1f M, weight gradients %.1f M, input "
      .. "gradients of layers 2-3 %.1f M; not X's, %.1f M more if computed)",
      flops / 1e6, fwd / 1e6, fwd / 1e6, (flops - 2 * fwd) / 1e6, 2 * 128 * 784 * 512 / 1e6)
  say("      GFLOP/s at the median: Torchlet %s, PyTorch float64 %s, float32 %s; Torchlet's matmul "
      .. "kernel alone, (%dx%d)(%dx%d) under no_grad: %s (%s) -> the step reaches %s of it",
      gflops("tl:t2", flops), gflops("pt:t2_f64", flops), gflops("pt:t2_f32", flops),
      MM[1], MM[2], MM[2], MM[3], gflops("tl:kernel", kflops),
      stat["tl:kernel"] and fmt_time(stat["tl:kernel"].median) or "—",
      (stat["tl:kernel"] and stat["tl:t2"]) and ("%.0f%%"):format(
        100 * (flops / stat["tl:t2"].median) / (kflops / stat["tl:kernel"].median)) or "—")
  at_most("T2 float64", "tl:t2", "pt:t2_f64", 1.2)
  at_most("T2 float32", "tl:t2_f32", "pt:t2_f32", 1.2)

  -- T3: Torchlet's faster path counts
  local function best(a, b)
    local sa, sb = stat["tl:" .. a], stat["tl:" .. b]
    if not (sa and sb) then return "tl:" .. a end   -- left out by --only
    return sa.median <= sb.median and "tl:" .. a or "tl:" .. b
  end
  say("T3  MLP(32, {64, 64, 4}), batch 1 (float64)")
  contender("Torchlet train step, X a 1x32 array", "tl:t3_train_array")
  contender("Torchlet train step, a table of 32 numbers", "tl:t3_train_scalar")
  contender("PyTorch float64 train step", "pt:t3_train_f64")
  contender("Torchlet forward under no_grad, 1x32 array", "tl:t3_forward_array")
  contender("Torchlet forward under no_grad, table", "tl:t3_forward_scalar")
  contender("PyTorch float64 forward under no_grad", "pt:t3_forward_f64")
  local bt = best("t3_train_array", "t3_train_scalar")
  local bf = best("t3_forward_array", "t3_forward_scalar")
  local path = function(key) return key:match("array$") and "array" or "table" end
  faster("T3 train", bt, "pt:t3_train_f64", 2, "; Torchlet's faster path: the " .. path(bt))
  faster("T3 forward", bf, "pt:t3_forward_f64", 2, "; Torchlet's faster path: the " .. path(bf))

  say("T4  batched moons step: MLP(2, {16, 16, 1}), one 100x2 array, hinge + 1e-4 L2, SGD "
      .. "(bench/rows.lua's moons_step_batched)")
  contender("Torchlet model(X), float64", "tl:t4")
  contender("PyTorch float64", "pt:t4_f64")
  faster("T4", "tl:t4", "pt:t4_f64", 3)
  print(table.concat(out, "\n"))
end

local ok, err = pcall(main, arg or {})
if not ok then
  io.stderr:write("speed_targets: ", tostring(err), "\n")
  os.exit(1)
end
