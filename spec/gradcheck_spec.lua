-- spec/gradcheck_spec.lua -- torchlet.gradcheck: analytic gradients
-- against central differences; on a disagreement, the first op in backward
-- order whose own backward disagrees with central differences on its own
-- inputs is named (a planted wrong backward, a kink), not just the input.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local E = torchlet.Element
local fails = helpers.fails
local gradcheck = torchlet.gradcheck

-- A custom node's ctx goes with a second collection (the first drops its
-- record): leave no such garbage for later spec files that collect once.
teardown(function() for _ = 1, 4 do collectgarbage("collect") end end)

local function sigmoid(x) return x:sigmoid() end

-- swish with a right backward, and with a planted wrong one (the x s (1 - s)
-- term forgotten)
local function make_swish(name, right)
  return torchlet.Function{name = name,
    forward = function(ctx, x)
      local s = sigmoid(x)
      ctx:save(x, s)
      return x * s
    end,
    backward = function(ctx, g)
      local x, s = ctx.saved[1], ctx.saved[2]
      if right then return g * (s + x * s * (1 - s)) end
      return g * s
    end}
end
local swish, wrong = make_swish("swish", true), make_swish("wrong_swish", false)

describe("torchlet.gradcheck", function()
  it("passes on built-in scalar ops", function()
    local a, b = E(0.7), E(-1.3)
    assert.is_true(gradcheck(function(x, y)
      return (x * y + x:tanh()) / (y ^ 2 + 1) + (x - y):exp():log() + x:sigmoid() * y:softplus()
        + (x:sin() - y:cos()) ^ 3 + x:abs() * 2 - 3 / y + 2 ^ x + (-y):sqrt()
    end, {a, b}))
  end)

  it("passes on array ops, a model and a loss", function()
    local X = E({{0.5, -1, 2}, {1.5, 0.25, -0.75}})
    local v = E({0.3, -0.2, 0.9})
    assert.is_true(gradcheck(function(m, w)
      return (m:matmul(w):tanh()):sum() + m:transpose():mean() + m:reshape(3, 2)[2]:sum()
        + (m * m):sum(2):max() + (m:relu() + 1):log():mean(1):sum()
    end, {X, v}))
    torchlet.manual_seed(1)
    local model = torchlet.nn.MLP(3, {4, 3})
    assert.is_true(gradcheck(function(x)
      return torchlet.loss.cross_entropy(model(x), {1, 3})
    end, {X}))
    local xs = {E(0.2), E(-0.4), E(0.9)}
    assert.is_true(gradcheck(function(p, q, r)
      return torchlet.loss.mse(model({p, q, r}), {1, 0, 0})
    end, xs))
  end)

  it("passes on a custom op with a right backward", function()
    assert.is_true(gradcheck(function(x) return (swish(x) * x):sum() end,
                             {E({0.5, -2, 1.25})}))
  end)

  it("names the custom op with a wrong backward, with its node number and numbers", function()
    local x = E(0.8, "x")
    local f = function(a) return (wrong(a * 2) + a):tanh() end
    local ok, msg = gradcheck(f, {x})
    assert.is_false(ok)
    -- the node number is the one explain() calls it by
    local y = f(x)
    local num = y:explain():match("wrong_swish#(%d+)")
    assert.truthy(num)
    assert.truthy(msg:find("gradcheck: op 'wrong_swish' (node #" .. num .. "): its input 1: analytic ",
                           1, true), msg)
    local s = 1 / (1 + math.exp(-1.6))
    assert.truthy(msg:find("analytic " .. torchlet.format_number(s, 6) .. ", numeric "
      .. torchlet.format_number(s + 1.6 * s * (1 - s), 6), 1, true), msg)
    assert.truthy(msg:find("so the gradient of input 1: analytic ", 1, true), msg)
    assert.are.equal(0, x.grad)                  -- gradients put back
  end)

  it("names the first wrong op in backward order, on arrays", function()
    local X = E({{0.5, -1}, {2, 0.25}})
    local ok, msg = gradcheck(function(m) return wrong(swish(m):matmul(m)):sum() end, {X})
    assert.is_false(ok)
    -- m #1, swish #2, matmul #3, wrong_swish #4, sum #5: backward meets
    -- sum, then wrong_swish
    assert.truthy(msg:find("gradcheck: op 'wrong_swish' (node #4): its input 1[1]: ", 1, true), msg)
    assert.truthy(msg:find("gradient of input 1[", 1, true), msg)
  end)

  it("names a built-in op at a kink (relu at 0)", function()
    local ok, msg = gradcheck(function(x) return (x * 1):relu() * 3 end, {E(0)})
    assert.is_false(ok)
    assert.truthy(msg:find("gradcheck: op 'relu' (node #3): its input 1: analytic 0, numeric 0.5", 1, true), msg)
  end)

  it("raises instead with raise = true; takes eps, atol and rtol", function()
    local x = E(0.8)
    fails("gradcheck: op 'wrong_swish'", gradcheck, function(a) return wrong(a) end, {x}, {raise = true})
    -- a loose enough tolerance accepts the wrong backward
    assert.is_true(gradcheck(function(a) return wrong(a) end, {x}, {atol = 1}))
    assert.is_true(gradcheck(function(a) return wrong(a) end, {x}, {atol = 0, rtol = 0.5}))
    assert.is_true(gradcheck(function(a) return a ^ 3 end, {x}, {eps = 1e-3, atol = 1e-5}))
    assert.is_false(gradcheck(function(a) return a ^ 3 end, {x}, {eps = 0.5, atol = 1e-5, rtol = 0}))
  end)

  it("takes one Element as inputs and leaves the inputs' gradients as they were", function()
    local x = E({1, 2})
    x.grad = {5, 6}
    assert.is_true(gradcheck(function(a) return (a * a):sum() end, x))
    assert.are.same({5, 6}, x.grad)
    assert.are.same({1, 2}, x.data)
  end)

  it("says what it needs", function()
    local x = E(1)
    fails("bad argument #1 to 'gradcheck' (function expected, got nil)", gradcheck, nil, {x})
    fails("bad argument #2 to 'gradcheck' (an Element or a list of Elements expected, got number)",
          gradcheck, print, 3)
    fails("bad argument #2 to 'gradcheck' (input 2 is a number; gradcheck needs float Elements",
          gradcheck, function(a, b) return a end, {x, 2})
    fails("bad argument #2 to 'gradcheck' (input 1 has requires_grad = false",
          gradcheck, function(a) return a end, {E(1, {requires_grad = false})})
    fails("bad argument #2 to 'gradcheck' (at least one input expected)", gradcheck, print, {})
    fails("gradcheck: fn must return a scalar Element, got an array of shape (2)",
          gradcheck, function(a) return a end, {E({1, 2})})
    fails("gradcheck: fn must return a scalar Element, got number",
          gradcheck, function(a) return 1 end, {x})
    fails("bad argument #3 to 'gradcheck' (unknown option 'tol'; known: atol, eps, raise, rtol)",
          gradcheck, function(a) return a end, {x}, {tol = 1})
    fails("option 'eps' must be a number, got string",
          gradcheck, function(a) return a end, {x}, {eps = "1"})
    fails("option 'eps' must be positive", gradcheck, function(a) return a end, {x}, {eps = 0})
  end)
end)
