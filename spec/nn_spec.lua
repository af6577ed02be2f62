local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local unpack = require("spec.helpers").unpack   -- a global on 5.1
local nn, Element = torchlet.nn, torchlet.Element

-- Sets every parameter of 'model' from the array 'values'.
local function set_params(model, values)
  local ps = model:parameters({scalar = true})
  assert(#ps == #values, "wrong number of values")
  for i, p in ipairs(ps) do p.data = values[i] end
end

local function close(a, b, tol)
  return math.abs(a - b) <= tol * math.max(1, math.abs(a), math.abs(b))
end

describe("nn", function()
  describe("construction", function()
    it("counts micrograd's 337 parameters for MLP(2, {16, 16, 1})", function()
      assert.are.equal(337, #nn.MLP(2, {16, 16, 1}):parameters({scalar = true}))
      assert.are.equal(3, #nn.Neuron(2):parameters({scalar = true}))
      assert.are.equal(3 * 5, #nn.Layer(4, 3):parameters({scalar = true}))
    end)

    it("holds W (nout x nin) and b (nout) per layer, listed as PyTorch lists them", function()
      local ps = nn.MLP(2, {16, 16, 1}):parameters()
      assert.are.equal(6, #ps)
      local shapes = {}
      for i, p in ipairs(ps) do shapes[i] = p.shape end
      assert.are.same({{16, 2}, {16}, {16, 16}, {16}, {1, 16}, {1}}, shapes)
      -- the scalar view reads the same values: neuron j's weights are row j of W
      local m = nn.MLP(3, {2, 1})
      local W1, b1, W2, b2 = unpack(m:parameters())
      local s = m:parameters({scalar = true})
      local want = {W1.data[1][1], W1.data[1][2], W1.data[1][3], b1.data[1],
                    W1.data[2][1], W1.data[2][2], W1.data[2][3], b1.data[2],
                    W2.data[1][1], W2.data[1][2], b2.data[1]}
      assert.are.equal(#want, #s)
      for i = 1, #want do assert.are.equal(want[i], s[i].data, "scalar " .. i) end
      s[5].data = 42                                  -- and writes them
      assert.are.equal(42, W1.data[2][1])
      s[11].grad = 3
      assert.are.same({3}, b2.grad)
      assert.matches("^Parameter%(data=42, grad=0%)$", tostring(s[5]))
    end)

    it("trains through the scalar view as micrograd does", function()
      torchlet.manual_seed(4)
      local m = nn.MLP(2, {4, 1})
      local ps = m:parameters({scalar = true})
      local function loss()
        local l = 0
        for _, pt in ipairs({{0, 1, 1}, {1, 0, -1}, {1, 1, 1}}) do
          l = l + (m({pt[1], pt[2]}) - pt[3]) ^ 2
        end
        return l
      end
      local first = loss().data
      for _ = 1, 50 do
        m:zero_grad()
        loss():backward()
        for _, p in ipairs(ps) do p.data = p.data - 0.05 * p.grad end
      end
      assert.is_true(loss().data < 0.5 * first)
    end)

    it("prints Neurons and Layers like micrograd, an MLP as its summary", function()
      assert.are.equal("MLP(2, {2, 1})\n"
                       .. "  (1) Linear(2, 2)  W (2 x 2), b (2)          6\n"
                       .. "  (2) ReLU()\n"
                       .. "  (3) Linear(2, 1)  W (1 x 2), b (1)          3\n"
                       .. "total: 9 parameters", tostring(nn.MLP(2, {2, 1})))
      assert.are.equal("ReLUNeuron(3)", tostring(nn.Neuron(3)))
      assert.are.equal("LinearNeuron(3)", tostring(nn.Neuron(3, {nonlin = false})))
      assert.are.equal("Layer of [TanhNeuron(2), TanhNeuron(2)]",
                       tostring(nn.Layer(2, 2, {activation = "tanh"})))
      local s = tostring(nn.MLP(1, {1, 1}, {activation = "sigmoid", output = "tanh"}))
      assert.truthy(s:find("\n  (2) Sigmoid()\n", 1, true), s)
      assert.truthy(s:find("\n  (4) Tanh()\ntotal: 4 parameters", 1, true), s)
      s = tostring(nn.MLP(1, {1, 1}, {activations = {"linear", "relu"}}))
      assert.truthy(s:find("\n  (2) Linear(1, 1)", 1, true), s)
      assert.truthy(s:find("\n  (3) ReLU()\n", 1, true), s)
    end)

    -- issue 13: no scalar node per parameter
    it("keeps its parameters in two arrays per layer, about 8 bytes each", function()
      collectgarbage("collect")
      local before = torchlet.memory().live_nodes
      local m = nn.MLP(784, {128, 10})
      assert.are.equal(before + 4, torchlet.memory().live_nodes)
      local n = #m:parameters({scalar = true})
      assert.are.equal(784 * 128 + 128 + 128 * 10 + 10, n)
      assert.is_true(m:memory() / n < 8.1, "bytes per parameter: " .. m:memory() / n)
    end)

    it("has a metatable with __name", function()
      local mt = getmetatable(nn.Neuron(1))
      assert.are.equal("torchlet.Module", mt.__name)
    end)

    it("initialises from the seeded generator, reproducibly", function()
      local function values(seed)
        torchlet.manual_seed(seed)
        local out = {}
        for i, p in ipairs(nn.MLP(3, {4, 2}):parameters({scalar = true})) do out[i] = p.data end
        return out
      end
      local a, b, c = values(7), values(7), values(8)
      assert.are.same(a, b)
      assert.are_not.same(a, c)
    end)

    it("draws uniform(-1/sqrt(nin), 1/sqrt(nin)) by default, (-1, 1) with init='uniform'", function()
      torchlet.manual_seed(3)
      local ps = nn.Layer(16, 50):parameters({scalar = true})       -- 850 draws, bound 0.25
      local lo, hi = math.huge, -math.huge
      for _, p in ipairs(ps) do lo, hi = math.min(lo, p.data), math.max(hi, p.data) end
      assert.is_true(lo >= -0.25 and hi < 0.25)
      assert.is_true(lo < -0.2 and hi > 0.2)         -- the whole range is used
      ps = nn.Layer(16, 50, {init = "uniform"}):parameters({scalar = true})
      lo, hi = math.huge, -math.huge
      for _, p in ipairs(ps) do lo, hi = math.min(lo, p.data), math.max(hi, p.data) end
      assert.is_true(lo >= -1 and hi < 1)
      assert.is_true(lo < -0.9 and hi > 0.9)
    end)
  end)

  describe("forward", function()
    -- The neuron kernels take their inputs several at a time (nn_ops.c):
    -- the value must still be the bias plus each product in turn, and each
    -- gradient the same products, for every count of inputs (tails of 1..3)
    -- and an input given twice.  With a bias of 1e16 each product (< 1, under
    -- half its spacing) is lost on its own, while any two summed first are
    -- not: a kernel that regrouped the sum would give other bits.
    it("sums bias then products in order, gradients per input, for 1 to 9 inputs", function()
      for nin = 1, 9 do
        local m = nn.Neuron(nin, {activation = "linear"})
        local w, xs = {}, {}
        for i = 1, nin do
          w[i] = 0.5 + i / 64
          xs[i] = Element(1 + i / 1024)
        end
        w[nin + 1] = 1e16
        set_params(m, w)
        if nin >= 2 then xs[nin] = xs[1] end               -- input 1 given twice
        local s = w[nin + 1]
        for i = 1, nin do s = s + w[i] * xs[i].data end
        local out = m(xs)
        assert.are.equal(s, out.data)
        if nin >= 2 then assert.are.equal(1e16, out.data) end
        local g = 3
        m:zero_grad()
        ;(out * g):backward()
        local ps = m:parameters({scalar = true})
        for i = 1, nin do assert.are.equal(xs[i].data * g, ps[i].grad) end
        assert.are.equal(g, ps[nin + 1].grad)
        for i = 2, nin - 1 do assert.are.equal(w[i] * g, xs[i].grad) end
        if nin >= 2 then assert.are.equal(w[1] * g + w[nin] * g, xs[1].grad)
        else assert.are.equal(w[1] * g, xs[1].grad) end
      end
    end)

    it("keeps micrograd's parameter order: layer, neuron, weights then bias", function()
      local m = nn.MLP(2, {2, 1}, {activation = "linear"})
      set_params(m, {1, 2, 3, 4, 5, 6, 7, 8, 9})
      -- hidden: h1 = 1*x1 + 2*x2 + 3, h2 = 4*x1 + 5*x2 + 6; out = 7*h1 + 8*h2 + 9
      local x1, x2 = 0.5, -2
      local h1, h2 = 1 * x1 + 2 * x2 + 3, 4 * x1 + 5 * x2 + 6
      assert.are.equal(7 * h1 + 8 * h2 + 9, m({x1, x2}).data)
    end)

    it("applies each activation", function()
      local z = 2 * 0.3 - 1                             -- w = 2, b = -1, x = 0.3
      local want = {relu = 0, tanh = math.tanh(z), sigmoid = 1 / (1 + math.exp(-z)),
                    linear = z}
      for name, v in pairs(want) do
        local n = nn.Neuron(1, {activation = name})
        set_params(n, {2, -1})
        assert.is_true(close(v, n({0.3}).data, 1e-15), name)
      end
      local n = nn.Neuron(1)                            -- relu passes positives
      set_params(n, {2, 1})
      assert.are.equal(1.6, n(0.3).data)
    end)

    it("returns an Element for one output and an array for several", function()
      local one = nn.MLP(2, {3, 1})({1, 2})
      assert.is_true(torchlet.is_element(one))
      local many = nn.Layer(2, 3)({1, 2})
      assert.are.equal("table", type(many))
      assert.are.equal(3, #many)
      for i = 1, 3 do assert.is_true(torchlet.is_element(many[i])) end
    end)

    -- issue 13: graphs still draw neuron by neuron, as in micrograd
    it("builds one neuron node per neuron, reading its row of W", function()
      local m = nn.MLP(2, {3, 1})
      local x1, x2 = Element(0.5), Element(-1)
      local out = m({x1, x2})
      assert.are.equal("neuron", out.op)              -- linear output: no activation
      local ins = out:children()
      assert.are.equal(2 + 3, #ins)                   -- W2, b2 and the three hidden units
      local W2, b2 = unpack(m:parameters(), 3, 4)
      assert.are.same(W2.shape, ins[1].shape)
      assert.are.same(b2.shape, ins[2].shape)
      for k = 3, 5 do
        assert.are.equal("relu", ins[k].op)
        local neuron = ins[k]:children()[1]
        assert.are.equal("neuron", neuron.op)
        local hin = neuron:children()
        assert.are.equal(4, #hin)                     -- W1, b1, x1, x2
        assert.are.equal(0.5, hin[3].data)
        assert.are.equal(-1, hin[4].data)
      end
    end)

    it("takes numbers and Elements as inputs", function()
      local m = nn.MLP(2, {3, 1})
      local a = m({0.5, -1}).data
      assert.are.equal(a, m({Element(0.5), -1}).data)
      assert.are.equal(a, m({Element(0.5), Element(-1)}).data)
    end)

    it("has parameters that alias the model's own", function()
      local n = nn.Neuron(2, {nonlin = false})
      local ps = n:parameters({scalar = true})
      ps[1].data, ps[2].data, ps[3].data = 1, 2, 3
      assert.are.equal(4 + 10 + 3, n({4, 5}).data)
      local again = n:parameters({scalar = true})
      assert.are.equal(2, again[2].data)
      again[3].data = -3                                -- visible through ps too
      assert.are.equal(-3, ps[3].data)
    end)

    it("records no graph under no_grad", function()
      local m = nn.MLP(2, {4, 1})
      local out = torchlet.no_grad(function() return m({1, 2}) end)
      assert.are.equal("", out.op)
      assert.are.equal(0, #out:children())
    end)

    it("frees its nodes when the outputs are collected", function()
      local m = nn.MLP(2, {8, 8, 1})
      collectgarbage("collect")
      local before = torchlet.memory().live_nodes
      do
        local out = m({1, 2})
        out:backward()
      end
      collectgarbage("collect")
      assert.are.equal(before, torchlet.memory().live_nodes)
    end)
  end)

  describe("gradients", function()
    -- f = sum_k c_k * out_k for fixed c, so every output contributes.
    local function scalar(outs)
      if torchlet.is_element(outs) then return outs end
      local f = outs[1]
      for k = 2, #outs do f = f + (k + 0.5) * outs[k] end
      return f
    end

    local function check_model(model, x)
      local xs = {}
      for i, v in ipairs(x) do xs[i] = Element(v) end
      local f = scalar(model(xs))
      model:zero_grad()
      f:backward()
      local function value()
        return torchlet.no_grad(function() return scalar(model(xs)).data end)
      end
      local h = 1e-6
      local checked = 0
      local function check(e, what)
        local v = e.data
        e.data = v + h
        local up = value()
        e.data = v - h
        local down = value()
        e.data = v
        local numeric = (up - down) / (2 * h)
        assert.is_true(close(numeric, e.grad, 1e-6),
          ("%s: numeric %.10g, backward %.10g"):format(what, numeric, e.grad))
        checked = checked + 1
      end
      for i, p in ipairs(model:parameters({scalar = true})) do check(p, "parameter " .. i) end
      for i, e in ipairs(xs) do check(e, "input " .. i) end
      return checked
    end

    it("match central differences for parameters and inputs (tanh, sigmoid)", function()
      torchlet.manual_seed(11)
      local m = nn.MLP(3, {5, 4, 2}, {activations = {"tanh", "sigmoid", "linear"}})
      assert.are.equal(20 + 24 + 10 + 3, check_model(m, {0.3, -0.7, 1.1}))
    end)

    it("match central differences for parameters and inputs (relu, micrograd init)", function()
      torchlet.manual_seed(5)
      local m = nn.MLP(2, {6, 6, 1}, {init = "uniform"})
      -- relu has a kink at 0: no pre-activation may sit within h of it
      local ok = torchlet.no_grad(function()
        local l1 = nn.Layer(2, 6, {nonlin = false})
        local ps, lp = m:parameters({scalar = true}), l1:parameters({scalar = true})
        for i = 1, #lp do lp[i].data = ps[i].data end
        for _, z in ipairs(l1({0.4, -0.9})) do
          if math.abs(z.data) < 1e-3 then return false end
        end
        return true
      end)
      assert.is_true(ok)
      check_model(m, {0.4, -0.9})
    end)

    it("accumulate into shared inputs and sum over outputs of a Layer", function()
      local l = nn.Layer(2, 2, {nonlin = false})
      set_params(l, {1, 2, 0, 3, 4, 0})
      local x = Element(1)
      local out = l({x, x})
      local f = out[1] + out[2]
      f:backward()
      assert.are.equal(1 + 2 + 3 + 4, x.grad)
    end)

    it("are cleared by zero_grad", function()
      local m = nn.MLP(2, {3, 1})
      m({1, 2}):backward()
      local ps = m:parameters({scalar = true})
      local any = false
      for _, p in ipairs(ps) do any = any or p.grad ~= 0 end
      assert.is_true(any)
      m:zero_grad()
      for _, p in ipairs(ps) do assert.are.equal(0, p.grad) end
    end)

    it("l2 is the sum of squared parameters, gradient 2p", function()
      local m = nn.MLP(2, {3, 1})
      local want = 0
      for _, p in ipairs(m:parameters({scalar = true})) do want = want + p.data * p.data end
      local l2 = m:l2()
      assert.is_true(close(want, l2.data, 1e-15))
      m:zero_grad()
      l2:backward()
      for _, p in ipairs(m:parameters({scalar = true})) do assert.are.equal(2 * p.data, p.grad) end
    end)
  end)

  describe("bad input", function()
    local fails = helpers.fails

    it("rejects layer sizes that are not positive integers", function()
      fails("bad argument #2 to 'MLP' (layer size 2 must be a positive integer, got 0)",
            nn.MLP, 2, {16, 0, 1})
      fails("layer size 1 must be a positive integer, got 1.5", nn.MLP, 2, {1.5})
      fails("layer size 1 must be a positive integer, got string", nn.MLP, 2, {"16"})
      fails("layer size 1 must be a positive integer, got -3", nn.MLP, 2, {-3})
      fails("bad argument #1 to 'MLP' (number of inputs must be a positive integer",
            nn.MLP, 0, {1})
      fails("at least one layer expected", nn.MLP, 2, {})
      fails("bad argument #2 to 'MLP' (table of layer sizes expected, got number)",
            nn.MLP, 2, 16)
      fails("bad argument #2 to 'Layer' (number of outputs must be a positive integer",
            nn.Layer, 2, -1)
      fails("bad argument #1 to 'Neuron' (number of inputs must be a positive integer",
            nn.Neuron, nil)
      fails("MLP: model too large", nn.MLP, 1000000, {1000000})
      fails("Layer: size of layer 1 must be in 1..1000000, got 1000001", nn.Layer, 1, 1000001)
    end)

    it("rejects unknown options and activations", function()
      fails("unknown option 'activaton'", nn.MLP, 2, {1}, {activaton = "tanh"})
      -- options are read raw: an __index is not an option
      local m = nn.MLP(2, {1}, setmetatable({}, {__index = {activations = 5}}))
      assert.are.equal(3, #m:parameters({scalar = true}))
      fails("unknown activation 'softmax'", nn.MLP, 2, {1}, {output = "softmax"})
      fails("option 'activations' must be a table with one name per layer (2)",
            nn.MLP, 2, {3, 1}, {activations = {"tanh"}})
      fails("unknown init 'xavier'", nn.Neuron, 2, {init = "xavier"})
      fails("give either 'activation' or 'nonlin'", nn.Neuron, 2,
            {activation = "tanh", nonlin = false})
    end)

    it("rejects inputs of the wrong length or type", function()
      local m = nn.MLP(2, {3, 1})
      fails("bad argument #1 to 'MLP' (input of length 2 expected, got 3)", m, {1, 2, 3})
      fails("input of length 2 expected, got 1", m, {1})
      fails("input 2 must be a number or an Element, got string", m, {1, "2"})
      fails("input 1 must be a number or an Element, got table", m, {{}, 2})
      fails("table of 2 inputs expected, got number", m, 1)
      fails("input 1 must be a number or an Element, got boolean", nn.Neuron(1), true)
      fails("Module expected, got table", getmetatable(m).__call, {}, {1, 2})
    end)

    it("rejects bad options and fields of the scalar view", function()
      local m = nn.MLP(2, {3, 1})
      fails("bad argument #2 to 'parameters' (unknown option 'scalars'; known: scalar)", m.parameters, m,
            {scalars = true})
      fails("option 'scalar' must be a boolean, got number", m.parameters, m, {scalar = 1})
      local p = m:parameters({scalar = true})[1]
      fails("bad argument #2 to '__newindex' (Parameter has no settable field 'value'",
            function() p.value = 1 end)
      fails("bad argument #3 to '__newindex' (number expected, got string)",
            function() p.data = "1" end)
      fails("Parameter expected, got table", getmetatable(p).__index, {}, "data")
      assert.is_nil(p.value)
      assert.are.equal("torchlet.Parameter", getmetatable(p).__name)
      -- a view keeps its array alive after the model is gone
      m = nil
      collectgarbage("collect")
      p.data = 5
      assert.are.equal(5, p.data)
    end)

    it("leaves no nodes behind after a rejected input", function()
      local m = nn.MLP(2, {3, 1})
      collectgarbage("collect")
      local before = torchlet.memory().live_nodes
      pcall(m, {1, "x"})
      pcall(m, {Element(1), {}})
      collectgarbage("collect")
      assert.are.equal(before, torchlet.memory().live_nodes)
    end)
  end)
end)
