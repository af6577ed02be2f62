-- spec/c/threads_train.lua -- the model every thread of threads_test trains:
-- a 2-4-1 tanh network of Elements on XOR, plain gradient descent.  Returns
-- the final loss and every parameter as exact hex floats (%a), so the C side
-- compares runs bit for bit.
local torchlet = require "torchlet"
local Element = torchlet.Element

local steps = ...
steps = tonumber(steps) or 2000

local inputs = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }
local targets = { -1, 1, 1, -1 }

math.randomseed(7)   -- the generator lives in the lua_State: no sharing
local params, hidden, out_w = {}, {}, {}
local function param()
  local p = Element(math.random() * 2 - 1)
  params[#params + 1] = p
  return p
end
for j = 1, 4 do
  hidden[j] = { param(), param(), param() }   -- w1, w2, b
  out_w[j] = param()
end
local out_b = param()

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

local out = { string.format("loss %a", loss.data) }
for i, p in ipairs(params) do out[#out + 1] = string.format("p%d %a", i, p.data) end
return table.concat(out, "\n")
