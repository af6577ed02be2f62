-- spec/bench_spec.lua -- the benchmark's own honesty: the plain-Lua
-- autograd it compares against computes correct gradients, the floor
-- computes, the rows are the original's, and the runner writes its JSON.
-- No timing is asserted here.
local helpers = require "spec.helpers"
local json = require "dkjson"
local plain = require "bench.plain"
local near = helpers.near
local V = plain.Value

describe("bench.plain", function()
  -- micrograd's test_engine.py, values from shared/reference (PyTorch).
  it("passes micrograd's sanity check", function()
    local x = V(-4.0)
    local z = 2 * x + 2 + x
    local q = z:relu() + z * x
    local h = (z * z):relu()
    local y = h + q + q * x
    y:backward()
    near(-20.0, y.data, 1e-12, "y")
    near(46.0, x.grad, 1e-12, "dy/dx")
  end)

  it("passes micrograd's more_ops test", function()
    local a, b = V(-4.0), V(2.0)
    local c = a + b
    local d = a * b + b ^ 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a):relu()
    d = d + 3 * d + (b - a):relu()
    local e = c - d
    local f = e ^ 2
    local g = f / 2.0
    g = g + 10.0 / f
    g:backward()
    near(24.70408163265306, g.data, 1e-12, "g")
    near(138.83381924198252, a.grad, 1e-10, "dg/da")
    near(645.5772594752186, b.grad, 1e-10, "dg/db")
  end)

  it("differentiates an MLP like central differences", function()
    math.randomseed(7)
    local model = plain.MLP(3, {4, 4, 1})
    local x = {1, -2, 0.5}
    local params = model:parameters()
    assert.are.equal(41, #params)      -- 3*4+4 + 4*4+4 + 4+1
    model(x):backward()
    local values = {}
    for i, p in ipairs(params) do values[i] = p.data end
    local numeric = helpers.numeric_grad(function(vs)
      for i, p in ipairs(params) do p.data = vs[i] end
      return model(x).data
    end, values)
    for i, p in ipairs(params) do near(numeric[i], p.grad, 1e-6, "param " .. i) end
  end)

  it("zero_grad clears every parameter", function()
    local model = plain.MLP(2, {3, 1})
    model(({1, 2})):backward()
    model:zero_grad()
    for _, p in ipairs(model:parameters()) do assert.are.equal(0, p.grad) end
  end)

  -- Small on purpose: the test command repeats every spec with a full
  -- collection every 1000 instructions, where a plain-Lua graph is slow.
  it("trains: the moons loss falls over a few steps", function()
    local impl = require("bench.impls").plain()
    local X, y = require("bench.moons").make_moons(10)
    math.randomseed(1)
    local step = impl.moons_step(X, y)
    local first = step().data
    local last
    for _ = 1, 4 do last = step().data end
    assert.is_true(last < 0.8 * first, ("loss %g -> %g"):format(first, last))
  end)
end)

describe("bench.floor", function()
  it("adds and multiplies the numbers it holds", function()
    local floor = require "bench.floor"
    local a, b = floor.new(2), floor.new(3)
    assert.are.equal(5, floor.value(a + b))
    assert.are.equal(6, floor.value(a * b))
    assert.are.equal(30, floor.value((a + b) * (a * b)))
    assert.has_error(function() return a + 1 end)
  end)

  it("has a variant with an empty finalizer, kept by its results", function()
    local floor = require "bench.floor"
    local a, b = floor.new_gc(2), floor.new_gc(3)
    local c = a * b
    assert.are.equal(6, floor.value(c))
    assert.is_function(getmetatable(c).__gc)
    assert.is_nil(getmetatable(floor.new(1)).__gc)
  end)
end)

