local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local optim, nn, Element = torchlet.optim, torchlet.nn, torchlet.Element

-- The directory of this file, so the reference loads from any working dir.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
-- Parameters after each of three steps, printed by PyTorch 1.13 (float64)
-- from spec/reference/optim_torch.py, which states the problem.
local reference = dofile(here .. "reference/optim_torch.lua")
-- A Linear(2, 3), ReLU, Linear(3, 1) network trained three steps by each
-- optimizer, parameters flat in parameters() order (W1, b1, W2, b2), from
-- spec/reference/model_optim_torch.py.
local model_reference = dofile(here .. "reference/model_optim_torch.lua")

-- The reference problem: f(a, b) = (a*b - 1)^2 + 0.5*a^2 + sin(b).
local function f(a, b) return (a * b - 1) ^ 2 + 0.5 * a * a + b:sin() end

local function run(kind, opts, steps)
  local a, b = Element(0.5), Element(-1.5)
  local opt = optim[kind]({a, b}, opts)
  local out = {}
  for s = 1, steps do
    opt:zero_grad()
    f(a, b):backward()
    opt:step()
    out[s] = {a.data, b.data}
  end
  return out
end

local function describe_opts(opts)
  local keys = {}
  for k, v in pairs(opts) do
    keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}"
                                   or tostring(v))
  end
  table.sort(keys)
  return table.concat(keys, " ")
end

