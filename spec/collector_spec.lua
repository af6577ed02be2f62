-- spec/collector_spec.lua -- Lua's collector is told about the core's
-- memory (bindings/element.c, tlb_pace), so loops that drop big arrays or
-- whole graphs stay bounded with default collector settings.  Measured in
-- bytes the core holds, not in time.
local torchlet = require "torchlet"

-- Runs fn(i) 'n' times with the collector in its default mode and
-- settings and no collectgarbage() calls; returns the most array bytes
-- the core held at any point.
local function peak_array_bytes(n, fn)
  collectgarbage("collect")
  local peak = 0
  for i = 1, n do
    fn(i)
    local b = torchlet.memory().array_bytes
    if b > peak then peak = b end
  end
  return peak
end

local MB = 1024 * 1024

describe("the collector and the core's memory", function()
  local was
  before_each(function() was = torchlet.pace_collector(true) end)
  after_each(function() torchlet.pace_collector(was); collectgarbage("collect") end)

  it("counts array bytes: values with their header, and gradients once made", function()
    collectgarbage("collect")
    local before = torchlet.memory()
    local x = torchlet.zeros(100, 10)
    local mid = torchlet.memory()
    local values = mid.array_bytes - before.array_bytes
    assert.is_true(values >= 1000 * 8 and values < 1000 * 8 + 256)
    local y = (x * 2):sum()
    y:backward()
    local after = torchlet.memory()
    -- x * 2 holds 1000 values; x and x * 2 got gradients; the sum is 0-d
    assert.is_true(after.array_bytes - mid.array_bytes >= 3 * 1000 * 8)
    assert.is_true(after.allocated_bytes > mid.allocated_bytes)
    x, y = nil, nil
    collectgarbage("collect")
    assert.are.equal(before.array_bytes, torchlet.memory().array_bytes)
  end)

  it("frees dropped 1 MB arrays as it goes, where it used to let them pile up", function()
    local function loop()
      return peak_array_bytes(300, function()
        local a = torchlet.zeros(128, 1024)            -- 1 MB
        local b = a + 1
        return b
      end)
    end
    local paced = loop()
    torchlet.pace_collector(false)
    local unpaced = loop()
    assert.is_true(paced < 24 * MB, ("paced peak %.1f MB"):format(paced / MB))
    assert.is_true(unpaced > 4 * paced,
      ("unpaced %.1f MB against paced %.1f MB"):format(unpaced / MB, paced / MB))
  end)

  it("keeps a training loop's graphs bounded", function()
    torchlet.manual_seed(1)
    local model = torchlet.nn.MLP(64, {64, 4})
    local opt = torchlet.optim.Adam(model:parameters(), {lr = 1e-3})
    local X = torchlet.rand(256, 64)
    local y = {}
    for i = 1, 256 do y[i] = i % 4 + 1 end
    local peak = peak_array_bytes(200, function()
      local l = torchlet.loss.cross_entropy(model(X), y)
      opt:zero_grad()
      l:backward()
      opt:step()
    end)
    -- one step's arrays are about 1 MB; the bound leaves room for the
    -- collector's own pace (a cycle per heap-size of allocation)
    assert.is_true(peak < 16 * MB, ("peak %.1f MB"):format(peak / MB))
  end)

  it("is a switch that returns its previous value and takes booleans only", function()
    assert.is_true(torchlet.pace_collector(false))
    assert.is_false(torchlet.pace_collector(true))
    assert.has_error(function() torchlet.pace_collector(1) end)
    assert.has_error(function() torchlet.pace_collector() end)
  end)
end)
