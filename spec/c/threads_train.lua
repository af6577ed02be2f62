-- spec/c/threads_train.lua -- what every thread of threads_test trains, from
-- parameters drawn from the state's own Torchlet generator (manual_seed):
--   1. a torchlet.nn MLP(2, {8, 8, 1}) with Adam and the hinge loss on 32
--      moons (scalar Elements, the C forward pass, optimizer state in C);
--   2. XOR as a batched 2-8-1 tanh network of array Elements (matmul,
--      broadcasting, mean) with plain gradient descent.
-- Returns the final losses and every parameter as exact hex floats (%a), so
-- the C side compares runs bit for bit.
local torchlet = require "torchlet"
local E = torchlet.Element

local steps = ...
steps = tonumber(steps) or 2000
local out = {}

local function record(name, x)
  if type(x) == "table" then
    for i, v in ipairs(x) do record(name .. "[" .. i .. "]", v) end
  else
    out[#out + 1] = string.format("%s %a", name, x)
  end
end

-- 1. torchlet.nn: an MLP trained with Adam on the moons, every draw from
--    the context's generator
local nn, optim, loss = torchlet.nn, torchlet.optim, torchlet.loss
torchlet.manual_seed(7)
local X, y = torchlet.data.make_moons(32, { noise = 0.1, seed = 3 })
local model = nn.MLP(2, { 8, 8, 1 })
local opt = optim.Adam(model:parameters(), { lr = 0.02 })
local l
for _ = 1, steps do
  local scores = {}
  for i = 1, #X do scores[i] = model(X[i]) end
  l = loss.hinge(scores, y) + 1e-4 * model:l2()
  opt:zero_grad()
  l:backward()
  opt:step()
end
record("mlp loss", l.data)
for i, p in ipairs(model:parameters()) do record("mlp p" .. i, p.data) end

-- 2. array Elements
torchlet.manual_seed(11)
local XOR = E({ { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } })
local T = E({ { -1 }, { 1 }, { 1 }, { -1 } })
local W1, b1 = torchlet.randn({ 2, 8 }), torchlet.zeros(8)
local W2, b2 = torchlet.randn({ 8, 1 }), torchlet.zeros(1)
local weights = { W1, b1, W2, b2 }

for _ = 1, steps do
  local H = (XOR:matmul(W1) + b1):tanh()
  local Y = (H:matmul(W2) + b2):tanh()
  l = ((Y - T) ^ 2):mean()
  for _, w in ipairs(weights) do w:zero_grad() end
  l:backward()
  torchlet.no_grad(function()
    for _, w in ipairs(weights) do w.data = (w - E(w.grad) * 0.1):totable() end
  end)
end
record("array loss", l.data)
for i, w in ipairs(weights) do record("array w" .. i, w.data) end

return table.concat(out, "\n")