describe("optim", function()
  describe("matches PyTorch's first three steps", function()
    for _, case in ipairs(reference) do
      local kind, opts, want = case[1], case[2], case[3]
      it(kind .. " " .. describe_opts(opts), function()
        local got = run(kind, opts, 3)
        for s = 1, 3 do
          for j = 1, 2 do
            local err = math.abs(got[s][j] - want[s][j])
            assert.is_true(err <= 1e-13,
              ("step %d param %d: got %.17g, PyTorch %.17g"):format(s, j, got[s][j], want[s][j]))
          end
        end
      end)
    end
  end)

  describe("over a model's parameters() matches PyTorch's nn.Linear layers", function()
    local W1, B1 = {{0.1, -0.2}, {0.3, 0.4}, {-0.5, 0.6}}, {0.01, -0.02, 0.03}
    local W2, B2 = {{0.7, -0.8, 0.9}}, {-0.1}
    local X = {{0.5, -1.0}, {1.5, 0.25}, {-0.75, 0.8}, {0.2, 0.3}}
    local Y = {1.0, -1.0, 0.5, 0.0}
    local function flat(ps)
      local out = {}
      for _, p in ipairs(ps) do
        for _, v in ipairs(p:reshape(p:numel()).data) do out[#out + 1] = v end
      end
      return out
    end
    for _, case in ipairs(model_reference) do
      local kind, opts, want = case[1], case[2], case[3]
      for _, path in ipairs({"batched", "scalar"}) do
        it(kind .. " " .. describe_opts(opts) .. " (" .. path .. ")", function()
          local m = nn.MLP(2, {3, 1})
          local ps = m:parameters()
          ps[1].data, ps[2].data, ps[3].data, ps[4].data = W1, B1, W2, B2
          local opt = optim[kind](ps, opts)
          local batch = Element(X)
          for _ = 1, 3 do
            opt:zero_grad()
            local scores = {}
            if path == "batched" then scores = m(batch)
            else for i = 1, #X do scores[i] = m(X[i]) end end
            torchlet.loss.mse(scores, Y):backward()
            opt:step()
          end
          local got = flat(ps)
          assert.are.equal(#want, #got)
          for i = 1, #want do
            assert.is_true(math.abs(got[i] - want[i]) <= 1e-12,
              ("value %d: got %.17g, PyTorch %.17g"):format(i, got[i], want[i]))
          end
        end)
      end
    end
  end)

  -- issue 13: e:zero_grad() used to write zeros where model:zero_grad()
  -- and opt:zero_grad() marked gradients absent, so a step after the first
  -- applied weight decay to parameters it should have skipped
  it("behaves the same after e:zero_grad(), model:zero_grad() and opt:zero_grad()", function()
    local results = {}
    for k, how in ipairs({"element", "model", "optimizer"}) do
      torchlet.manual_seed(6)
      local m = nn.MLP(2, {3, 1})
      local opt = optim.Adam(m:parameters(), {lr = 0.1, weight_decay = 0.1})
      local l = (m({0.5, -1}) - 1) ^ 2
      l:backward()
      opt:step()
      if how == "element" then l:zero_grad()
      elseif how == "model" then m:zero_grad()
      else opt:zero_grad() end
      local after_one = {}
      for i, p in ipairs(m:parameters({scalar = true})) do
        after_one[i] = p.data
        assert.are.equal(0, p.grad)                    -- absent reads as 0
      end
      opt:step()                                       -- nothing has a gradient
      results[k] = {}
      for i, p in ipairs(m:parameters({scalar = true})) do
        results[k][i] = p.data
        assert.are.equal(after_one[i], p.data, how .. ": parameter " .. i .. " moved")
      end
    end
    assert.are.same(results[1], results[2])
    assert.are.same(results[1], results[3])
  end)

  it("takes the first SGD step derived by hand", function()
    -- df/da = 2(ab - 1)b + a = 2(-1.75)(-1.5) + 0.5 = 5.75 at (0.5, -1.5)
    -- df/db = 2(ab - 1)a + cos(b) = -1.75 + cos(-1.5)
    local got = run("SGD", {lr = 0.1}, 1)[1]
    assert.is_true(math.abs(got[1] - (0.5 - 0.1 * 5.75)) < 1e-15)
    assert.is_true(math.abs(got[2] - (-1.5 - 0.1 * (-1.75 + math.cos(-1.5)))) < 1e-15)
  end)

  it("uses PyTorch's default learning rates", function()
    local want = {SGD = 1e-3, RMSprop = 1e-2, Adagrad = 1e-2, Adam = 1e-3, AdamW = 1e-3}
    for kind, lr in pairs(want) do
      assert.are.equal(lr, optim[kind]({Element(1)}).lr, kind)
    end
  end)

  it("skips parameters without a gradient, as PyTorch skips grad None", function()
    local a, b = Element(1), Element(2)
    local opt = optim.Adam({a, b}, {lr = 0.1})
    local l = a * 3
    l:backward()
    opt:step()
    assert.are_not.equal(1, a.data)
    assert.are.equal(2, b.data)
    -- b's first real step is its step 1: bias correction makes it lr*sign(g)
    opt:zero_grad()
    local l2 = b * 5
    l2:backward()
    opt:step()
    assert.is_true(math.abs(b.data - (2 - 0.1)) < 1e-9)
  end)

  it("zero_grad clears the gradients", function()
    local a = Element(1)
    local opt = optim.SGD({a}, {lr = 0.1})
    ;(a * a):backward()
    assert.are.equal(2, a.grad)
    opt:zero_grad()
    assert.are.equal(0, a.grad)
    opt:step()                                    -- nothing to do
    assert.are.equal(1, a.data)
  end)

  it("lets lr be read and changed", function()
    local a = Element(1)
    local opt = optim.SGD({a}, {lr = 0.5})
    assert.are.equal(0.5, opt.lr)
    opt.lr = 0.25
    ;(a * 4):backward()
    opt:step()
    assert.are.equal(0, a.data)
    assert.has_error(function() opt.lr = -1 end)
    assert.has_error(function() opt.momentum = 1 end)
    assert.are.equal("SGD(1 parameters, lr=0.25)", tostring(opt))
    assert.are.equal("torchlet.Optimizer", getmetatable(opt).__name)
  end)

  it("trains a model's parameters and keeps them alive by itself", function()
    torchlet.manual_seed(2)
    local m = nn.MLP(1, {4, 1})
    local ps = m:parameters()
    local opt = optim.SGD(ps, {lr = 0.05})
    local function loss() return (m({0.5}) - 2) ^ 2 end
    local first = loss().data
    for _ = 1, 20 do
      opt:zero_grad(); loss():backward(); opt:step()
    end
    assert.is_true(loss().data < first)
  end)

  it("holds a reference on each parameter until it is collected", function()
    -- earlier specs' garbage settled first: a custom op's node is freed by
    -- the collection after the one that finalizes its record (doc/api.md, custom ops)
    local before = helpers.settle()
    local opt = optim.Adam({Element(1), Element(2)})   -- no other handle
    collectgarbage("collect")
    assert.are.equal(before + 2, torchlet.memory().live_nodes)
    opt:step()
    opt = nil
    collectgarbage("collect")
    assert.are.equal(before, torchlet.memory().live_nodes)
  end)

  describe("bad input", function()
    local fails = helpers.fails

    it("rejects an empty or wrong parameter list", function()
      fails("bad argument #1 to 'SGD' (empty parameter list)", optim.SGD, {})
      fails("bad argument #1 to 'Adam' (table of Elements expected, got no value)", optim.Adam)
      fails("bad argument #1 to 'RMSprop' (parameter 2 must be an Element, got number)",
            optim.RMSprop, {Element(1), 2})
      local a = Element(1)
      fails("bad argument #1 to 'Adam' (parameter 3 is parameter 1 again",
            optim.Adam, {a, Element(2), a})
      -- the same node through two handles is the same parameter
      local m = nn.Neuron(1)
      fails("parameter 3 is parameter 1 again", optim.SGD,
            {m:parameters()[1], m:parameters()[2], m:parameters()[1]})
    end)

    it("rejects bad hyper-parameters", function()
      local ps = {Element(1)}
      fails("bad argument #2 to 'SGD' (invalid learning rate -0.1: must be >= 0)",
            optim.SGD, ps, {lr = -0.1})
      fails("invalid learning rate nan", optim.Adam, ps, {lr = 0 / 0})
      fails("invalid momentum -1", optim.SGD, ps, {momentum = -1})
      fails("invalid weight_decay -1", optim.AdamW, ps, {weight_decay = -1})
      fails("invalid eps -1", optim.Adagrad, ps, {eps = -1})
      fails("invalid betas (0.9, 1): each must be in [0, 1)", optim.Adam, ps, {betas = {0.9, 1}})
      -- nan spelled one way on every platform, not printf's "-nan"
      fails("invalid betas (nan, 0.999): each must be in [0, 1)", optim.Adam, ps,
            {betas = {0 / 0, 0.999}})
      fails("invalid learning rate nan: must be >= 0", optim.SGD, ps, {lr = -(0 / 0)})
      fails("option 'betas' must be a table of two numbers", optim.Adam, ps, {betas = {0.9}})
      fails("nesterov momentum requires a momentum > 0", optim.SGD, ps, {nesterov = true})
      fails("unknown option 'momentum'", optim.Adam, ps, {momentum = 0.9})
      fails("unknown option 'learning_rate'", optim.SGD, ps, {learning_rate = 0.1})
      fails("option 'lr' must be a number, got string", optim.SGD, ps, {lr = "0.1"})
      fails("option 'nesterov' must be a boolean, got number", optim.SGD, ps,
            {momentum = 0.9, nesterov = 1})
    end)

    -- issue 11: PyTorch refuses "a non-leaf Tensor"; updating a value an op
    -- made would leave its graph holding a value its inputs do not give
    it("refuses an Element made by an op, for every optimizer", function()
      for _, kind in ipairs({"SGD", "RMSprop", "Adagrad", "Adam", "AdamW"}) do
        local a, b = Element(2), Element(3)
        local c = a * b
        fails("bad argument #1 to '" .. kind .. "' (parameter 2 is not a leaf (it was "
              .. "made by 'mul'): optimize the leaves it is computed from)",
              optim[kind], {a, c})
        local w = Element({1, 2})
        fails("bad argument #1 to '" .. kind .. "' (parameter 1 is not a leaf (it was "
              .. "made by 'add')", optim[kind], {w + 1})
        fails("parameter 1 is not a leaf (it was made by 'sum')", optim[kind], {w:sum()})
        assert.are.equal(6, c.data)
        -- leaves are taken: made by Element, by arrays, by detach, under no_grad
        local d = c:detach()
        local e = torchlet.no_grad(function() return a * b end)
        local opt = optim[kind]({a, w, d, e, torchlet.zeros(2)})
        assert.are.equal(5, tonumber(tostring(opt):match("%((%d+) parameters")))
      end
    end)

    it("rejects methods called on something else", function()
      local opt = optim.SGD({Element(1)})
      fails("Optimizer expected, got table", opt.step, {})
    end)
  end)
end)
