-- spec/batch_spec.lua -- batched training: models over array inputs, losses
-- over array scores and optimizers over array parameters agree with the
-- scalar path, value for value and gradient for gradient.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local E, nn, loss, optim = torchlet.Element, torchlet.nn, torchlet.loss, torchlet.optim
local near = helpers.near

local function grads_of(params)
  local g = {}
  for i, p in ipairs(params) do g[i] = p.grad end
  return g
end

describe("batched models", function()
  torchlet.manual_seed(3)
  local X, y = torchlet.data.make_moons(20, {noise = 0.1, seed = 2})

  it("give the scalar path's outputs for every row", function()
    local model = nn.MLP(2, {5, 4, 3}, {activation = "tanh"})
    local out = model(E(X))
    assert.are.same({20, 3}, out.shape)
    local values = out.data
    for i = 1, #X do
      local row = model(X[i])
      for j = 1, 3 do near(row[j].data, values[i][j], 1e-12) end
    end
  end)

  it("take a single vector and give a vector", function()
    local model = nn.MLP(2, {3, 2})
    local out = model(E({0.5, -1}))
    assert.are.same({2}, out.shape)
    local ref = model({0.5, -1})
    near(ref[1].data, out.data[1], 1e-12)
    near(ref[2].data, out.data[2], 1e-12)
  end)

  it("send the scalar path's gradients to the same parameters", function()
    local model = nn.MLP(2, {8, 8, 1})
    local params = model:parameters({scalar = true})
    local scores = {}
    for i = 1, #X do scores[i] = model(X[i]) end
    local l = loss.hinge(scores, y) + 1e-4 * model:l2()
    model:zero_grad()
    l:backward()
    local scalar_grads = grads_of(params)
    model:zero_grad()
    local lb = loss.hinge(model(E(X)), y) + 1e-4 * model:l2()
    lb:backward()
    near(l.data, lb.data, 1e-12)
    for i, g in ipairs(grads_of(params)) do near(scalar_grads[i], g, 1e-10, "param " .. i) end
  end)

  -- issue 13: one linear node per layer, X W^T + b, with its own backward
  it("are one linear and one activation node per layer, with gradients like central differences", function()
    torchlet.manual_seed(8)
    local model = nn.MLP(3, {4, 2}, {activation = "tanh"})
    local Xb = E({{0.3, -0.7, 1.1}, {0.5, 0.2, -0.4}})
    local out = model(Xb)
    assert.are.equal("linear", out.op)                -- the output layer is linear
    local hidden = out:children()[1]
    assert.are.equal("tanh", hidden.op)
    assert.are.equal("linear", hidden:children()[1].op)
    local c = E({{1, -2}, {0.5, 3}})
    local function f() return (model(Xb) * c):sum() end
    f():backward()
    local function check(arr, what)
      local flat = arr:reshape(arr:numel())
      local g = arr.grad
      for i = 1, arr:numel() do
        local v = flat.data[i]
        local function at(x)
          local t = arr.data
          if arr.shape[2] then t[math.floor((i - 1) / arr.shape[2]) + 1][(i - 1) % arr.shape[2] + 1] = x
          else t[i] = x end
          arr.data = t
          return torchlet.no_grad(function() return f().data end)
        end
        local numeric = (at(v + 1e-6) - at(v - 1e-6)) / 2e-6
        at(v)
        local analytic = arr.shape[2] and g[math.floor((i - 1) / arr.shape[2]) + 1][(i - 1) % arr.shape[2] + 1] or g[i]
        near(numeric, analytic, 1e-6, what .. " " .. i)
      end
    end
    check(Xb, "input")
    for k, p in ipairs(model:parameters()) do check(p, "parameter " .. k) end
  end)

  it("reject inputs of the wrong width", function()
    local model = nn.MLP(3, {2})
    local ok, err = pcall(function() return model(torchlet.zeros(4, 2)) end)
    assert.is_false(ok)
    assert.matches("input of shape %(4, 2%), %(N, 3%) or %(3%) expected", err)
  end)
end)

