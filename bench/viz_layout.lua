-- bench/viz_layout.lua -- how long the graphviz view takes, by graph shape.
--
--   lua5.4 bench/viz_layout.lua [LIMIT_S] [FORMAT]      default 5, png
--
-- Draws graphs that used to stall dot far below max_nodes (a value shared
-- by every op of a chain, unrolled recurrences, batches through an MLP,
-- random DAGs, one Neuron applied again and again), at about 80 values and
-- at about the default max_nodes (1,000), and prints the seconds each
-- takes and the slowest.  Exits 1 if one took more than LIMIT_S seconds
-- of CPU time, the README's promise; a graph the view refuses (too
-- tangled) is listed as refused, which is within the promise.  The
-- verdict uses CPU time (os.clock: drawing is single-threaded) because
-- wall time on a shared machine measures the neighbours too; both print.
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = package.path .. (";%s/lua/?.lua;%s/lua/?/init.lua"):format(root, root)
package.cpath = package.cpath .. (";%s/build/?.so"):format(root)

local torchlet = require "torchlet"
local Element, nn = torchlet.Element, torchlet.nn

local limit = tonumber(arg[1] or "5")
local format = arg[2] or "png"      -- the default of visualize, the slowest
assert(limit and limit > 0, "usage: viz_layout.lua [LIMIT_S] [FORMAT]")

-- Wall-clock seconds (CLOCK_MONOTONIC, the bench's clock module).
local clock = require "bench.clock"
local function now() return clock.now() / 1e9 end

local shapes = {}
local function shape(name, build) shapes[#shapes + 1] = {name = name, build = build} end

-- r = r + a, n times: every op reads the same 'a'.
local function fan(n)
  local a = Element(1.0, "a")
  local r = a
  for _ = 1, n do r = r + a end
  return r
end
-- h = tanh(w*h + b), n steps: w and b are read by every step.
local function recurrence(n)
  local w, b, h = Element(0.5, "w"), Element(0.1, "b"), Element(0.0, "h")
  for _ = 1, n do h = (w * h + b):tanh() end
  return h
end
-- The summed outputs of MLP(nin, {hid, hid, 1}) over a batch.
local function mlp(nin, hid, batch)
  torchlet.manual_seed(1)
  local m = nn.MLP(nin, {hid, hid, 1})
  local total = Element(0)
  for i = 1, batch do
    local x = {}
    for j = 1, nin do x[j] = Element(((i * 7 + j * 13) % 17) / 17) end
    total = total + m(x)
  end
  return total
end
-- n random + and * over earlier values (a fixed LCG), the unused summed.
local function dag(n, seed)
  local state = seed
  local function rand(k) state = (state * 1103515245 + 12345) % 2147483648; return state % k + 1 end
  local v, used = {Element(1.0, "x1"), Element(2.0, "x2")}, {}
  while #v < n do
    local i, j = rand(#v), rand(#v)
    used[i], used[j] = true, true
    v[#v + 1] = rand(2) == 1 and v[i] + v[j] or v[i] * v[j]
  end
  local r
  for i, x in ipairs(v) do if not used[i] then r = r and r + x or x end end
  return r
end
-- One Neuron(k) applied to k recent values, again and again: its
-- weights are read by every application.
local function neuron_reuse(n, k)
  torchlet.manual_seed(3)
  local m = nn.Neuron(k)
  local v = {}
  for i = 1, k do v[i] = Element(i * 0.01) end
  local state = 7
  while #v + k + 1 < n do
    local xs = {}
    for j = 1, k do
      state = (state * 1103515245 + 12345) % 2147483648
      xs[j] = v[#v - state % math.min(#v, 3 * k)]
    end
    v[#v + 1] = m(xs)
  end
  return v[#v]
end

shape("r = r + a, 80 times", function() return fan(80) end)
shape("recurrence, 40 steps", function() return recurrence(40) end)
shape("MLP(2, {4, 4, 1}) x 2", function() return mlp(2, 4, 2) end)
shape("r = r + a, 999 times", function() return fan(999) end)
shape("recurrence, 332 steps", function() return recurrence(332) end)
shape("chain of 1,000", function()
  local x = Element(1.0, "x")
  for _ = 2, 1000 do x = x * 1.0001 end
  return x
end)
shape("random DAG, 600 ops", function() return dag(600, 1) end)
shape("MLP(4, {16, 16, 1}) x 8", function() return mlp(4, 16, 8) end)
shape("Neuron(8) x 488", function() return neuron_reuse(505, 8) end)
shape("Neuron(12) x 485", function() return neuron_reuse(510, 12) end)

local dir = os.tmpname()
os.remove(dir)
local worst, worst_name = 0, "-"
print(string.format("graphviz view, %s, limit %g s", format, limit))
for _, s in ipairs(shapes) do
  local root = s.build()
  root:backward()
  local _, n = root:to_dot():gsub("\n%s*v%d+%s+%[", "")
  local file = dir .. "." .. format
  local t0, c0 = now(), os.clock()
  local done, err = pcall(root.visualize, root, "graphviz", {file = file})
  local wall, dt = now() - t0, os.clock() - c0
  os.remove(file)
  if done then
    print(string.format("  %-26s %5d values  %6.2f s CPU %6.2f s wall", s.name, n, dt, wall))
    if dt > worst then worst, worst_name = dt, s.name end
  elseif tostring(err):find("too tangled", 1, true) then
    print(string.format("  %-26s %5d values  refused after %.2f s: too tangled", s.name, n, dt))
  else
    error(err)
  end
end
local verdict = worst <= limit and "PASS" or "FAIL"
print(string.format("slowest: %.2f s CPU (%s); target <= %g s: %s", worst, worst_name, limit, verdict))
os.exit(verdict == "PASS" and 0 or 1)
