-- spec/cache_spec.lua -- the array block cache (core/array.c): freed values
-- and gradient buffers are kept for arrays of the same size, outside the
-- live counts; torchlet.memory().cached_bytes and torchlet.empty_cache().
local torchlet = require "torchlet"
local load_string = require("spec.helpers").load

local function collect()
  collectgarbage("collect")
  collectgarbage("collect")
end

-- A Lua script (without comments: %q ends lines with a backslash, which the
-- shell drops with the newline) run in a Lua of its own (the VM running the specs), so that
-- it starts with an empty cache and no peak; returns its output.
local function run_alone(script)
  local helpers = require "spec.helpers"
  local cmd = ("LUA_PATH=%q LUA_CPATH=%q %s -e %q"):format(
    package.path, package.cpath, helpers.lua, script)
  local ok, out = helpers.run(cmd)
  assert(ok, out)
  return out
end

-- Every value of a nested table of numbers, in order.
local function flat(t, out)
  out = out or {}
  if type(t) ~= "table" then out[#out + 1] = t return out end
  for _, v in ipairs(t) do flat(v, out) end
  return out
end

describe("the array cache", function()
  it("keeps a freed block outside the live counts and hands it out again", function()
    collect()
    local m0 = torchlet.memory()
    local x = torchlet.rand(300, 301)
    local m1 = torchlet.memory()
    local bytes = m1.array_bytes - m0.array_bytes
    assert.is_true(bytes >= 300 * 301 * 8 and bytes < 300 * 301 * 8 + 256)
    x = nil
    collect()
    local m2 = torchlet.memory()
    assert.are.equal(m0.array_bytes, m2.array_bytes)
    assert.are.equal(m0.live_nodes, m2.live_nodes)
    assert.are.equal(m1.cached_bytes + bytes, m2.cached_bytes)  -- big blocks: exact size
    local y = torchlet.zeros(300, 301)     -- the rand block, cleared
    local m3 = torchlet.memory()
    -- (a collection run by the pacer may cache a small block meanwhile)
    assert.is_true(m3.cached_bytes >= m2.cached_bytes - bytes and
                   m3.cached_bytes < m2.cached_bytes - bytes + 4096)
    assert.are.equal(m1.array_bytes, m3.array_bytes)
    assert.are.equal(m2.allocated_bytes + bytes + m3.node_size, m3.allocated_bytes)
    assert.are.equal(0, y:sum().data)
    assert.are.equal(0, y:max().data)
    torchlet.empty_cache()
    assert.are.equal(0, torchlet.memory().cached_bytes)
    assert.are.equal(m1.array_bytes, torchlet.memory().array_bytes)
    y:set(1, 1, 5)
    assert.are.equal(5, y:sum().data)
  end)

  it("hands a reused gradient buffer out as zeros", function()
    local a = torchlet.rand(40, 50)
    local two_a = flat(a.data)
    for i, v in ipairs(two_a) do two_a[i] = 2 * v end
    ;(a * a):sum():backward()
    assert.are.same(two_a, flat(a.grad))
    a = nil
    collect()
    local before = torchlet.memory().cached_bytes
    local b = torchlet.rand(40, 50)
    -- matmul's backward adds into the gradient buffer (+=)
    b:matmul(torchlet.full({50, 1}, 3)):sum():backward()
    assert.is_true(torchlet.memory().cached_bytes < before)
    for _, g in ipairs(flat(b.grad)) do assert.are.equal(3, g) end
  end)

  it("trains a model after another as a fresh process does", function()
    -- one model trained for a few steps, on the batched path and on the
    -- scalar path (neuron rows); prints its losses and parameters
    local script = [[
      local t = require "torchlet"
      local function train(seed)
        t.manual_seed(seed)
        local model = t.nn.MLP(6, {8, 3})
        local opt = t.optim.Adam(model:parameters(), {lr = 0.05})
        local X, rows, y = t.rand(10, 6), {}, {}
        for i = 1, 10 do y[i] = i % 3 + 1; rows[i] = X[i].data end
        local out = {}
        for step = 1, 4 do
          local l = t.loss.cross_entropy(model(X), y)
          if step % 2 == 0 then
            local scores = {}
            for i = 1, 10 do scores[i] = model(rows[i]) end
            l = t.loss.cross_entropy(scores, y)
          end
          opt:zero_grad()
          l:backward()
          opt:step()
          out[#out + 1] = ("%.17g"):format(l.data)
        end
        for _, p in ipairs(model:parameters()) do
          local function walk(v)
            if type(v) == "table" then for _, w in ipairs(v) do walk(w) end
            else out[#out + 1] = ("%.17g"):format(v) end
          end
          walk(p.data)
        end
        return table.concat(out, " ")
      end
      return train
    ]]
    local fresh = run_alone(script:gsub("return train%s*$", "io.write(train(2))"))
    local train = load_string(script)()
    local first = train(1)                         -- fills the cache
    collect()
    local cached = torchlet.memory().cached_bytes
    assert.is_true(cached > 0)
    local second = train(2)
    -- (how full the cache is after the second run depends on when the
    -- collector ran, which the GC-stress pass makes arbitrary: only the
    -- results are compared)
    assert.are.equal(fresh, second)
    assert.are_not.equal(first, second)
  end)

  it("never holds more, live plus cached, than was ever live at once", function()
    -- arrays of more than 4 kB keep their exact size, so array_bytes is
    -- what the cache counts as live; 23 sizes of 4.8 to 22 kB, then one
    -- array bigger than everything cached (the script has no comments:
    -- the shell would join its lines)
    local out = run_alone([[
      local t = require "torchlet"
      local peak, worst, evicted = 0, 0, false
      local keep = {}
      for i = 1, 200 do
        local n = 600 + (i * 7919) % 23 * 100
        keep[i % 5 + 1] = t.zeros(n)
        local m = t.memory()
        if m.array_bytes > peak then peak = m.array_bytes end
        if m.cached_bytes + m.array_bytes - peak > worst then
          worst = m.cached_bytes + m.array_bytes - peak
        end
        if i % 3 == 0 then collectgarbage() end
      end
      collectgarbage()
      local before = t.memory().cached_bytes
      local big = t.zeros(1000000)
      print(peak, worst, before, t.memory().cached_bytes)
    ]])
    local peak, worst, before, after = out:match("^(%d+)%s+(%-?%d+)%s+(%d+)%s+(%d+)")
    assert.is_truthy(peak, out)
    assert.is_true(tonumber(worst) <= 0, out)
    assert.is_true(tonumber(before) > 0, out)       -- the loop did cache
    assert.are.equal("0", after)                    -- a new peak evicts all
  end)

  it("is counted by memory() and emptied by empty_cache()", function()
    local x = torchlet.zeros(5000)
    x = nil
    collect()
    local m = torchlet.memory()
    assert.is_true(require("spec.helpers").is_integer(m.cached_bytes))
    assert.is_true(m.cached_bytes >= 5000 * 8)
    assert.are.equal(0, select("#", torchlet.empty_cache()))
    assert.are.equal(0, torchlet.memory().cached_bytes)
    torchlet.empty_cache()                          -- empty already: fine
    assert.are.equal(0, torchlet.memory().cached_bytes)
  end)
end)
