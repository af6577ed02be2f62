-- spec/modules_spec.lua -- nn.Linear, nn.Sequential, the activation
-- modules, nn.Dropout, user-defined modules and the MLP as a Sequential
-- (lua/torchlet/modules.lua): values and gradients against central
-- differences and PyTorch 1.13 (spec/reference/modules_torch.py), MLP
-- equality bit for bit, summaries, train/eval, training.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local reference = require "spec.reference.modules_torch"

local nn, E = torchlet.nn, torchlet.Element
local near, fails = helpers.near, helpers.fails

local flat = helpers.flat

local function same_bits(a, b, what)
  a, b = flat(a), flat(b)
  assert.are.equal(#a, #b, what)
  for i = 1, #a do
    assert(a[i] == b[i] or (a[i] ~= a[i] and b[i] ~= b[i]),
      ("%s [%d]: %.17g ~= %.17g"):format(what, i, a[i], b[i]))
  end
end

local function all_near(want, got, tol, what)
  want, got = flat(want), flat(got)
  assert.are.equal(#want, #got, what)
  for i = 1, #want do near(want[i], got[i], tol, what .. " [" .. i .. "]") end
end

-- The value of a module's output as numbers (an Element, or a table of
-- scalar Elements).
local function values(y)
  if torchlet.is_element(y) then return y.data end
  local out = {}
  for i, e in ipairs(y) do out[i] = e.data end
  return out
end

-- A scalar of an output: its values weighted 1, 2, 3 ... summed.
local function weigh(y)
  if torchlet.is_element(y) and #y.shape == 0 then return y end
  if torchlet.is_element(y) then
    local n = y:numel()
    local w = {}
    for i = 1, n do w[i] = i end
    return (y * E(w, {requires_grad = false}):reshape(y.shape)):sum()
  end
  local s = 0
  for i, e in ipairs(y) do s = s + i * e end
  return s
end

describe("nn.Linear", function()
  it("holds W (nout x nin) and b (nout), drawn as an MLP's layer is", function()
    torchlet.manual_seed(3)
    local l = nn.Linear(3, 2)
    torchlet.manual_seed(3)
    local layer = nn.Layer(3, 2, {activation = "linear"})
    local p, q = l:parameters(), layer:parameters()
    assert.are.equal(2, #p)
    assert.are.same({2, 3}, p[1].shape)
    assert.are.same({2}, p[2].shape)
    assert.are.equal(l.weight, p[1])
    same_bits(q[1].data, p[1].data, "W")
    same_bits(q[2].data, p[2].data, "b")
    assert.are.equal(3, l.nin)
    assert.are.equal(2, l.nout)
  end)

  it("computes x W^T + b for a sample and a batch, gradients as central differences", function()
    local l = nn.Linear(3, 2)
    local xs = {0.5, -1.25, 2}
    l.weight.data = {{0.25, -0.5, 1}, {2, 0.125, -0.75}}
    l.bias.data = {0.5, -1}
    local y = l(xs)
    assert.are.equal(2, #y)
    near(0.25 * 0.5 + 0.5 * 1.25 + 2 + 0.5, y[1].data, 1e-15)
    near(1 - 0.125 * 1.25 - 1.5 - 1, y[2].data, 1e-15)
    -- the batched path gives the same numbers
    local Y = l(E({xs, xs}))
    same_bits({{y[1].data, y[2].data}, {y[1].data, y[2].data}}, Y.data, "batch")
    -- gradients of the sample path, against central differences
    local x = {E(xs[1]), E(xs[2]), E(xs[3])}
    weigh(l(x)):backward()
    local want = helpers.numeric_grad(function(v)
      local out = l(v)
      return out[1].data + 2 * out[2].data
    end, {xs[1], xs[2], xs[3]})
    for i = 1, 3 do near(want[i], x[i].grad, 1e-8, "dx" .. i) end
    all_near({{0.5, -1.25, 2}, {1, -2.5, 4}}, l.weight.grad, 1e-15, "dW")
    all_near({1, 2}, l.bias.grad, 1e-15, "db")
  end)

  it("gives one Element for one output, and takes a number for one input", function()
    local l = nn.Linear(1, 1)
    l.weight.data = {{3}}
    l.bias.data = {1}
    local y = l(2)
    assert.is_true(torchlet.is_element(y))
    assert.are.equal(7, y.data)
    assert.are.equal(7, l(E(2)).data)
  end)

  it("refuses bad sizes, options and inputs, naming itself", function()
    fails("bad argument #1 to 'Linear' (number of inputs must be an integer in 1..1000000, got 0)",
      nn.Linear, 0, 2)
    fails("bad argument #2 to 'Linear' (number of outputs must be an integer", nn.Linear, 2, 1.5)
    fails("bad argument #2 to 'Linear'", nn.Linear, 2, "2")
    fails("bad argument #3 to 'Linear' (unknown option 'bias'; known: init)",
      nn.Linear, 2, 2, {bias = false})
    fails("bad argument #3 to 'Linear' (unknown init 'zeros'", nn.Linear, 2, 2, {init = "zeros"})
    local l = nn.Linear(2, 3)
    fails("bad argument #1 to 'linear' (input of length 2 expected, got 3)", l, {1, 2, 3})
    fails("bad argument #1 to 'linear' (input 2 must be a number or an Element, got string)",
      l, {1, "2"})
    fails("linear: input of shape (1, 3), (N, 2) or (2) expected", function() return l(E({{1, 2, 3}})) end)
  end)
end)

describe("activation modules", function()
  local points = reference.points
  local make = {
    ReLU = nn.ReLU, Tanh = nn.Tanh, Sigmoid = nn.Sigmoid, GELU = nn.GELU,
    LeakyReLU = function() return nn.LeakyReLU(0.1) end,
  }
  for name, ref in pairs(reference.activations) do
    it(name .. ": values and gradients as PyTorch's, batched and per sample", function()
      local m = make[name]()
      local x = E(points)
      local y = m(x)
      y:sum():backward()
      all_near(ref.value, y.data, 4e-16, name .. " value")
      all_near(ref.grad, x.grad, 4e-16, name .. " grad")
      local xs = {}
      for i, v in ipairs(points) do xs[i] = E(v) end
      local ys = m(xs)
      assert.are.equal(#points, #ys)
      same_bits(y.data, values(ys), name .. " per sample")
      -- numbers are taken too, and a single scalar gives a scalar
      assert.are.equal(ys[3].data, m(points[3]).data)
      assert.are.equal(ys[3].data, m({points[3]})[1].data)
    end)
  end

  it("GELU and LeakyReLU: gradients match central differences away from kinks", function()
    for _, m in ipairs({nn.GELU(), nn.LeakyReLU(0.2), nn.LeakyReLU()}) do
      for _, v in ipairs({-2.5, -0.3, 0.7, 1.9}) do
        local x = E(v)
        m(x):backward()
        local want = helpers.numeric_grad(function(a) return m(a[1]).data end, {v})
        near(want[1], x.grad, 1e-8, tostring(m) .. " at " .. v)
      end
    end
    assert.are.equal(-0.01 * 3, nn.LeakyReLU()(-3).data)  -- PyTorch's default slope
  end)

  it("GELU and LeakyReLU at the edges: PyTorch's values and gradients, zeros' signs too", function()
    local inf, nan, NZ = math.huge, 0 / 0, -1 / math.huge   -- NZ: -0 (5.1 folds the literal)
    -- {x, gelu, gelu', leaky_relu(0.1), its gradient}, recorded from PyTorch 1.13
    local rows = {
      {-inf, nan, nan, -inf, 0.1}, {inf, inf, nan, inf, 1}, {nan, nan, nan, nan, 0.1},
      {NZ, NZ, 0.5, NZ, 0.1}, {0, 0, 0.5, 0, 0.1}, {-40, NZ, 0, -4, 0.1}, {40, 40, 1, 40, 1},
    }
    local function same(want, got, what)
      if want ~= want then assert(got ~= got, what .. ": nan expected, got " .. got) return end
      assert.are.equal(want, got, what)
      if want == 0 then assert.are.equal(1 / want, 1 / got, what .. ": sign of zero") end
    end
    for _, r in ipairs(rows) do
      local x = E(r[1])
      local y = x:gelu()
      y:backward()
      same(r[2], y.data, "gelu(" .. r[1] .. ")")
      same(r[3], x.grad, "gelu'(" .. r[1] .. ")")
      x = E(r[1])
      y = nn.LeakyReLU(0.1)(x)
      y:backward()
      same(r[4], y.data, "leaky_relu(" .. r[1] .. ")")
      same(r[5], x.grad, "leaky_relu'(" .. r[1] .. ")")
    end
  end)

  it("have no parameters, print as made, and refuse bad arguments", function()
    assert.are.same({}, nn.ReLU():parameters())
    assert.are.equal("GELU()", tostring(nn.GELU()))
    assert.are.equal("LeakyReLU(0.2)", tostring(nn.LeakyReLU(0.2)))
    fails("bad argument #1 to 'ReLU' (no arguments expected)", nn.ReLU, 1)
    fails("bad argument #1 to 'LeakyReLU' (negative slope must be a number, got x)",
      nn.LeakyReLU, "x")
    fails("bad argument #1 to 'Tanh' (Element, number or table of them expected, got string)",
      function() return nn.Tanh()("1") end)
    fails("bad argument #1 to 'GELU' (input 2 must be a number or an Element, got boolean)",
      function() return nn.GELU()({1, true}) end)
  end)
end)

describe("nn.Sequential", function()
  local R = reference.model
  local function torch_model()
    local l1, l2 = nn.Linear(3, 2), nn.Linear(2, 1)
    l1.weight.data, l1.bias.data = R.W1, R.b1
    l2.weight.data, l2.bias.data = R.W2, R.b2
    return nn.Sequential(l1, nn.GELU(), l2), l1, l2
  end

  it("runs its modules in order: PyTorch's output and gradients", function()
    local model, l1, l2 = torch_model()
    local X = E(R.X)
    local out = model(X)
    all_near(R.out, out.data, 1e-15, "out")
    out:sum():backward()
    all_near(R.dX, X.grad, 1e-15, "dX")
    all_near(R.dW1, l1.weight.grad, 1e-15, "dW1")
    all_near(R.db1, l1.bias.grad, 1e-15, "db1")
    all_near(R.dW2, l2.weight.grad, 1e-15, "dW2")
    all_near(R.db2, l2.bias.grad, 1e-15, "db2")
    -- per sample: the same numbers
    local y = model(R.X[2])
    near(R.out[2][1], y.data, 1e-15, "sample")
  end)

  it("sends gradients as central differences say, through every activation", function()
    torchlet.manual_seed(4)
    local model = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 4), nn.LeakyReLU(0.3),
                                nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid(),
                                nn.Linear(2, 2), nn.ReLU())
    local xs = {0.3, -0.7, 1.1, -0.2, 0.9, 0.4}
    local X = E({{xs[1], xs[2], xs[3]}, {xs[4], xs[5], xs[6]}})
    weigh(model(X)):backward()
    local want = helpers.numeric_grad(function(v)
      return weigh(model(E({{v[1], v[2], v[3]}, {v[4], v[5], v[6]}}))).data
    end, xs)
    all_near(want, X.grad, 1e-7, "dX")
    -- and for a parameter: the first Linear's bias
    local b = model[1].bias
    local g = flat(b.grad)
    local b0 = flat(b.data)
    local want_b = helpers.numeric_grad(function(v)
      b.data = v
      local r = weigh(model(E({{xs[1], xs[2], xs[3]}, {xs[4], xs[5], xs[6]}}))).data
      b.data = b0
      return r
    end, {b0[1], b0[2], b0[3], b0[4]})
    all_near(want_b, g, 1e-7, "db1")
  end)

  it("lists its parameters in order, zero_grad clears them, l2 sums their squares", function()
    local model, l1, l2 = torch_model()
    local p = model:parameters()
    assert.are.equal(4, #p)
    assert.are.equal(l1.weight, p[1])
    assert.are.equal(l2.bias, p[4])
    assert.are.equal("L1.W", p[1].label)
    assert.are.equal("L2.b", p[4].label)
    model(E(R.X)):sum():backward()
    assert.is_true(l1.weight.grad[1][1] ~= 0)
    model:zero_grad()
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, l1.weight.grad)
    near(0.25 + 0.0625 + 0.5625 + 1 + 0.015625 + 0.140625 + 0.01 + 0.04 + 0.64 + 0.36 + 0.0025,
      model:l2().data, 1e-15, "l2")
  end)

  it("of Linears equals the MLP of the same seed bit for bit, values and gradients", function()
    for _, acts in ipairs({{"relu", nn.ReLU}, {"tanh", nn.Tanh}, {"sigmoid", nn.Sigmoid}}) do
      torchlet.manual_seed(7)
      local mlp = nn.MLP(2, {16, 16, 1}, {activation = acts[1]})
      torchlet.manual_seed(7)
      local seq = nn.Sequential(nn.Linear(2, 16), acts[2](), nn.Linear(16, 16), acts[2](),
                                nn.Linear(16, 1))
      local pm, ps = mlp:parameters(), seq:parameters()
      for i = 1, 6 do same_bits(pm[i].data, ps[i].data, "parameter " .. i) end
      local rows = {{0.5, -1}, {1.5, 0.25}, {-2, 0.75}}
      for _, batched in ipairs({true, false}) do
        local losses = {}
        for k, model in ipairs({mlp, seq}) do
          model:zero_grad()
          local l
          if batched then l = model(E(rows)):sum()
          else
            l = 0
            for _, r in ipairs(rows) do l = l + model(r) end
          end
          l:backward()
          losses[k] = l.data
        end
        assert.are.equal(losses[1], losses[2])
        for i = 1, 6 do same_bits(pm[i].grad, ps[i].grad, acts[1] .. " grad " .. i) end
      end
    end
  end)

  it("composes with a user's module: a table with parameters() and a call", function()
    -- a learned scale, called through __call
    local Scale = {}
    Scale.__index = Scale
    Scale.__call = function(self, x) return x * self.s end
    function Scale:parameters() return {self.s} end
    local scale = setmetatable({s = E(2.0)}, Scale)
    -- and one with a forward method (no metatable)
    local shift = {b = E({0.5}), parameters = function(self) return {self.b} end}
    function shift:forward(x) return x + self.b end
    local lin = nn.Linear(2, 1)
    lin.weight.data, lin.bias.data = {{1, -1}}, {0}
    local model = nn.Sequential(lin, scale, shift, nn.Tanh())
    local p = model:parameters()
    assert.are.equal(4, #p)
    assert.are.equal(scale.s, p[3])
    assert.are.equal(shift.b, p[4])
    local X = E({{3, 1}}, {requires_grad = false})
    local y = model(X)
    near(math.tanh(2 * 2 + 0.5), y.data[1][1], 1e-15)
    y:sum():backward()
    local d = 1 - math.tanh(4.5) ^ 2
    near(2 * d, scale.s.grad, 1e-15, "ds")
    near(d, shift.b.grad[1], 1e-15, "db")
    -- a Sequential inside a Sequential, and the C models, are modules too
    local outer = nn.Sequential(nn.Sequential(lin, scale), nn.MLP(1, {1}, {output = "tanh"}))
    assert.are.equal(5, #outer:parameters())
    assert.is_true(torchlet.is_element(outer(X)))
    assert.truthy(tostring(outer):find("(1) Sequential", 1, true))
    assert.truthy(tostring(outer):find("    (2) Module", 1, true))
  end)

  it("refuses what is not a module, naming the argument", function()
    fails("bad argument #2 to 'Sequential' (module expected (a table or userdata with "
      .. "parameters() and a call), got number)", nn.Sequential, nn.ReLU(), 3)
    fails("bad argument #1 to 'Sequential' (module expected", nn.Sequential, {})
    fails("bad argument #2 to 'Sequential'", nn.Sequential, nn.ReLU(), nil, nn.ReLU())
    fails("bad argument #1 to 'Sequential'", nn.Sequential, {parameters = function() end})
  end)

  it("saves as the MLP it equals, drawing nothing; nn.load gives that MLP", function()
    local path = os.tmpname()
    torchlet.manual_seed(9)
    local seq = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Linear(4, 2),
                              nn.Sigmoid())
    local after_make = torchlet.rand(3).data
    torchlet.manual_seed(9)
    seq = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Linear(4, 2),
                        nn.Sigmoid())
    seq:save(path)
    local s = seq:dump()
    same_bits(after_make, torchlet.rand(3).data, "generator untouched")
    local m = nn.load(path)
    os.remove(path)
    assert.are.same({kind = "MLP", nin = 3, sizes = {5, 4, 2},
                     activations = {"tanh", "linear", "sigmoid"}}, m:architecture())
    assert.are.equal(s, m:dump())
    local X = E({{0.5, -1, 2}, {1, 0.25, -0.75}})
    same_bits(seq(X).data, m(X).data, "loaded model")
    local ps, pm = seq:parameters(), m:parameters()
    for i = 1, 6 do same_bits(ps[i].data, pm[i].data, "parameter " .. i) end
    -- the file holds copies: training the Sequential on leaves the MLP alone
    ps[1]:set(1, 1, 42)
    assert.is_true(pm[1]:get(1, 1) ~= 42)
    -- and the MLP made from given weights is the same model
    local m2 = nn.MLP(3, {5, 4, 2}, {activations = {"tanh", "linear", "sigmoid"},
                                     weights = m:parameters()})
    assert.are.equal(s, m2:dump())
  end)

  it("refuses files with modules they cannot hold, and checkpoints, saying which", function()
    fails("save: module 2, GELU(), has no place in a model file (it holds Linears, each "
      .. "followed by at most one ReLU, Tanh or Sigmoid)",
      function() nn.Sequential(nn.Linear(2, 2), nn.GELU()):save("never.tlnn") end)
    fails("dump: module 3, Dropout(0.5), has no place",
      function() return nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Dropout(0.5)):dump() end)
    fails("dump: module 3, ReLU(), has no place",
      function() return nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.ReLU()):dump() end)
    fails("dump: module 2, Linear(3, 1), takes 3 inputs but gets 2",
      function() return nn.Sequential(nn.Linear(2, 2), nn.Linear(3, 1)):dump() end)
    fails("dump: an empty Sequential has nothing to save",
      function() return nn.Sequential():dump() end)
    fails("(field 'model' must be a Module (nn.MLP, Layer or Neuron; not a Sequential), got table)",
      torchlet.dump_checkpoint, {model = nn.Sequential(nn.Linear(2, 1))})
    assert.is_false(helpers.exists("never.tlnn"))
    local W = E({{1, 2}})
    fails("bad argument #3 to 'MLP' (weights[1] must be an array of shape (1 x 3))",
      nn.MLP, 3, {1}, {weights = {W, E({0})}})
    fails("bad argument #3 to 'MLP' (option 'weights' must be a table of 2 arrays",
      nn.MLP, 2, {1}, {weights = {W}})
    fails("bad argument #3 to 'MLP' (give either 'init' or 'weights', not both)",
      nn.MLP, 2, {1}, {weights = {W, E({0})}, init = "default"})
  end)

  it("trains: Adam on a small Sequential lowers the loss on moons", function()
    torchlet.manual_seed(1)
    local X, y = torchlet.data.make_moons(64, {noise = 0.1, seed = 2})
    local model = nn.Sequential(nn.Linear(2, 16), nn.GELU(), nn.Linear(16, 16),
                                nn.LeakyReLU(0.1), nn.Dropout(0.1), nn.Linear(16, 1))
    local opt = torchlet.optim.Adam(model:parameters(), {lr = 0.02})
    local Xe = E(X, {requires_grad = false})
    local function loss() return torchlet.loss.hinge(model(Xe), y) end
    model:eval()
    local first = loss().data
    model:train()
    for _ = 1, 60 do
      local l = loss()
      opt:zero_grad()
      l:backward()
      opt:step()
    end
    model:eval()
    local last = loss().data
    assert.is_true(last < first / 3, ("loss %g -> %g"):format(first, last))
  end)
end)

describe("nn.MLP as a Sequential", function()
  it("indexes as Linear, activation, ..., over its own arrays", function()
    local m = nn.MLP(2, {3, 4, 1}, {activations = {"tanh", "relu", "linear"}})
    assert.are.equal(5, #m)
    assert.are.equal("Linear(2, 3)", m[1]:title())
    assert.are.equal("Tanh()", tostring(m[2]))
    assert.are.equal("ReLU()", tostring(m[4]))
    assert.are.equal("Linear(4, 1)", m[5]:title())
    assert.is_nil(m[6])
    assert.is_nil(m[0])
    assert.is_nil(m[1.5])
    -- the Linear shares the MLP's arrays
    m[3].weight:set(2, 3, 0.5)
    assert.are.equal(0.5, m:parameters()[3]:get(2, 3))
    -- running its modules in turn is running the MLP
    local x = {0.25, -0.5}
    local h = x
    for i = 1, #m do h = m[i](h) end
    assert.are.equal(m(x).data, h.data)
    -- and the methods are still there, with train/eval returning the model
    assert.are.equal(m, m:eval())
    assert.are.equal(m, m:train())
    assert.are.equal("function", type(m.parameters))
    assert.are.equal("MLP", m:architecture().kind)
  end)

  it("prints as a summary: a line per module, shapes, counts and the total", function()
    local m = nn.MLP(2, {16, 16, 1})
    assert.are.equal(table.concat({
      "MLP(2, {16, 16, 1})",
      "  (1) Linear(2, 16)   W (16 x 2), b (16)          48",
      "  (2) ReLU()",
      "  (3) Linear(16, 16)  W (16 x 16), b (16)        272",
      "  (4) ReLU()",
      "  (5) Linear(16, 1)   W (1 x 16), b (1)           17",
      "total: 337 parameters"}, "\n"), tostring(m))
    local s = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.25), nn.LeakyReLU(0.2), nn.Linear(3, 2))
    assert.are.equal(table.concat({
      "Sequential",
      "  (1) Linear(4, 3)    W (3 x 4), b (3)         15",
      "  (2) Dropout(0.25)",
      "  (3) LeakyReLU(0.2)",
      "  (4) Linear(3, 2)    W (2 x 3), b (2)          8",
      "total: 23 parameters"}, "\n"), tostring(s))
    assert.are.equal(tostring(s), s:summary())
    assert.are.equal("Linear(4, 3)  W (3 x 4), b (3)  15 parameters", tostring(nn.Linear(4, 3)))
  end)
end)

