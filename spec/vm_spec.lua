-- spec/vm_spec.lua -- the C part, torchlet.core, on every Lua VM it builds
-- for: Lua 5.4 and 5.3, and Lua 5.1 and LuaJIT through bindings/tlb_compat.h.
-- setup.sh runs this file under each VM; it keeps to the Lua 5.1 subset and
-- requires only torchlet.core (Elements, arrays, nn, optim, loss, drawing),
-- since the pure-Lua part is written for 5.3+.
local core = require "torchlet.core"
local Element = core.Element

-- Lua 5.1 and LuaJIT (whose _VERSION is also "Lua 5.1") refuse to compare a
-- userdata with a number before any metamethod runs.
local mixed_compare = _VERSION ~= "Lua 5.1"

local function message(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

describe("torchlet.core on " .. (jit and jit.version or _VERSION), function()
  it("computes the README example and prints as on Lua 5.4", function()
    local a, b = Element(2.0, "a"), Element(3.0, "b")
    local c = a * b
    local d = c + a
    d:backward()
    assert.are.equal(4, a.grad)
    assert.are.equal(2, b.grad)
    assert.are.equal("Element(data=8.0, grad=1.0)", tostring(d))
    assert.are.equal('Element(data=2.0, grad=4.0, label="a")', tostring(a))
    assert.are.equal("Element(data=0.5, grad=0.0)", tostring(Element(0.5)))
  end)

  it("mixes numbers on either side of every operator", function()
    local x = Element(2)
    local y = 1 - x * 3 + 8 / x - x ^ 2 + 2 ^ x - (-x) / 4
    y:backward()
    -- y = 1 - 3x + 8/x - x^2 + 2^x + x/4
    assert.is_true(math.abs(y.data - (1 - 6 + 4 - 4 + 4 + 0.5)) < 1e-12)
    local dy = -3 - 8 / 4 - 2 * 2 + 4 * math.log(2) + 0.25
    assert.is_true(math.abs(x.grad - dy) < 1e-12)
  end)

  it("trains y = 2x + 1 by gradient descent", function()
    local w, b = Element(0), Element(0)
    for _ = 1, 200 do
      local loss = 0
      for x = -2, 2 do loss = loss + (w * x + b - (2 * x + 1)) ^ 2 end
      w.grad, b.grad = 0, 0
      loss:backward()
      w.data = w.data - 0.02 * w.grad
      b.data = b.data - 0.02 * b.grad
    end
    assert.is_true(math.abs(w.data - 2) < 1e-6 and math.abs(b.data - 1) < 1e-6)
  end)

  it("has the unary methods, detach, children and no_grad", function()
    local x = Element(0.5)
    local y = x:tanh() + x:exp() + x:sigmoid() + x:relu()
    y:backward()
    local t = math.tanh(0.5)
    local s = 1 / (1 + math.exp(-0.5))
    assert.is_true(math.abs(x.grad - (1 - t * t + math.exp(0.5) + s * (1 - s) + 1)) < 1e-12)
    assert.are.equal(2, #(x * x):children())
    assert.are.equal("", x:detach().op)
    local z = core.no_grad(function() return x * 2 end)
    assert.are.equal("", z.op)
    assert.is_true(core.is_grad_enabled())
  end)

  it("compares Elements, and numbers where the VM allows it", function()
    local a, b = Element(1), Element(2)
    assert.is_true(a < b and a <= b and not (b < a))
    if mixed_compare then
      assert.is_true(a < 2 and 0 < a and a <= 1)
    else
      assert.truthy(message(function() return a < 2 end):find("attempt to compare", 1, true))
    end
  end)

  it("gives the same argument errors as on Lua 5.4", function()
    assert.truthy(message(Element, "1"):find("expected, got string", 1, true))
    assert.truthy(message(function() return Element(1) + {} end)
      :find("bad argument #2 to '__add' (Element or number expected, got table)", 1, true))
    assert.truthy(message(Element(1).backward, 5)
      :find("Element expected, got number", 1, true))
    assert.truthy(message(core.manual_seed, 2.5)
      :find("bad argument #1 to 'manual_seed' (integer expected, got number)", 1, true))
    assert.truthy(message(function() Element(1).nope = 1 end)
      :find("Element has no settable field 'nope'", 1, true))
  end)

  it("names positions and sizes in messages as given (no %I, no int cast)", function()
    assert.truthy(message(function() return Element({ 1, 2 })[2 ^ 31] end)
      :find("index 2147483648 out of range 1..2", 1, true))
    assert.truthy(message(function() return Element({ 1, 2 }):get(-2 ^ 40) end)
      :find("index -1099511627776 out of range 1..2", 1, true))
    assert.truthy(message(Element, 1, "a\0b")
      :find("label contains a NUL byte at position 2", 1, true))
    assert.truthy(message(core.arange, 0, 1e10)
      :find("range of 10000000000 values is too large", 1, true))
  end)

  it("builds arrays from nested tables and sends gradients back", function()
    local X = Element({ { 1, 2 }, { 3, 4 } })
    local W = Element({ { 1, 0 }, { 0, 2 } })
    local loss = (X:matmul(W) * X):sum()
    loss:backward()
    assert.are.same({ 2, 2 }, X.shape)
    assert.are.equal(1 + 8 + 9 + 32, loss.data)
    assert.are.same({ { 2, 8 }, { 6, 16 } }, X.grad)
    assert.are.same({ { 1, 4 }, { 9, 16 } }, (X * X):totable())
    assert.are.equal(4, X:numel())
  end)

  it("trains an nn.MLP with an optimizer and a loss from C", function()
    core.manual_seed(1)
    local model = core.nn.MLP(2, { 4, 1 }, { activation = "tanh", output = "tanh" })
    local opt = core.optim.SGD(model:parameters(), { lr = 0.1, momentum = 0.9 })
    local X, y = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }, { -1, 1, 1, -1 }
    local first, last
    for _ = 1, 200 do
      local scores = {}
      for i = 1, 4 do scores[i] = model(X[i]) end
      local l = core.loss.mse(scores, y)
      first = first or l.data
      last = l.data
      opt:zero_grad()
      l:backward()
      opt:step()
    end
    assert.is_true(last < 0.01 and last < first, "loss " .. first .. " -> " .. last)
    assert.are.equal(4, #model:parameters())
    assert.are.equal(17, #model:parameters({scalar = true}))
    -- torchlet.core alone: micrograd's line (the summary is the Lua part's)
    assert.truthy(tostring(model):find("MLP of [", 1, true))
  end)

  it("draws a graph with both views", function()
    local a, b = Element(2, "a"), Element(3, "b")
    local d = a * b + a
    d:backward()
    assert.truthy(d:to_dot():find("digraph", 1, true))
    for _, method in ipairs { "graphviz", "cairo" } do
      local base = os.tmpname()     -- made empty by tmpname; the picture beside it
      local path = base .. ".svg"
      os.remove(base)
      assert.are.equal(path, d:visualize(method, { file = path }))
      local f = assert(io.open(path, "r"))
      local text = f:read("*a")
      f:close()
      os.remove(path)
      assert.truthy(text:find("<svg", 1, true), method .. " wrote no SVG")
    end
  end)

  it("frees nodes when their handles are collected", function()
    collectgarbage()
    local before = core.memory().live_nodes
    do
      local x = Element(1)
      for _ = 1, 1000 do x = x * 1.0001 end
      assert.is_true(core.memory().live_nodes >= before + 1000)
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, core.memory().live_nodes)
  end)
end)