describe("bench.rows", function()
  it("are the original's six, with its numbers, then the moons steps", function()
    local rows = require "bench.rows"
    local want = {
      {"add", 5.127}, {"mul", 4.892}, {"backward", 154.600},
      {"mlp_forward", 413.949}, {"mlp_backward", 884.800}, {"zero_grad", 5.948},
      {"moons_step", nil}, {"moons_step_batched", nil},
    }
    assert.are.equal(#want, #rows)
    for i, w in ipairs(want) do
      assert.are.equal(w[1], rows[i].id)
      assert.are.equal(w[2], rows[i].initial)
    end
  end)
end)

describe("bench.harness", function()
  local harness = require "bench.harness"

  it("takes medians of block means in the order samples came", function()
    -- a burst every 4th sample is spread over its block; one slow block
    -- (a preempted stretch) does not move the median of the blocks
    local t = {1, 1, 1, 5, 1, 1, 1, 5, 1, 1, 1, 5, 90, 90, 90, 90}
    assert.are.same({2, 2, 2, 90}, harness.block_means(t, 4))
    assert.are.equal(2, harness.median(harness.block_means(t, 4)))
    assert.are.same({2.5}, harness.block_means({1, 2, 3, 4}, 1))
    assert.are.same({1, 2, 3}, harness.block_means({1, 2, 3}, 10))
    assert.are.equal(10, #harness.block_means({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                               16, 17, 18, 19, 20}, 10))
    assert.is_true(#harness.block_means({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 10) <= 10)
  end)

  it("measures a timed function: min <= median, and counts samples", function()
    local calls = 0
    local r = harness.measure(function(n)
      calls = calls + 1
      return 1000 * n * calls           -- each sample slower than the last
    end, {inner = 5, samples = 4, budget_s = 10})
    assert.are.equal(4, r.samples)
    assert.are.equal(5, calls)          -- one warm-up, then four samples
    assert.are.equal(2, r.min)          -- µs per run of the first sample
    assert.are.equal(3.5, r.median)
    assert.are.equal(3.5, r.mean)
  end)
end)

describe("bench.store", function()
  local store = require "bench.store"
  local function result(min, date)
    return {meta = {date = date, git = "abc"}, rows = {
      {id = "add", title = "Addition", unit = "us", results = {
        torchlet = {min = min, median = min * 2, samples = 3},
        c_core = {na = "not built"}}},
    }}
  end

  it("keeps the best minimum per row", function()
    local best = {}
    assert.are.same({"add/torchlet"}, store.merge_best(best, result(0.2, "d1")))
    assert.are.same({}, store.merge_best(best, result(0.3, "d2")))
    assert.are.same({"add/torchlet"}, store.merge_best(best, result(0.1, "d3")))
    assert.are.equal(0.1, best.add.torchlet.min)
    assert.are.equal("d3", best.add.torchlet.date)
    assert.is_nil(best.add.c_core)
  end)

  it("makes titled log entries that round-trip through JSON", function()
    local entry = store.log_entry("faster ops", result(0.2, "d1"))
    local back = json.decode(store.encode({entry}))
    assert.are.equal("faster ops", back[1].title)
    assert.are.equal(0.2, back[1].rows.add.torchlet.min)
  end)
end)

describe("bench/run.lua", function()
  -- The benchmark's programs are Lua 5.4's, whichever VM runs the specs:
  -- from another VM they get the 5.4 module (build/, the specs run from the
  -- repository root).
  local lua54 = helpers.lua == "lua5.4" and "lua5.4" or "LUA_CPATH='build/?.so;;' lua5.4"

  -- bench/speed_targets.lua's verdict lines (issue 14): target name, then
  -- its verdict ("met", "MISSED" or "not judged"), in the order printed
  local function speed_verdicts(out)
    local v = {}
    for name, rest in out:gmatch("\ntarget (T%d[^:]*): ([^\n]*)") do
      v[#v + 1] = name
      v[#v + 1] = rest:match(": (%a+)$") or rest:match("(not judged)$") or rest
    end
    return v
  end

  it("prints the table and writes parseable JSON (--quick --compare)", function()
    local path = os.tmpname()
    -- PyTorch is optional and slow to start: left out of this check
    -- helpers.run: 5.1's popen gives no exit status
    local ok, out = helpers.run("TORCHLET_BENCH_PYTHON=none " .. lua54
                                .. " bench/run.lua --quick --compare --json " .. path)
    assert.is_true(ok, out)
    assert.truthy(out:find("| Benchmark | Initial Implementation (µs) | Current Implementation (µs) | Notes |", 1, true), out)
    assert.truthy(out:find("plain Lua / Torchlet", 1, true), out)
    -- issue 14's targets, one verdict line each, not judged without PyTorch
    assert.truthy(out:find("PyTorch not available: targets not judged", 1, true), out)
    local nj = "not judged"
    assert.are.same({"T1 float64", nj, "T1 float32", nj, "T2 float64", nj, "T2 float32", nj,
                     "T3 train", nj, "T3 forward", nj, "T4", nj}, speed_verdicts(out), out)
    local f = assert(io.open(path))
    local text = f:read("*a")
    f:close()
    os.remove(path)
    local r, _, err = json.decode(text)
    assert.is_nil(err)
    for _, key in ipairs{"date", "cpu", "cores", "compiler", "lua", "git", "module"} do
      assert.is_not_nil(r.meta[key], key)
    end
    local ids = {}
    for _, row in ipairs(r.rows) do
      ids[#ids + 1] = row.id
      for impl, res in pairs(row.results) do
        -- every result is a measurement or says why it is missing
        assert.is_true(type(res.na) == "string" or
                       (res.min > 0 and res.min <= res.median and res.amortized > 0),
                       row.id .. "/" .. impl)
      end
    end
    assert.are.same({"add", "mul", "backward", "mlp_forward", "mlp_backward",
                     "zero_grad", "moons_step", "moons_step_batched", "chain", "node_bytes"}, ids)
    local add = r.rows[1].results
    assert.is_true(add.torchlet.min > 0 and add.plain.min > 0 and add.floor.min > 0)
    assert.are.equal(48, r.rows[#r.rows].results.c_core.min)   -- sizeof(struct tl_node)
  end)

  it("bench/model_batched.lua runs and gives a verdict for each target", function()
    -- a missed target is a verdict, not an error here
    local _, out = helpers.run(lua54 .. " bench/model_batched.lua --quick")
    local verdicts = 0
    for line in out:gmatch("[^\n]+") do
      if line:find(": [%d.]+x %(target <= 1.1x%) ") or line:find("target <= 8.5%) ") then
        verdicts = verdicts + 1
      end
    end
    assert.are.equal(4, verdicts, out)
  end)

  it("bench/compile.lua prints issue 15's four targets, each with its verdict", function()
    local ok, out = helpers.run("TORCHLET_BENCH_PYTHON=none " .. lua54
                                .. " bench/compile.lua --quick")
    assert.is_true(ok, out)
    for _, c in ipairs{"C1", "C2", "C4"} do
      assert.truthy(out:find("\n" .. c .. " [^\n]*: (%u+)\n"), out)
    end
    assert.truthy(out:find("\nC3 [^\n]*PyTorch not available[^\n]*not judged"), out)
  end)

  it("bench/ffi_per_op.lua (LuaJIT) computes the same forward pass both ways and times four jobs", function()
    -- its start asserts the FFI's outputs equal the binding's bit for bit
    local ok, out = helpers.run("luajit bench/ffi_per_op.lua --quick")
    assert.is_true(ok, out)
    local rows = 0
    for line in out:gmatch("[^\n]+") do
      if line:find("^%a[^\n]-%s+[%d.]+%s+[%d.]+%s+[%d.]+$") then rows = rows + 1 end
    end
    assert.are.equal(4, rows, out)
  end)

  it("bench/speed_targets.lua judges each target on the PyTorch child's medians", function()
    -- a stand-in for the PyTorch child that speaks its protocol: a step of
    -- T1 or T3 "takes" 1000 s, of T2 or T4 1 ns
    local fake = os.tmpname()
    local f = assert(io.open(fake, "w"))
    -- $3 is the named pipe; opened read-write, so it opens without a writer
    f:write([[#!/bin/sh
exec 3<>"$3"
printf 'ready\tfake\n'
while read -r cmd case rest <&3; do
  [ "$cmd" = quit ] && exit 0
  case "$case" in t1*|t3*) t=1e9/1e9 ;; *) t=1e-3/1e-3 ;; esac  # processor/wall µs
  printf 'result\t%s\t%s\t%s\t%s\n' "$case" "$t" "$t" "$t"
done
]])
    f:close()
    assert(os.execute("chmod +x " .. fake))
    local ok, out = helpers.run("TORCHLET_BENCH_PYTHON=" .. fake .. " " .. lua54
                                .. " bench/speed_targets.lua --quick --rounds 1")
    assert.is_true(ok, out)             -- missed targets are results, not errors
    os.remove(fake)
    assert.are.same({"T1 float64", "met", "T1 float32", "met", "T2 float64", "MISSED",
                     "T2 float32", "MISSED", "T3 train", "met", "T3 forward", "met",
                     "T4", "MISSED"}, speed_verdicts(out), out)
    assert.truthy(out:find("PyTorch fake", 1, true), out)
    assert.truthy(out:find("Torchlet nn.MLP, model(X), float32", 1, true), out)
  end)

  it("rejects unknown options", function()
    local ok, out = helpers.run(lua54 .. " bench/run.lua --bogus")
    assert.is_false(ok)
    assert.truthy(out:find("unknown option --bogus", 1, true), out)
  end)
end)
