-- examples/embed/train.lua -- the Lua half of examples/embed: a 2-4-1 tanh
-- MLP learns XOR with SGD and momentum.  Returns a table whose
-- train(steps, lr, seed) the C host calls; it returns the final loss and
-- the four predictions.
local torchlet = require "torchlet"
local nn, optim, loss = torchlet.nn, torchlet.optim, torchlet.loss

local inputs = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }
local targets = { -1, 1, 1, -1 }   -- tanh outputs lie in (-1, 1)

local function train(steps, lr, seed)
  torchlet.manual_seed(seed)       -- the model's draws depend on it alone
  local model = nn.MLP(2, { 4, 1 }, { activation = "tanh", output = "tanh" })
  local opt = optim.SGD(model:parameters(), { lr = lr, momentum = 0.9 })
  local function loss_of()
    local scores = {}
    for i, x in ipairs(inputs) do scores[i] = model(x) end
    return loss.mse(scores, targets)
  end
  for _ = 1, steps do
    local l = loss_of()
    opt:zero_grad()
    l:backward()
    opt:step()
  end
  local predictions = {}
  for i, x in ipairs(inputs) do predictions[i] = model(x).data end
  return loss_of().data, predictions
end

return { train = train }
