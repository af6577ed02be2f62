--[[
bench/plain.lua -- a scalar autograd in plain Lua, the way a Lua user would
write one without Torchlet: tables and closures, after micrograd's design
(engine.py and nn.py).  Benchmarks compare Torchlet with it, so it is kept
honest and idiomatic rather than tuned: every Value carries data, grad,
_backward (a closure) and _prev (its inputs), and backward() sorts the
graph topologically with a recursive depth-first search, as micrograd does.

    local plain = require "bench.plain"
    local a, b = plain.Value(2), plain.Value(3)
    local d = a * b + a
    d:backward()            -- a.grad == 4, b.grad == 2
]]
local setmetatable, type, math_random = setmetatable, type, math.random

local M = {}

local Value = {}
Value.__index = Value

local function noop() end

local function new(data, prev, op)
  return setmetatable({data = data, grad = 0, _backward = noop,
                       _prev = prev or {}, _op = op or ""}, Value)
end

-- Numbers mixed with Values become leaf Values, as in micrograd.
local function lift(x)
  if type(x) == "number" then return new(x) end
  return x
end

function M.Value(data) return new(data) end

-- Lua calls one metamethod for both operand orders (2 + v and v + 2).
function Value.__add(a, b)
  a, b = lift(a), lift(b)
  local out = new(a.data + b.data, {a, b}, "+")
  out._backward = function()
    a.grad = a.grad + out.grad
    b.grad = b.grad + out.grad
  end
  return out
end

function Value.__mul(a, b)
  a, b = lift(a), lift(b)
  local out = new(a.data * b.data, {a, b}, "*")
  out._backward = function()
    a.grad = a.grad + b.data * out.grad
    b.grad = b.grad + a.data * out.grad
  end
  return out
end

-- Only number exponents, as in micrograd.
function Value.__pow(a, k)
  assert(type(k) == "number", "plain: only number exponents are supported")
  local out = new(a.data ^ k, {a}, "^")
  out._backward = function()
    a.grad = a.grad + k * a.data ^ (k - 1) * out.grad
  end
  return out
end

function Value.__unm(a) return a * -1 end
function Value.__sub(a, b) return a + (-lift(b)) end
function Value.__div(a, b) return a * lift(b) ^ -1 end

function Value:relu()
  local out = new(self.data < 0 and 0 or self.data, {self}, "ReLU")
  out._backward = function()
    if out.data > 0 then self.grad = self.grad + out.grad end
  end
  return out
end

function Value:backward()
  local topo, visited = {}, {}
  local function build_topo(v)
    if not visited[v] then
      visited[v] = true
      for _, child in ipairs(v._prev) do build_topo(child) end
      topo[#topo + 1] = v
    end
  end
  build_topo(self)
  self.grad = 1
  for i = #topo, 1, -1 do topo[i]._backward() end
end

function Value.__tostring(v)
  return ("Value(data=%s, grad=%s)"):format(v.data, v.grad)
end

-- {==================================================================
-- nn: Module, Neuron, Layer, MLP (micrograd's nn.py)
-- ===================================================================

local function zero_grad(self)
  for _, p in ipairs(self:parameters()) do p.grad = 0 end
end

local Neuron = {zero_grad = zero_grad}
Neuron.__index = Neuron

function M.Neuron(nin, nonlin)
  local w = {}
  for i = 1, nin do w[i] = new(math_random() * 2 - 1) end
  return setmetatable({w = w, b = new(0), nonlin = nonlin ~= false}, Neuron)
end

function Neuron.__call(self, x)
  local act = self.b
  for i, wi in ipairs(self.w) do act = act + wi * x[i] end
  return self.nonlin and act:relu() or act
end

function Neuron:parameters()
  local ps = {}
  for i, wi in ipairs(self.w) do ps[i] = wi end
  ps[#ps + 1] = self.b
  return ps
end

local Layer = {zero_grad = zero_grad}
Layer.__index = Layer

function M.Layer(nin, nout, nonlin)
  local neurons = {}
  for i = 1, nout do neurons[i] = M.Neuron(nin, nonlin) end
  return setmetatable({neurons = neurons}, Layer)
end

function Layer.__call(self, x)
  local out = {}
  for i, n in ipairs(self.neurons) do out[i] = n(x) end
  if #out == 1 then return out[1] end
  return out
end

function Layer:parameters()
  local ps = {}
  for _, n in ipairs(self.neurons) do
    for _, p in ipairs(n:parameters()) do ps[#ps + 1] = p end
  end
  return ps
end

local MLP = {zero_grad = zero_grad}
MLP.__index = MLP

-- ReLU on every layer but the last, which is linear.
function M.MLP(nin, nouts)
  local sizes, layers = {nin}, {}
  for i, n in ipairs(nouts) do sizes[i + 1] = n end
  for i = 1, #nouts do layers[i] = M.Layer(sizes[i], sizes[i + 1], i ~= #nouts) end
  return setmetatable({layers = layers}, MLP)
end

function MLP.__call(self, x)
  for _, layer in ipairs(self.layers) do x = layer(x) end
  return x
end

function MLP:parameters()
  local ps = {}
  for _, layer in ipairs(self.layers) do
    for _, p in ipairs(layer:parameters()) do ps[#ps + 1] = p end
  end
  return ps
end

-- }==================================================================

-- SGD with momentum (PyTorch's form: v = mu*v + g; p = p - lr*v).
function M.SGD(params, opts)
  local lr, momentum, vel = opts.lr, opts.momentum or 0, {}
  for i = 1, #params do vel[i] = 0 end
  return {
    zero_grad = function() for _, p in ipairs(params) do p.grad = 0 end end,
    step = function()
      for i, p in ipairs(params) do
        vel[i] = momentum * vel[i] + p.grad
        p.data = p.data - lr * vel[i]
      end
    end,
  }
end

return M
