-- spec/float32_spec.lua -- float32 arrays beside float64 ones: making
-- them, every op they support against the same op in float64 (within
-- float32's precision), gradients against central differences at a
-- float32-sized step, matmul against a naive product for odd and thin
-- shapes, the mixing rules and the errors that name both dtypes.
local t = require "torchlet"
local helpers = require "spec.helpers"

local E = t.Element
local near = helpers.near
local F = {dtype = "float32"}

-- float32's unit roundoff: 2^-24
local U = 2 ^ -24

local flat = helpers.flat

-- |a - b| <= tol * max(1, |b|) for every position
local function close(a, b, tol, what)
  a, b = flat(a), flat(b)
  assert.are.equal(#b, #a, what)
  for i = 1, #b do
    local scale = math.max(1, math.abs(b[i]))
    assert(math.abs(a[i] - b[i]) <= tol * scale,
           ("%s [%d]: %.17g vs %.17g"):format(what or "", i, a[i], b[i]))
  end
end

-- values that are exact in float32, so both dtypes start from the same
local function exact_values(n, seed)
  local v, s = {}, seed or 1
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    v[i] = (s % 2001 - 1000) / 256       -- multiples of 2^-8 in [-3.9, 3.9]
  end
  return v
end

local function matrix(values, rows, cols, opts)
  local m = {}
  for i = 1, rows do
    m[i] = {}
    for j = 1, cols do m[i][j] = values[(i - 1) * cols + j] end
  end
  return E(m, opts)
end

describe("float32 arrays: making them", function()
  it("every constructor takes {dtype = ...}, and x.dtype names it", function()
    assert.are.equal("float32", t.zeros(2, 3, F).dtype)
    assert.are.equal("float32", t.ones({2}, F).dtype)
    assert.are.equal("float32", t.full({2, 2}, 7, F).dtype)
    assert.are.equal("float32", t.rand(3, F).dtype)
    assert.are.equal("float32", t.randn(3, F).dtype)
    assert.are.equal("float32", t.arange(4, F).dtype)
    assert.are.equal("float32", E({1, 2}, F).dtype)
    assert.are.equal("float64", E({1, 2}).dtype)
    assert.are.equal("float64", E(3).dtype)
    assert.are.same({1, 1}, t.ones(2, F).data)
    assert.are.same({0, 1, 2, 3}, t.arange(4, F).data)
  end)

  it("rounds values to the nearest float32", function()
    local x = E({0.1, 1 / 3, 1e40, 2 ^ -150}, F)
    local d = x.data
    assert.are.equal(0.100000001490116119384765625, d[1])
    assert.are.equal(0.3333333432674407958984375, d[2])
    assert.are.equal(math.huge, d[3])                 -- past float's range
    assert.are.equal(0, d[4])                          -- below its subnormals
    x:set(1, 0.2)
    assert.are.equal(0.20000000298023223876953125, x:get(1))
  end)

  it("draws the same random numbers as float64, rounded", function()
    t.manual_seed(5)
    local a = t.randn(4, 3)
    t.manual_seed(5)
    local b = t.randn(4, 3, F)
    close(b.data, a.data, U, "randn")
  end)

  it("keeps half the bytes", function()
    collectgarbage()
    collectgarbage()
    local base = t.memory().array_bytes
    local x64 = t.zeros(1000)
    local with64 = t.memory().array_bytes - base
    local x32 = t.zeros(1000, F)
    local with32 = t.memory().array_bytes - base - with64
    assert.is_true(with64 - with32 == 4000, with64 .. " " .. with32)
    assert.is_not_nil(x64) assert.is_not_nil(x32)
  end)

  it("follows set_default_dtype", function()
    local before = t.get_default_dtype()
    assert.are.equal("float64", before)
    assert.are.equal("float64", t.set_default_dtype("float32"))
    local ok, err = pcall(function()
      assert.are.equal("float32", t.zeros(2).dtype)
      assert.are.equal("float32", E({1, 2}).dtype)
      assert.are.equal("float64", t.zeros(2, {dtype = "float64"}).dtype)
      assert.are.equal("float64", E(1).dtype)                   -- scalars stay
    end)
    t.set_default_dtype(before)
    assert(ok, err)
    assert.are.equal("float64", t.zeros(2).dtype)
  end)

  it("refuses dtype names it does not know, and a dtype for a scalar", function()
    helpers.fails("bad argument #2 to 'zeros' (unknown dtype 'float16'",
                  t.zeros, 2, {dtype = "float16"})
    helpers.fails("bad argument #1 to 'set_default_dtype' (dtype name expected",
                  t.set_default_dtype, 32)
    helpers.fails("to' (unknown dtype 'half'",
                  function() return t.zeros(2):to("half") end)
    helpers.fails("bad argument #2 to 'Element' (option 'dtype' is for arrays",
                  E, 1, {dtype = "float32"})
    helpers.fails("unknown option 'dtyp'", t.ones, 2, {dtyp = "float32"})
  end)
end)

-- {== ops against float64 =============================================

local unary = {"neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs",
               "sin", "cos", "softplus", "gelu", "leaky_relu"}

-- Runs build(x, ...) on float64 and float32 copies of the same exact
-- values; compares results and the leaves' gradients (through a weighted
-- sum, so every position has its own).  Positive inputs where 'positive'.
local function against_f64(what, shapes, build, positive)
  local leaves = {[1] = {}, [2] = {}}
  local outs = {}
  for d, dtype in ipairs({"float64", "float32"}) do
    local xs = {}
    for i, shape in ipairs(shapes) do
      local n = 1
      for _, s in ipairs(shape) do n = n * s end
      local v = exact_values(n, i)
      if positive then for j = 1, n do v[j] = math.abs(v[j]) + 0.5 end end
      local x = E(v, {dtype = dtype}):reshape(shape):detach()
      xs[i] = x
    end
    leaves[d] = xs
    local y = build(helpers.unpack(xs))
    assert.are.equal(dtype, y.dtype, what)
    local n, w = 1, {}
    for _, s in ipairs(y.shape) do n = n * s end
    for i = 1, n do w[i] = i / n end
    local weights = E(w, {dtype = dtype}):reshape(y.shape)
    local s = (y * weights):sum()
    s:backward()
    outs[d] = y.data
  end
  close(outs[2], outs[1], 4 * U, what .. " value")
  for i = 1, #shapes do
    close(leaves[2][i].grad, leaves[1][i].grad, 64 * U, what .. " gradient " .. i)
  end
end

describe("float32 ops against float64", function()
  for _, name in ipairs(unary) do
    it(name, function()
      local positive = name == "log" or name == "sqrt"
      against_f64(name, {{3, 4}}, function(x) return x[name](x) end, positive)
    end)
  end

  local binary = {
    add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
    mul = function(a, b) return a * b end, div = function(a, b) return a / b end,
  }
  for name, f in pairs(binary) do
    it(name .. ", same shape and broadcast", function()
      against_f64(name, {{3, 4}, {3, 4}}, f, name == "div")
      against_f64(name .. " broadcast", {{3, 4}, {4}}, f, name == "div")
      against_f64(name .. " column", {{3, 1}, {3, 4}}, f, name == "div")
    end)
  end

  it("a one-value array broadcasts (found by the ops fuzzer)", function()
    assert.are.same({3, 4, 5}, (E({1, 2, 3}, F) + E({2}, F)).data)
    assert.are.same({{3, 4}}, (E({{1, 2}}, F) * E({{3, 2}}, F) - E({0}, F)).data)
  end)

  it("pow and the number forms", function()
    against_f64("pow", {{2, 3}, {2, 3}}, function(a, b) return a ^ (b * 0.25) end, true)
    against_f64("k forms", {{2, 3}}, function(a)
      return ((2 - a) * 3 + 1) / 4 - 2 / (a * a + 1) + a ^ 2 + 2 ^ (a * 0.5)
    end)
  end)

  it("a scalar Element with a float32 array gives float32, as PyTorch's 0-dim tensors do", function()
    local s = E(1.5)
    local x = E({1, 2, 3}, F)
    local y = x * s + s
    assert.are.equal("float32", y.dtype)
    y:sum():backward()
    assert.are.same({1.5, 1.5, 1.5}, x.grad)
    assert.are.equal(6 + 3, s.grad)                    -- sum(x) + 3 positions
  end)

  it("reductions: sum, mean and max, over all and along an axis", function()
    against_f64("sum(1)", {{3, 4}}, function(x) return x:sum(1) end)
    against_f64("mean(2)", {{3, 4}}, function(x) return x:mean(2) end)
    against_f64("max(2)", {{3, 4}}, function(x) return x:max(2) end)
    local x = E({1, 5, 5, 2}, F)
    local m = x:max()
    assert.are.equal("float64", m.dtype)               -- a scalar
    assert.are.equal(5, m.data)
    m:backward()
    assert.are.same({0, 0.5, 0.5, 0}, x.grad)
  end)

  it("transpose, reshape, rows and conversions", function()
    against_f64("transpose", {{3, 4}}, function(x) return x:transpose() end)
    against_f64("reshape", {{3, 4}}, function(x) return x:reshape(2, 6) end)
    against_f64("row", {{3, 4}}, function(x) return x[2] * 1 end)
    local x = E({{1, 2}, {3, 4}}, F)
    local v = x[2][1]
    assert.are.equal("float64", v.dtype)               -- an element: a scalar
    assert.are.equal(3, v.data)
    local d = x:double()
    assert.are.equal("float64", d.dtype)
    assert.are.equal("float32", d:float().dtype)
    assert.are.equal("float32", d:to("float32").dtype)
    assert.are.equal("to", d:float().op)
    ;(d * d):sum():backward()
    assert.are.same({{2, 4}, {6, 8}}, x.grad)          -- through the conversion
  end)
end)

-- {== gradients against central differences ============================

describe("float32 gradients against central differences", function()
  -- the function of xs (flattened) computed in float32; steps of 2^-7
  -- keep the differences well above float32's rounding
  local cases = {
    {"tanh(x * w) summed", {0.5, -1.25, 2, 0.75, 1.5, -0.5}, function(xs)
      local x = E({xs[1], xs[2], xs[3]}, F)
      local w = E({xs[4], xs[5], xs[6]}, F)
      return (x * w):tanh():sum(), {x, w}
    end},
    {"matmul then sigmoid", {1, -2, 0.5, 0.25, 1.5, -1, 2, 0.75}, function(xs)
      local a = E({{xs[1], xs[2]}, {xs[3], xs[4]}}, F)
      local b = E({{xs[5], xs[6]}, {xs[7], xs[8]}}, F)
      return a:matmul(b):sigmoid():mean(), {a, b}
    end},
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local xs = {}
      for i, v in ipairs(c[2]) do xs[i] = v end
      local root, leaves = c[3](xs)
      root:backward()
      local got = {}
      for _, leaf in ipairs(leaves) do flat(leaf.grad, got) end
      local want = helpers.numeric_grad(function(v) return (c[3](v)).data end, xs, 2 ^ -7)
      close(got, want, 2e-3, c[1])
    end)
  end
end)

-- {== matmul ============================================================

-- the product in float64 Lua arithmetic, from the float32 operands' values
local function naive(a, b)
  local n, k, m = #a, #b, #b[1]
  local c = {}
  for i = 1, n do
    c[i] = {}
    for j = 1, m do
      local s = 0
      for p = 1, k do s = s + a[i][p] * b[p][j] end
      c[i][j] = s
    end
  end
  return c
end

describe("float32 matmul", function()
  local shapes = {{1, 1, 1}, {1, 7, 1}, {5, 3, 17}, {7, 13, 5}, {6, 16, 16},
                  {13, 300, 3}, {1, 257, 40}, {37, 64, 33}, {100, 100, 100}}
  for _, sh in ipairs(shapes) do
    local n, k, m = sh[1], sh[2], sh[3]
    it(("(%d x %d)(%d x %d) against the naive product"):format(n, k, k, m), function()
      local a = matrix(exact_values(n * k, 3), n, k, F)
      local b = matrix(exact_values(k * m, 4), k, m, F)
      local c = a:matmul(b)
      assert.are.equal("float32", c.dtype)
      -- each sum of k float products: error within k units of roundoff of
      -- the sum of magnitudes (here the values are below 4, so 16 k)
      close(c.data, naive(a.data, b.data), 16 * k * U * 4, "matmul")
    end)
  end

  it("gives each row the same bits alone as in the whole product", function()
    local a = matrix(exact_values(9 * 300, 7), 9, 300, F)
    local b = matrix(exact_values(300 * 21, 8), 300, 21, F)
    local c = a:matmul(b).data
    for i = 1, 9 do assert.are.same(c[i], a[i]:reshape(1, 300):matmul(b).data[1]) end
    assert.are.same(c, a:matmul(b).data)               -- and run to run
  end)

  it("backward's transposed products against float64", function()
    against_f64("matmul", {{7, 13}, {13, 5}}, function(a, b) return a:matmul(b) end)
    against_f64("matrix @ vector", {{4, 3}, {3}}, function(a, b) return a:matmul(b) end)
    against_f64("vector @ matrix", {{3}, {3, 4}}, function(a, b) return a:matmul(b) end)
  end)

  it("a dot product of two float32 vectors is a scalar", function()
    local a, b = E({1, 2, 3}, F), E({4, 5, 6}, F)
    local d = a:matmul(b)
    assert.are.equal(32, d.data)
    d:backward()
    assert.are.same({4, 5, 6}, a.grad)
    assert.are.same({1, 2, 3}, b.grad)
  end)
end)

-- {== mixing and what is float64 only ===================================

describe("float32 mixing rules", function()
  it("arrays of both dtypes do not mix: the error names both", function()
    local a, b = E({1, 2}, F), E({1, 2})
    helpers.fails("add: dtypes float32 and float64 do not mix", function() return a + b end)
    helpers.fails("mul: dtypes float64 and float32 do not mix", function() return b * a end)
    helpers.fails("matmul: dtypes float32 and float64 do not mix",
                  function() return a:matmul(b) end)
  end)

  it("numbers and losses take the array's dtype", function()
    local s = E({0.5, -1, 2}, F)
    assert.are.equal("float32", (s + 1).dtype)
    local l = t.loss.mse(s, {1, 0, 2})
    near(((0.5 - 1) ^ 2 + 1) / 3, l.data, 1e-12)
    l:backward()
    close(s.grad, {2 * (0.5 - 1) / 3, 2 * -1 / 3, 0}, 4 * U, "mse grad")
  end)

  it("backward seeds a float32 root from a table or an Element", function()
    local x = E({1, 2}, F)
    local y = x * 3
    y:backward({1, 0.5})
    assert.are.same({3, 1.5}, x.grad)
    x.grad = {0, 0}
    y = x * 3
    y:backward(E({2, 2}, F))
    assert.are.same({6, 6}, x.grad)
  end)

  it("a float64 batch into a float32 model: the error names both", function()
    local model = t.nn.MLP(2, {3, 1}, {dtype = "float32"})
    helpers.fails("linear: dtypes float64 and float32 do not mix", model, t.zeros(4, 2))
  end)
end)

-- {== models, losses and optimizers ======================================

describe("float32 models", function()
  it("MLP{dtype = 'float32'} holds the float64 model's draws, rounded, and keeps its labels", function()
    t.manual_seed(3)
    local m64 = t.nn.MLP(3, {5, 2})
    t.manual_seed(3)
    local m32 = t.nn.MLP(3, {5, 2}, {dtype = "float32"})
    local p64, p32 = m64:parameters(), m32:parameters()
    for i = 1, #p64 do
      assert.are.equal("float32", p32[i].dtype)
      assert.are.equal(p64[i].label, p32[i].label)
      close(p32[i].data, p64[i].data, U, "parameter " .. i)
    end
    assert.truthy(tostring(m32):find("float32", 1, true))
    local x = t.randn(4, 3, F)
    close(m32(x).data, m64(x:double()).data, 64 * U, "outputs")
    local y, y64 = m32({0.5, -1, 2}), m64({0.5, -1, 2})  -- one sample: scalars
    close({y[1].data, y[2].data}, {y64[1].data, y64[2].data}, 64 * U, "sample")
  end)

  it("model:float() and model:double() convert in place and return the model", function()
    t.manual_seed(4)
    local m = t.nn.MLP(2, {3, 1})
    local before = m:parameters()[1].data
    assert.are.equal(m, m:float())
    assert.are.equal("float32", m:parameters()[1].dtype)
    m:double()
    assert.are.equal("float64", m:parameters()[2].dtype)
    close(m:parameters()[1].data, before, U, "round trip through float32")
  end)

  it("cross-entropy over float32 logits against float64", function()
    against_f64("cross_entropy", {{4, 3}}, function(x)
      return t.loss.cross_entropy(x, {1, 3, 2, 3}) * E({1}, {dtype = x.dtype})
    end)
  end)

  it("an optimizer step on a float32 parameter is the float64 step, rounded", function()
    local w = E({1.5, -0.25, 3}, F)
    local g = {0.1, 0.2, -0.3}
    local opt = t.optim.SGD({w}, {lr = 0.1, momentum = 0.9})
    for _ = 1, 3 do
      w.grad = g
      opt:step()
    end
    -- momentum in float64, from the float32 values: b = g, 1.9 g, 2.71 g
    local want = {}
    local start = {1.5, -0.25, 3}
    for i = 1, 3 do
      local p = start[i]
      for _, b in ipairs({1, 1.9, 2.71}) do
        p = p - 0.1 * (b * (g[i] == 0.1 and 0.100000001490116119384765625 or
                            g[i] == 0.2 and 0.20000000298023223876953125 or
                            -0.300000011920928955078125))
      end
      want[i] = p
    end
    close(w.data, want, 2 * U, "SGD with momentum")
  end)

  it("trains: Adam lowers a float32 MLP's loss", function()
    t.manual_seed(2)
    local m = t.nn.MLP(4, {8, 3}, {dtype = "float32"})
    local X = t.randn(6, 4, {dtype = "float32", requires_grad = false})
    local y = {1, 2, 3, 1, 2, 3}
    local opt = t.optim.Adam(m:parameters(), {lr = 0.02})
    local first
    for i = 1, 60 do
      local l = t.loss.cross_entropy(m(X), y)
      first = first or l.data
      opt:zero_grad()
      l:backward()
      opt:step()
    end
    local last = t.loss.cross_entropy(m(X), y).data
    assert.is_true(last < first / 2, first .. " -> " .. last)
    assert.are.equal("float32", m:parameters()[1].dtype)
  end)

  it("saves its dtype: a float32 model loads back float32, bit for bit; float64 files stay version 2", function()
    local tmppath, cleanup = helpers.temp_paths()
    local f32, f64 = tmppath(".tlnn"), tmppath(".tlnn")
    t.manual_seed(6)
    local m = t.nn.MLP(3, {4, 2}, {dtype = "float32"})
    m:save(f32)
    t.nn.MLP(3, {4, 2}):save(f64)
    local m2 = t.nn.load(f32)
    assert.are.equal("float32", m2:parameters()[1].dtype)
    for i, p in ipairs(m:parameters()) do assert.are.same(p.data, m2:parameters()[i].data) end
    assert.are.equal(3, helpers.u32le(helpers.read_file(f32), 9))
    assert.are.equal(2, helpers.u32le(helpers.read_file(f64), 9))
    assert.are.equal("float64", t.nn.load(f64):parameters()[1].dtype)
    cleanup()
  end)

  it("safetensors: a float32 model is written as F32 and loads back float32; export_c asks for float64", function()
    local tmppath, cleanup = helpers.temp_paths()
    local path = tmppath(".safetensors")
    t.manual_seed(8)
    local m = t.nn.MLP(3, {4, 2}, {dtype = "float32"})
    m:save(path)
    local bytes = helpers.read_file(path)
    assert.truthy(bytes:find('"dtype":"F32"', 1, true))
    assert.is_nil(bytes:find('"F64"', 1, true))
    assert.truthy(bytes:find('"torchlet.dtype":"float32"', 1, true))
    local m2 = t.nn.load(path)
    assert.are.equal("float32", m2:parameters()[1].dtype)
    for i, p in ipairs(m:parameters()) do assert.are.same(p.data, m2:parameters()[i].data) end
    local h = tmppath(".h")        -- export_c_spec runs such headers
    m:export_c(h)
    assert.truthy(helpers.read_file(h):find("static const float w1[12]", 1, true))
    cleanup()
  end)
end)
