-- requires_grad: data that backward computes no gradient for (PyTorch's
-- requires_grad = False), and the work that backward skips for it.
local torchlet = require "torchlet"
local Element = torchlet.Element

-- Central difference of f (a function of nothing, reading x's data) at x[i][j].
local function numeric(f, x, i, j, h)
  h = h or 1e-6
  local rows = x.data
  local v = rows[i][j]
  rows[i][j] = v + h; x.data = rows
  local up = f()
  rows[i][j] = v - h; x.data = rows
  local down = f()
  rows[i][j] = v; x.data = rows
  return (up - down) / (2 * h)
end

describe("requires_grad", function()
  it("is true for leaves unless asked otherwise, as before", function()
    assert.is_true(Element(1).requires_grad)
    assert.is_true(torchlet.zeros(2, 3).requires_grad)
    assert.is_false(Element(1, {requires_grad = false}).requires_grad)
    assert.is_false(Element({1, 2}, {requires_grad = false}).requires_grad)
    for _, make in ipairs{
      function(o) return torchlet.zeros(2, 3, o) end,
      function(o) return torchlet.ones({2, 3}, o) end,
      function(o) return torchlet.rand(4, o) end,
      function(o) return torchlet.randn(2, 2, o) end,
      function(o) return torchlet.full({2}, 7, o) end,
      function(o) return torchlet.arange(1, 5, 1, o) end,
    } do
      assert.is_false(make{requires_grad = false}.requires_grad)
      assert.is_true(make{requires_grad = true}.requires_grad)
    end
    -- the options do not change what is made
    assert.are.same({{7, 7}}, {torchlet.full({2}, 7, {requires_grad = false}).data})
    assert.are.same({1, 2, 3}, torchlet.arange(1, 4, {requires_grad = false}).data)
    assert.are.equal("x", Element(2, {label = "x"}).label)
  end)

  it("passes to results: needed when any input needs it", function()
    local x = torchlet.rand(3, 2, {requires_grad = false})
    local w = torchlet.rand(2, 2)
    assert.is_false((x * 2).requires_grad)
    assert.is_false((x + x):sum().requires_grad)
    assert.is_true((x:matmul(w)).requires_grad)
    -- a result of data alone is a leaf: no graph behind it
    assert.are.equal("", (x * 2).op)
    assert.are.equal(0, #(x * 2):children())
  end)

  it("gives the gradients of what needs them, against central differences", function()
    torchlet.manual_seed(3)
    local x = torchlet.rand(4, 3, {requires_grad = false})
    local w = torchlet.rand(3, 2)
    local b = torchlet.rand(2)
    local function f() return ((x:matmul(w) + b):tanh() * (x:matmul(w))):sum() end
    local l = f()
    l:backward()
    local g = w.grad
    for i = 1, 3 do
      for j = 1, 2 do
        assert.is_near(numeric(function() return f().data end, w, i, j), g[i][j], 1e-7)
      end
    end
    -- and the data's gradient is absent: it reads as zeros
    assert.are.same({{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, x.grad)
  end)

  it("matches the gradients of a run where the data needs them too", function()
    torchlet.manual_seed(5)
    local rows = torchlet.rand(5, 4).data
    local model = torchlet.nn.MLP(4, {3, 2})
    local function grads(requires)
      model:zero_grad()
      local X = Element(rows, {requires_grad = requires})
      torchlet.loss.cross_entropy(model(X), {1, 2, 2, 1, 2}):backward()
      local out = {}
      for _, p in ipairs(model:parameters()) do out[#out + 1] = p.grad end
      return out, X.grad
    end
    local with, gx = grads(true)
    local without, gx0 = grads(false)
    assert.are.same(with, without)                   -- bit for bit
    assert.are_not.same(gx0, gx)                     -- the data's own: only with
    assert.are.same({0, 0, 0, 0}, gx0[1])
  end)

  it("skips data in the scalar path's gradient sums too", function()
    local a = Element(3, {requires_grad = false})
    local b = Element(4)
    local c = a * b + a
    c:backward()
    assert.are.equal(3, b.grad)
    assert.are.equal(0, a.grad)
  end)

  it("refuses a backward pass from a root that needs no gradient", function()
    local x = torchlet.rand(2, {requires_grad = false})
    assert.has_error(function() (x * 3):sum():backward() end,
      "backward: the root needs no gradient (requires_grad is false, on it or on every leaf it comes from)")
  end)

  it("can be switched on a leaf, which freezes a parameter", function()
    local w = torchlet.rand(2, 2)
    local x = torchlet.rand(3, 2, {requires_grad = false})
    x:matmul(w):sum():backward()
    assert.are_not.same({{0, 0}, {0, 0}}, w.grad)
    w.requires_grad = false                          -- frozen: its gradient goes
    assert.are.same({{0, 0}, {0, 0}}, w.grad)
    local opt = torchlet.optim.SGD({w}, {lr = 1})
    local before = w.data
    x.requires_grad = true
    x:matmul(w):sum():backward()
    opt:step()
    assert.are.same(before, w.data)                  -- no gradient, no update
    assert.are_not.same({{0, 0}, {0, 0}, {0, 0}}, x.grad)
    w.requires_grad = true
    assert.is_true(w.requires_grad)
  end)

  it("lets nothing leak", function()
    collectgarbage(); collectgarbage()
    local before = torchlet.memory()
    do
      local x = torchlet.rand(8, 4, {requires_grad = false})
      local w = torchlet.rand(4, 3)
      for _ = 1, 3 do ((x:matmul(w)):relu() + x:sum()):sum():backward() end
    end
    collectgarbage(); collectgarbage()
    local after = torchlet.memory()
    assert.are.equal(before.live_nodes, after.live_nodes)
    assert.are.equal(before.array_bytes, after.array_bytes)
  end)
end)
