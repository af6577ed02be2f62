--[[
bench/page_faults.lua -- whether a steady training loop touches new pages.

    lua5.4 bench/page_faults.lua [--steps N] [--wide-steps N] [--warmup N] [--quick]

Two training loops, each in a fresh child process, Lua's collector left to
its defaults (the core's pacing on), cross-entropy and Adam over 8 fixed
random batches:
- MNIST size: MLP(784, {128, 10}), batches of 64 (bench/collector.lua's
  loop), N steps (default 300);
- wide: MLP(784, {512, 512, 10}), batches of 128, N steps (default 100):
  its activations (512 kB) are past glibc's mmap threshold, so blocks
  given back to malloc go back to the system.
The process's minor page faults (/proc/self/stat, field 10) are read
around every step.  After the first W steps (default 50) a step should
reuse memory it already has: by then the parameters' gradients, Adam's
state, the node pool and Lua's heap have their size, and the collector's
pacing (bindings/runtime.c) its cycle: until then the most garbage held
at once still grows now and then (at MNIST size, by ~270 kB at steps
29-32 and 49, in this loop with and without the array cache), and each
new high is new pages.

Verdict, for each loop: at most 1 minor fault a step on average over
steps W+1..N.  A loop that reuses its buffers faults only where Lua's
heap or the node pool reaches a new page now and then: 0 to 0.12 a step
measured with the array cache (core/array.c).  With every freed block
given back to malloc, the wide loop faulted 40 to 47 times a step on
average (bursts of 360 after collections: glibc had returned the pages);
the MNIST-size loop's blocks stay in glibc's heap, so it faults 0 times
a step either way, once past its warm-up.

Linux only (/proc).  Prints faults per step (mean, median, max) and the
median step time of each loop.
]]
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = package.path .. (";%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua"):format(root, root, root)
package.cpath = package.cpath .. (";%s/build/?.so"):format(root)

local clock_ok, clock = pcall(require, "bench.clock")
local now = clock_ok and function() return clock.now() * 1e-9 end or os.clock

-- Minor page faults of this process so far: field 10 of /proc/self/stat,
-- counted after the command name, which is in parentheses and may hold
-- spaces.
local function minor_faults()
  local f = assert(io.open("/proc/self/stat"))
  local s = f:read("a")
  f:close()
  local fields = {}
  for w in s:match("%)%s+(.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
  return tonumber(fields[8])          -- field 3 is the first after ')'
end

local quantile = require("bench.harness").quantile

local loops = {
  mnist = {name = "MNIST size: MLP(784, {128, 10}), batch 64", hidden = {128, 10}, batch = 64},
  wide = {name = "wide: MLP(784, {512, 512, 10}), batch 128", hidden = {512, 512, 10}, batch = 128},
}

-- {== one loop, run in a child: "child mnist|wide STEPS WARMUP" ==========

if arg[1] == "child" then
  local loop, steps, warmup = loops[arg[2]], tonumber(arg[3]), tonumber(arg[4])
  local torchlet = require "torchlet"
  local nn, optim, loss = torchlet.nn, torchlet.optim, torchlet.loss
  torchlet.manual_seed(1)
  local model = nn.MLP(784, loop.hidden, {output = "linear"})
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  local batches = {}
  for b = 1, 8 do
    local classes = {}
    for j = 1, loop.batch do classes[j] = (j * 7 + b) % 10 + 1 end
    batches[b] = {torchlet.rand(loop.batch, 784), classes}
  end
  local faults, times, pool = {}, {}, nil
  for step = 1, steps do
    if step == warmup + 1 then pool = torchlet.memory().pool_bytes end
    local batch = batches[(step - 1) % #batches + 1]
    local f0, t0 = minor_faults(), now()
    local l = loss.cross_entropy(model(batch[1]), batch[2])
    opt:zero_grad()
    l:backward()
    opt:step()
    local t1, f1 = now(), minor_faults()
    if step > warmup then
      faults[#faults + 1] = f1 - f0
      times[#times + 1] = t1 - t0
    end
  end
  local total, most = 0, 0
  for _, f in ipairs(faults) do
    total = total + f
    if f > most then most = f end
  end
  local mem = torchlet.memory()
  print(("%.4f %d %d %.6f %d %d"):format(total / #faults, quantile(faults, 0.5), most,
    quantile(times, 0.5), mem.cached_bytes or 0, mem.pool_bytes - pool))
  os.exit(0)
end

-- }======================================================================

local opts = {steps = 300, wide_steps = 100, warmup = 50}
local i = 1
while i <= #arg do
  local n = math.tointeger(tonumber(arg[i + 1]))
  if arg[i] == "--steps" and n then opts.steps = n; i = i + 1
  elseif arg[i] == "--wide-steps" and n then opts.wide_steps = n; i = i + 1
  elseif arg[i] == "--warmup" and n then opts.warmup = n; i = i + 1
  elseif arg[i] == "--quick" then opts.steps, opts.wide_steps = 80, 70
  else error("usage: lua5.4 bench/page_faults.lua [--steps N] [--wide-steps N] [--warmup N] [--quick]", 0) end
  i = i + 1
end
assert(opts.warmup < opts.steps and opts.warmup < opts.wide_steps,
  "--warmup must be below --steps and --wide-steps")

local lua = "lua" .. _VERSION:match("%d+%.%d+")
local function child(which, steps)
  local cmd = ("LUA_PATH=%q LUA_CPATH=%q %s %q child %s %d %d"):format(
    package.path, package.cpath, lua, arg[0], which, steps, opts.warmup)
  local p = io.popen(cmd)
  local out = p:read("a")
  assert(p:close(), "child failed: " .. out)
  local mean, median, most, time, cached, pool = out:match("(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)")
  return {mean = tonumber(mean), median = tonumber(median), max = tonumber(most),
          time = tonumber(time), cached = tonumber(cached), pool = tonumber(pool)}
end

for _, which in ipairs({"mnist", "wide"}) do
  local steps = which == "mnist" and opts.steps or opts.wide_steps
  local r = child(which, steps)
  print(("%s, Adam, steps %d..%d after %d warm-up steps"):format(loops[which].name,
    opts.warmup + 1, steps, opts.warmup))
  print(("  minor page faults a step: mean %.2f, median %d, max %d; median step %.3f ms")
    :format(r.mean, r.median, r.max, r.time * 1e3))
  print(("  after warm-up the node pool grew by %d kB; %d kB in the array cache at the end")
    :format(r.pool // 1024, r.cached // 1024))
  print(("- a steady loop touches no new pages (<= 1 minor fault a step on average): %.2f — %s")
    :format(r.mean, r.mean <= 1 and "met" or "MISSED"))
end