describe("array losses", function()
  local s_values = {0.3, -1.2, 2.0, 0.1, -0.4}
  local targets = {1, -1, -1, 1, 1}
  local probs = {1, 0, 0.3, 1, 0}
  local cases = {
    {"mse", targets}, {"hinge", targets}, {"bce", probs},
  }
  for _, case in ipairs(cases) do
    it(case[1] .. " gives the per-sample value and gradients", function()
      local name, y = case[1], case[2]
      local scalars = {}
      for i, v in ipairs(s_values) do scalars[i] = E(v) end
      local l = loss[name](scalars, y)
      l:backward()
      local column = E({{0.3}, {-1.2}, {2.0}, {0.1}, {-0.4}})
      local la = loss[name](column, y)
      la:backward()
      near(l.data, la.data, 1e-12)
      for i = 1, #s_values do near(scalars[i].grad, column.grad[i][1], 1e-12) end
      -- a vector of scores and targets given as an Element work too
      local vec = E(s_values)
      near(l.data, loss[name](vec, E(y)).data, 1e-12)
    end)
  end

  it("cross_entropy gives the per-row value and gradients", function()
    local rows = {{0.2, 1.5, -0.3}, {2.0, -1.0, 0.5}, {0.0, 0.0, 0.0}, {900, 0, -900}}
    local classes = {2, 1, 3, 3}
    local scalar_rows = {}
    for i, r in ipairs(rows) do
      scalar_rows[i] = {}
      for j, v in ipairs(r) do scalar_rows[i][j] = E(v) end
    end
    local l = loss.cross_entropy(scalar_rows, classes)
    l:backward()
    local logits = E(rows)
    local la = loss.cross_entropy(logits, classes)
    la:backward()
    near(l.data, la.data, 1e-12)
    for i = 1, #rows do
      for j = 1, 3 do near(scalar_rows[i][j].grad, logits.grad[i][j], 1e-12) end
    end
  end)

  it("reject scores and targets that do not match", function()
    assert.has_error(function() loss.hinge(E({1, 2, 3}), {1, -1}) end,
      "bad argument #2 to 'hinge' (2 targets for 3 scores (lengths must match))")
    local ok, err = pcall(loss.mse, E({{1, 2}, {3, 4}}), {1, 2})
    assert.is_false(ok)
    assert.matches("scores of shape %(2, 2%) for 2 targets", err)
    ok, err = pcall(loss.cross_entropy, E({{1, 2}}), {3})
    assert.is_false(ok)
    assert.matches("class of sample 1 must be an integer in 1..2", err)
  end)
end)

describe("optimizers over array parameters", function()
  for _, name in ipairs({"SGD", "RMSprop", "Adagrad", "Adam", "AdamW"}) do
    it(name .. " updates an array in place as it would its values one by one", function()
      local init = {{0.5, -1.0}, {2.0, 0.25}}
      local W = E(init)
      local scalars = {E(0.5), E(-1.0), E(2.0), E(0.25)}
      local o1 = optim[name]({W}, {lr = 0.1})
      local o2 = optim[name](scalars, {lr = 0.1})
      for _ = 1, 3 do
        o1:zero_grad()
        o2:zero_grad()
        local l1 = ((W * W * W):sum() + (W:sin()):sum())
        l1:backward()
        local terms = scalars[1] * scalars[1] * scalars[1] + scalars[1]:sin()
        for i = 2, 4 do terms = terms + scalars[i] * scalars[i] * scalars[i] + scalars[i]:sin() end
        terms:backward()
        o1:step()
        o2:step()
      end
      local flat = {W.data[1][1], W.data[1][2], W.data[2][1], W.data[2][2]}
      for i = 1, 4 do near(scalars[i].data, flat[i], 1e-12, name .. " value " .. i) end
      assert.are_not.equal(init[1][1], flat[1])
    end)
  end
end)

describe("the batched moons demo", function()
  it("trains to the scalar path's accuracy, through arrays", function()
    local demo = assert(loadfile("examples/moons.lua"))("library")
    local last
    demo.train{steps = 100, batched = true, on_step = function(_, l, acc) last = {l, acc} end}
    assert.is_true(last[2] >= 0.97)
  end)
end)

describe("array cross_entropy with masked logits", function()
  it("gives the per-row value when another class's logit is -inf", function()
    local rows = {{0.5, -math.huge, 1.5}, {2.0, 0.0, -math.huge}}
    local classes = {3, 1}
    local scalar_rows = {}
    for i, r in ipairs(rows) do
      scalar_rows[i] = {}
      for j, v in ipairs(r) do scalar_rows[i][j] = E(v) end
    end
    local l = loss.cross_entropy(scalar_rows, classes)
    local la = loss.cross_entropy(E(rows), classes)
    assert.is_false(helpers.is_nan(la.data))
    near(l.data, la.data, 1e-12)
  end)
end)
