-- spec/c/threads_train.lua -- what every thread of threads_test trains, from
-- parameters drawn from the state's own Torchlet generator (manual_seed):
--   1. a 2-4-1 tanh network of scalar Elements on XOR;
--   2. the same problem as a batched 2-8-1 network of array Elements
--      (matmul, broadcasting, mean).
-- Plain gradient descent; returns the final losses and every parameter as
-- exact hex floats (%a), so the C side compares runs bit for bit.
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

-- 1. scalar Elements
torchlet.manual_seed(7)
local u = torchlet.rand(17):totable()   -- 17 uniforms from the context's generator
local params, hidden, out_w = {}, {}, {}
local function param()
  local p = E(2 * u[#params + 1] - 1)
  params[#params + 1] = p
  return p
end
for j = 1, 4 do
  hidden[j] = { param(), param(), param() }   -- w1, w2, b
  out_w[j] = param()
end
local out_b = param()

local inputs = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }
local targets = { -1, 1, 1, -1 }

local function forward(x)
  local sum = out_b
  for j, n in ipairs(hidden) do
    sum = sum + out_w[j] * (n[1] * x[1] + n[2] * x[2] + n[3]):tanh()
  end
  return sum:tanh()
end

local loss
for _ = 1, steps do
  loss = 0
  for i, x in ipairs(inputs) do loss = loss + (forward(x) - targets[i]) ^ 2 end
  loss = loss / #inputs
  for _, p in ipairs(params) do p.grad = 0 end
  loss:backward()
  for _, p in ipairs(params) do p.data = p.data - 0.2 * p.grad end
end
record("scalar loss", loss.data)
for i, p in ipairs(params) do record("scalar p" .. i, p.data) end

-- 2. array Elements
torchlet.manual_seed(11)
local X = E({ { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } })
local T = E({ { -1 }, { 1 }, { 1 }, { -1 } })
local W1, b1 = torchlet.randn({ 2, 8 }), torchlet.zeros(8)
local W2, b2 = torchlet.randn({ 8, 1 }), torchlet.zeros(1)
local weights = { W1, b1, W2, b2 }

for _ = 1, steps do
  local H = (X:matmul(W1) + b1):tanh()
  local Y = (H:matmul(W2) + b2):tanh()
  loss = ((Y - T) ^ 2):mean()
  for _, w in ipairs(weights) do w:zero_grad() end
  loss:backward()
  torchlet.no_grad(function()
    for _, w in ipairs(weights) do w.data = (w - E(w.grad) * 0.1):totable() end
  end)
end
record("array loss", loss.data)
for i, w in ipairs(weights) do record("array w" .. i, w.data) end

return table.concat(out, "\n")