describe("nn.Dropout", function()
  it("zeroes a fraction p and scales the rest by 1 / (1 - p) in train mode", function()
    torchlet.manual_seed(5)
    local d = nn.Dropout(0.3)
    assert.is_true(d.training)
    local n = 20000
    local x = torchlet.ones(n)
    local y = d(x)
    local zeros = 0
    for _, v in ipairs(y.data) do
      if v == 0 then zeros = zeros + 1
      else assert.are.equal(1 / (1 - 0.3), v) end
    end
    -- binomial(n, 0.3): standard deviation about 65
    assert.is_true(math.abs(zeros - 0.3 * n) < 4 * math.sqrt(n * 0.3 * 0.7), tostring(zeros))
    -- the gradient is the same mask
    y:sum():backward()
    same_bits(y.data, x.grad, "gradient")
  end)

  it("is the identity in eval mode, and draws the same masks after manual_seed", function()
    local d = nn.Dropout(0.5)
    local x = E({{1, 2, 3}, {4, 5, 6}})
    assert.are.equal(d, d:eval())
    assert.are.equal(x, d(x))
    d:train()
    torchlet.manual_seed(11)
    local a = d(x).data
    local s = d({1, 2, 3, 4, 5, 6})
    torchlet.manual_seed(11)
    same_bits(a, d(x).data, "batched mask")
    same_bits(values(s), values(d({1, 2, 3, 4, 5, 6})), "per-sample mask")
    -- a Sequential switches the Dropouts inside it, nested ones too
    local inner = nn.Sequential(d)
    local model = nn.Sequential(nn.ReLU(), inner)
    model:eval()
    assert.is_false(d.training)
    assert.is_false(inner.training)
    model:train()
    assert.is_true(d.training)
    -- p = 0 keeps everything
    assert.are.equal(x, nn.Dropout(0)(x))
  end)

  it("refuses p outside [0, 1)", function()
    fails("bad argument #1 to 'Dropout' (p must be a number in [0, 1), got 1)", nn.Dropout, 1)
    fails("bad argument #1 to 'Dropout' (p must be a number in [0, 1), got -0.5)", nn.Dropout, -0.5)
    fails("bad argument #1 to 'Dropout' (p must be a number in [0, 1), got nan)", nn.Dropout, 0 / 0)
    fails("bad argument #1 to 'Dropout'", nn.Dropout, "0.5")
    fails("bad argument #1 to 'Dropout' (Element, number or table of them expected, got boolean)",
      function() return nn.Dropout(0.5)(true) end)
  end)
end)
