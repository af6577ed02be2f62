-- examples/embed/train.lua -- the Lua half of examples/embed: a 2-4-1 tanh
-- network of plain Elements learns XOR by gradient descent.  Returns a
-- table whose train(steps, lr, seed) the C host calls.
local torchlet = require "torchlet"
local Element = torchlet.Element

local inputs = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }
local targets = { -1, 1, 1, -1 }   -- tanh outputs lie in (-1, 1)

-- Parameters uniform in (-1, 1) from Lua's own generator, which lives in
-- the lua_State, so the run depends on 'seed' alone.
local function new_model(hidden, seed)
  math.randomseed(seed)
  local params = {}
  local function param()
    local p = Element(math.random() * 2 - 1)
    params[#params + 1] = p
    return p
  end
  local model = { params = params, hidden = {}, out = { w = {} } }
  for j = 1, hidden do
    model.hidden[j] = { w = { param(), param() }, b = param() }
    model.out.w[j] = param()
  end
  model.out.b = param()
  return model
end

local function forward(model, x)
  local sum = model.out.b
  for j, n in ipairs(model.hidden) do
    local h = (n.w[1] * x[1] + n.w[2] * x[2] + n.b):tanh()
    sum = sum + model.out.w[j] * h
  end
  return sum:tanh()
end

-- Mean squared error over the four points.
local function loss_of(model)
  local total = 0
  for i, x in ipairs(inputs) do
    total = total + (forward(model, x) - targets[i]) ^ 2
  end
  return total / #inputs
end

local function train(steps, lr, seed)
  local model = new_model(4, seed)
  local loss
  for _ = 1, steps do
    loss = loss_of(model)
    for _, p in ipairs(model.params) do p.grad = 0 end
    loss:backward()
    for _, p in ipairs(model.params) do p.data = p.data - lr * p.grad end
  end
  local predictions = {}
  for i, x in ipairs(inputs) do predictions[i] = forward(model, x).data end
  return loss_of(model).data, predictions
end

return { train = train }
