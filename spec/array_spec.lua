-- spec/array_spec.lua -- array Elements: every op's gradient against central
-- differences on random shapes (broadcasting included), matmul against a
-- naive product, and bad input.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local unpack = require("spec.helpers").unpack   -- a global on 5.1
local E = torchlet.Element
local near = helpers.near

local rng_state = 12345
-- A small deterministic generator for test data, independent of Lua's.
local function rand()
  rng_state = (rng_state * 1103515245 + 12345) % 2147483648
  return rng_state / 2147483648
end

-- A nested table of the given shape; values in [lo, hi).
local function random_table(shape, lo, hi, level)
  level = level or 1
  local t = {}
  for i = 1, shape[level] do
    if level == #shape then t[i] = lo + (hi - lo) * rand()
    else t[i] = random_table(shape, lo, hi, level + 1) end
  end
  return t
end

local function size_of(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

-- The 1-based multi-index of flat position k (0-based) in 'shape'.
local function unflatten(shape, k)
  local idx = {}
  for d = #shape, 1, -1 do
    idx[d] = k % shape[d] + 1
    k = math.floor(k / shape[d])
  end
  return idx
end

-- Weighted sum of an op's output, so every output value matters.
local function loss_of(out, weights)
  if torchlet.is_element(out) and #out.shape > 0 then return (out * weights):sum() end
  return out * weights
end

-- Checks the gradients fn(inputs...) sends to each input against central
-- differences.  'shapes' lists the inputs' shapes ({} for a scalar Element).
local function check_gradients(shapes, fn, lo, hi, tol)
  lo, hi, tol = lo or -2, hi or 2, tol or 1e-5
  local inputs = {}
  for i, shape in ipairs(shapes) do
    inputs[i] = #shape == 0 and E(lo + (hi - lo) * rand()) or E(random_table(shape, lo, hi))
  end
  local out = fn(unpack(inputs))
  local wshape = out.shape
  local weights = #wshape == 0 and 0.5 + rand() or E(random_table(wshape, 0.5, 1.5))
  local l = loss_of(out, weights)
  l:backward()
  local function evaluate()
    return torchlet.no_grad(function() return loss_of(fn(unpack(inputs)), weights).data end)
  end
  for i, x in ipairs(inputs) do
    local shape = shapes[i]
    local grad = x.grad
    for k = 0, size_of(shape) - 1 do
      local idx = unflatten(shape, k)
      local function get() if #shape == 0 then return x.data end return x:get(unpack(idx)) end
      local function set(v)
        if #shape == 0 then x.data = v else
          local args = {unpack(idx)}
          args[#args + 1] = v
          x:set(unpack(args))
        end
      end
      local saved, h = get(), 1e-6
      set(saved + h)
      local up = evaluate()
      set(saved - h)
      local down = evaluate()
      set(saved)
      local analytic = grad
      if #shape > 0 then for _, j in ipairs(idx) do analytic = analytic[j] end end
      near((up - down) / (2 * h), analytic, tol,
           string.format("input %d at flat %d", i, k))
    end
  end
  return out
end

describe("array Elements", function()
  it("are made from nested tables and give them back", function()
    local X = E({{0.1, 0.2}, {0.3, 0.4}})
    assert.are.same({2, 2}, X.shape)
    assert.are.equal(2, #X)
    assert.are.same({{0.1, 0.2}, {0.3, 0.4}}, X:totable())
    assert.are.same({{0.1, 0.2}, {0.3, 0.4}}, X.data)
    assert.are.same({{0, 0}, {0, 0}}, X.grad)
    assert.are.equal(0.3, X:get(2, 1))
    X:set(2, 1, 5)
    assert.are.equal(5, X:get(2, 1))
    X.data = {{1, 2}, {3, 4}}
    assert.are.same({{1, 2}, {3, 4}}, X.data)
    assert.are.equal(4, X:numel())
    assert.matches("shape=%(2, 2%)", tostring(X))
    assert.are.equal("[[1, 2],\n [3, 4]]", tostring(X.data))
    -- a vector's values on one line, a matrix's rows one per line
    assert.are.equal("[4, 6, 0.5]", tostring(E({4, 6, 0.5}).data))
    -- scalars still give numbers everywhere
    local s = E(2)
    assert.are.same({}, s.shape)
    assert.are.equal(2, s.data)
  end)

  it("has constructors", function()
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, torchlet.zeros(2, 3).data)
    assert.are.same({1, 1}, torchlet.ones({2}).data)
    assert.are.same({{7, 7}}, torchlet.full({1, 2}, 7).data)
    assert.are.same({0, 1, 2}, torchlet.arange(3).data)
    assert.are.same({1, 3}, torchlet.arange(1, 5, 2).data)
    local r = torchlet.rand(100)
    for _, v in ipairs(r.data) do assert.is_true(v >= 0 and v < 1) end
    torchlet.manual_seed(7)
    local a = torchlet.randn(3, 3).data
    torchlet.manual_seed(7)
    assert.are.same(a, torchlet.randn(3, 3).data)
  end)

  it("indexes rows with 1-based indices, and gradients flow back", function()
    local X = E({{1, 2, 3}, {4, 5, 6}})
    assert.are.same({4, 5, 6}, X[2].data)
    assert.are.equal(6, X[2][3].data)
    local y = X[2][3] * 2 + X[1]:sum()
    y:backward()
    assert.are.same({{1, 1, 1}, {0, 0, 2}}, X.grad)
  end)
end)

describe("array op gradients against central differences", function()
  local binary = {
    {"+", function(a, b) return a + b end},
    {"-", function(a, b) return a - b end},
    {"*", function(a, b) return a * b end},
    {"/", function(a, b) return a / b end, 0.5, 2},
    {"^", function(a, b) return a ^ b end, 0.5, 2},
  }
  local shape_pairs = {
    {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}},
    {{4}, {}}, {{}, {2, 3}},
  }
  for _, row in ipairs(binary) do
    for _, shapes in ipairs(shape_pairs) do
      local desc = string.format("'%s' on shapes %d-d and %d-d", row[1], #shapes[1], #shapes[2])
      it(desc .. " (" .. table.concat(shapes[1], "x") .. " with " .. table.concat(shapes[2], "x") .. ")", function()
        check_gradients(shapes, row[2], row[3], row[4])
      end)
    end
    it("'" .. row[1] .. "' with a number on either side of an array", function()
      check_gradients({{2, 3}}, function(a) return row[2](a, 1.5) end, 0.5, 2)
      check_gradients({{2, 3}}, function(a) return row[2](1.5, a) end, 0.5, 2)
    end)
  end

  for _, name in ipairs({"neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs", "sin", "cos"}) do
    it(name .. " elementwise", function()
      local lo = (name == "log" or name == "sqrt") and 0.2 or -2
      check_gradients({{3, 4}}, function(a) return a[name](a) end, lo, 2)
    end)
  end

  for _, red in ipairs({"sum", "mean", "max"}) do
    it(red .. " over everything and along each axis", function()
      check_gradients({{3, 4}}, function(a) return a[red](a) end)
      check_gradients({{3, 4}}, function(a) return a[red](a, 1) end)
      check_gradients({{3, 4}}, function(a) return a[red](a, 2) end)
      check_gradients({{2, 3, 4}}, function(a) return a[red](a, 2) end)
      check_gradients({{5}}, function(a) return a[red](a, 1) end)
    end)
  end

  it("matmul, with vectors on either side", function()
    check_gradients({{3, 4}, {4, 5}}, function(a, b) return a:matmul(b) end)
    check_gradients({{4}, {4, 5}}, function(a, b) return a:matmul(b) end)
    check_gradients({{3, 4}, {4}}, function(a, b) return a:matmul(b) end)
    check_gradients({{4}, {4}}, function(a, b) return a:matmul(b) end)
  end)

  it("transpose, reshape and indexing", function()
    check_gradients({{3, 4}}, function(a) return a:transpose() end)
    check_gradients({{3, 4}}, function(a) return a:reshape(2, 6) end)
    check_gradients({{3, 4}}, function(a) return a:reshape({4, -1}) end)
    check_gradients({{3, 4}}, function(a) return a[2] * a[3] end)
  end)

  it("a small network over a batch: relu(X W + b) summed", function()
    check_gradients({{5, 3}, {3, 4}, {4}}, function(x, w, b)
      return (x:matmul(w) + b):relu():sum() end)
  end)
end)

describe("matmul", function()
  local function naive(a, b)
    local c = {}
    for i = 1, #a do
      c[i] = {}
      for j = 1, #b[1] do
        local s = 0
        for p = 1, #b do s = s + a[i][p] * b[p][j] end
        c[i][j] = s
      end
    end
    return c
  end

  for _, dims in ipairs({{1, 1, 1}, {3, 7, 5}, {17, 70, 33}, {65, 130, 257}}) do
    it(string.format("matches a naive product at %dx%d times %dx%d", dims[1], dims[2], dims[2], dims[3]), function()
      local a = random_table({dims[1], dims[2]}, -1, 1)
      local b = random_table({dims[2], dims[3]}, -1, 1)
      local got = E(a):matmul(E(b)).data
      local want = naive(a, b)
      for i = 1, dims[1] do
        for j = 1, dims[3] do near(want[i][j], got[i][j], 1e-12) end
      end
    end)
  end
end)

describe("backward from an array root", function()
  it("needs an explicit gradient of the root's shape", function()
    local X = E({{1, 2}, {3, 4}})
    local Y = X * X
    local ok, err = pcall(function() Y:backward() end)
    assert.is_false(ok)
    assert.matches("root is an array of shape %(2, 2%); pass a gradient", err)
    Y:backward({{1, 0}, {0, 1}})
    assert.are.same({{2, 0}, {0, 8}}, X.grad)
    Y:backward(torchlet.ones(2, 2))
    assert.are.same({{4, 4}, {6, 16}}, X.grad)
    assert.has_error(function() Y:backward({1, 2}) end)
  end)
end)

describe("array bad input", function()
  local cases = {
    {"ragged rows", function() return E({{1, 2}, {3}}) end, "ragged nested table: value%[2%] has 1 entries, 2 expected"},
    {"a string inside", function() return E({{1, 2}, {3, "x"}}) end, "value%[2%]%[2%] is a string, number expected"},
    {"a table where a number belongs", function() return E({1, {2}}) end, "value%[2%] is a table, number expected"},
    {"an empty table", function() return E({}) end, "empty table"},
    {"zero dimensions", function() return torchlet.zeros(0, 2) end, "bad argument #1 to 'zeros'"},
    {"negative dimensions", function() return torchlet.ones(2, -1) end, "bad argument #2 to 'ones'"},
    {"fractional dimensions", function() return torchlet.randn({2.5}) end, "dimension 1 must be a positive integer"},
    {"too many dimensions", function() return torchlet.zeros(1, 1, 1, 1, 1) end, "at most 4 dimensions"},
    {"mismatched shapes", function() return E({1, 2, 3}) + E({{1, 2}}) end, "add: shapes %(3%) and %(1, 2%) do not broadcast"},
    {"matmul mismatch", function() return torchlet.zeros(2, 3):matmul(torchlet.zeros(2, 3)) end, "matmul: shapes %(2, 3%) and %(2, 3%) do not match"},
    {"index out of range", function() return E({1, 2})[3] end, "index 3 out of range 1..2"},
    {"index zero", function() return E({1, 2})[0] end, "index 0 out of range"},
    {"get out of range", function() return (E({{1, 2}}):get(1, 3)) end, "bad argument #2 to 'get' %(index 3 out of range 1..2%)"},
    {"get with too few indices", function() return (E({{1, 2}}):get(1)) end, "bad argument #2 to 'get'"},
    {"set with a string", function() E({1, 2}):set(1, "x") end, "bad argument #2 to 'set' %(number expected, got string%)"},
    {"axis out of range", function() return (E({1, 2}):sum(2)) end, "axis 2 out of range"},
    {"reshape to another size", function() return E({1, 2, 3}):reshape(2, 2) end, "cannot reshape %(3%)"},
    {"transpose of a vector", function() return E({1, 2}):transpose() end, "a matrix expected, got shape %(2%)"},
    {"ordering arrays", function() return E({1}) < E({2}) end, "array Elements have no order"},
    {"data of another shape", function() local x = E({1, 2}); x.data = {1, 2, 3} end, "of the Element's shape expected"},
    {"length of a scalar", function() return #E(1) end, "a scalar Element has no length"},
    -- positions are not cast to int in messages (issue 12: 8)
    {"index 2^31", function() return E({1, 2})[2^31] end, "index 2147483648 out of range 1..2"},
    {"index -2^40", function() return E({1, 2})[-2^40] end, "index %-1099511627776 out of range 1..2"},
    {"get at 2^31", function() return E({1, 2}):get(2^31) end, "%(index 2147483648 out of range 1..2%)"},
    {"axis 2^32 + 1", function() return E({1, 2}):sum(2^32 + 1) end, "axis 4294967297 out of range for 1 dimensions"},
    {"index of a scalar", function() return E(1)[2^31] end, "a scalar Element has no index 2147483648"},
    -- lua_pushfstring has no %.0f
    {"arange of 1e10 values", function() return torchlet.arange(0, 1e10) end, "range of 10000000000 values is too large"},
    {"arange of 1e300 values", function() return torchlet.arange(0, 1e300) end, "range of 1e%+300 values is too large"},
  }
  for _, case in ipairs(cases) do
    it("rejects " .. case[1], function()
      local ok, err = pcall(case[2])
      assert.is_false(ok)
      assert.matches(case[3], err)
    end)
  end

  it("leaves the Element untouched when an assignment is rejected", function()
    local x = E({1, 2})
    pcall(function() x.data = {5, "x"} end)
    assert.are.same({1, 2}, x.data)
  end)
end)

describe("check_numerics on array ops", function()
  it("names reductions and matmul that overflow", function()
    torchlet.check_numerics(true)
    local ok1, e1 = pcall(function() return E({1e308, 1e308}):sum() end)
    local ok2, e2 = pcall(function() return E({{1e308, 1e308}}):matmul(E({{1}, {1}})) end)
    local ok3 = pcall(function() return E({1, 2}):sum() end)
    torchlet.check_numerics(false)
    assert.is_false(ok1)
    assert.matches("sum produced inf", e1)
    assert.is_false(ok2)
    assert.matches("matmul produced inf", e2)
    assert.is_true(ok3)
  end)
end)
