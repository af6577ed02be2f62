--[[
torchlet.modules -- composable modules, joined into torchlet.nn:

    nn.Linear(nin, nout [, {init}])      y = x W^T + b (W: nout x nin)
    nn.Sequential(m1, m2, ...)           m_n(... m2(m1(x)))
    nn.ReLU() nn.LeakyReLU([slope]) nn.Tanh() nn.Sigmoid() nn.GELU()
    nn.Dropout(p)                        model:train() / model:eval()

A module is anything with parameters() (a Lua array of Elements) that can
be called: m:forward(x) when it has a forward method, else m(x).  So a
user's own table composes with these, and so do the C models (Neuron,
Layer, MLP).  Inputs are those of the C models: a table of numbers or
scalar Elements (one sample; a scalar when there is one), or an (N x nin)
array Element (N samples).

Linear runs on the core's fused ops (nn.linear: one neuron node per output
for a sample, one linear node for a batch), the ops an MLP's layers use, so
Sequential(Linear, ReLU, ..., Linear) is the MLP of the same weights bit for
bit.  Its parameters are drawn by a Layer of the C part, so a seed gives
the Linear the weights the same layer of an MLP gets.

An MLP (C) stays what it is, for speed, and behaves as the Sequential it
equals: #model, model[i] (a Linear over the MLP's own W and b, or an
activation), train/eval, and tostring gives the same summary.
]]
local core = require "torchlet.core"
local args = require "torchlet.args"
local compat = require "torchlet.compat"

local type, select, tostring, ipairs, error = type, select, tostring, ipairs, error
local setmetatable, getmetatable, pcall = setmetatable, getmetatable, pcall
local rawget, max, concat, rep = rawget, math.max, table.concat, string.rep
local is_element, Element, rand = core.is_element, core.Element, core.rand
local nn = core.nn
local argerror, check_opts = args.argerror, args.check_opts

local M = {}

-- The most inputs or outputs of a layer (TL_MLP_MAX_WIDTH, core/tl_nn.h).
local MAX_WIDTH = 1000000

local function class()
  local c = {}
  c.__index = c
  return c
end

-- A positive integer at argument 'arg' of 'fname', or an error.
local function check_size(fname, arg, v, what)
  local n = compat.to_integer(v)
  if n == nil or n < 1 or n > MAX_WIDTH then
    argerror(fname, arg, ("%s must be an integer in 1..%d, got %s")
      :format(what, MAX_WIDTH, args.show(v)), 4)
  end
  return n
end

-- Runs module 'm' on 'x', as Sequential runs its modules.
local function run(m, x)
  local f = m.forward
  if type(f) == "function" then return f(m, x) end
  return m(x)
end

-- Whether 'm' can be a module: it has parameters() and a call.
local function is_module(m)
  local t = type(m)
  if t ~= "table" and t ~= "userdata" then return false end
  local ok, params = pcall(function() return m.parameters end)
  if not ok or type(params) ~= "function" then return false end
  if type(m.forward) == "function" then return true end
  local mt = getmetatable(m)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- {======================================================================
-- Activations: one class each, applied to an Element (scalar or array),
-- a number, or a table of them (one sample), elementwise
-- ======================================================================

-- Applies 'f' (Element -> Element) to 'x' as described above; 'fname' for
-- errors.
local function map(fname, x, f)
  if is_element(x) then return f(x) end
  if type(x) == "number" then return f(Element(x)) end
  if type(x) ~= "table" then
    argerror(fname, 1, "Element, number or table of them expected, got " .. type(x), 4)
  end
  local out = {}
  for i = 1, #x do
    local v = x[i]
    if type(v) == "number" then v = Element(v)
    elseif not is_element(v) then
      argerror(fname, 1, ("input %d must be a number or an Element, got %s")
        :format(i, type(v)), 4)
    end
    out[i] = f(v)
  end
  return out
end

local function no_params() return {} end
local function identity_self(self) return self end
-- zero_grad of every module: marks each parameter's gradient absent.
local function zero_grad(self)
  for _, p in ipairs(self:parameters()) do p:zero_grad() end
end

-- Defines activation class 'name' whose forward applies Element method
-- 'method' (with the module's 'arg', when it has one).
local function activation(name, method)
  local c = class()
  c.parameters = no_params
  c.train, c.eval, c.zero_grad = identity_self, identity_self, zero_grad
  function c:forward(x)
    local arg = self.arg
    return map(name, x, function(e) return e[method](e, arg) end)
  end
  c.__call = c.forward
  function c:__tostring() return self:title() end
  function c:title() return name .. "()" end
  M[name] = function(...)
    if select("#", ...) > 0 then argerror(name, 1, "no arguments expected", 3) end
    return setmetatable({}, c)
  end
  return c
end

local activations = {
  ReLU = activation("ReLU", "relu"), Tanh = activation("Tanh", "tanh"),
  Sigmoid = activation("Sigmoid", "sigmoid"), GELU = activation("GELU", "gelu"),
}
-- The C models' activation names, for model[i].
local by_act = {relu = "ReLU", tanh = "Tanh", sigmoid = "Sigmoid"}

local LeakyReLU = activation("LeakyReLU", "leaky_relu")
function LeakyReLU:title() return ("LeakyReLU(%s)"):format(args.show(self.arg)) end
-- LeakyReLU([negative_slope = 0.01]), as PyTorch.
function M.LeakyReLU(slope, ...)
  if select("#", ...) > 0 then argerror("LeakyReLU", 2, "no more arguments expected", 3) end
  if slope == nil then slope = 0.01 end
  if type(slope) ~= "number" or slope ~= slope then
    argerror("LeakyReLU", 1, "negative slope must be a number, got " .. args.show(slope), 3)
  end
  return setmetatable({arg = slope}, LeakyReLU)
end

-- }======================================================================

-- {======================================================================
-- Dropout
-- ======================================================================

local Dropout = class()
Dropout.parameters, Dropout.zero_grad = no_params, zero_grad
Dropout.__call = function(self, x) return self:forward(x) end
function Dropout:title() return ("Dropout(%s)"):format(args.show(self.p)) end
Dropout.__tostring = Dropout.title
function Dropout:train(mode)
  self.training = mode ~= false
  return self
end
function Dropout:eval() return self:train(false) end

-- Each value is kept with probability 1 - p and scaled by 1 / (1 - p), or
-- zeroed (PyTorch's x * bernoulli(1 - p) / (1 - p)): one uniform draw per
-- value from the core's generator, in row-major order, kept when it is
-- below 1 - p.  In eval mode (or p = 0) x itself.
function Dropout:forward(x)
  local p = self.p
  if not self.training or p == 0 then return x end
  local keep, scale = 1 - p, 1 / (1 - p)
  local function noise(u) return u < keep and scale or 0 end
  if is_element(x) and #x.shape > 0 then
    local function build(t)
      local out = {}
      for i = 1, #t do
        local v = t[i]
        out[i] = type(v) == "table" and build(v) or noise(v)
      end
      return out
    end
    local u = rand(x.shape, {requires_grad = false})
    return x * Element(build(u.data), {requires_grad = false})
  end
  local single = is_element(x) or type(x) == "number"
  local xs = single and {x} or x
  if type(xs) ~= "table" then
    argerror("Dropout", 1, "Element, number or table of them expected, got " .. type(x), 3)
  end
  local n = #xs
  if n == 0 then return {} end
  local u = rand(n, {requires_grad = false}).data
  local out = map("Dropout", xs, function(e) return e end)
  for i = 1, n do out[i] = out[i] * noise(u[i]) end
  return single and out[1] or out
end

-- Dropout(p): p in [0, 1); made in train mode, as PyTorch's modules are.
function M.Dropout(p, ...)
  if select("#", ...) > 0 then argerror("Dropout", 2, "no more arguments expected", 3) end
  if p == nil then p = 0.5 end
  if type(p) ~= "number" or not (p >= 0 and p < 1) then
    argerror("Dropout", 1, "p must be a number in [0, 1), got " .. args.show(p), 3)
  end
  return setmetatable({p = p, training = true}, Dropout)
end

-- }======================================================================

-- {======================================================================
-- Linear
-- ======================================================================

local Linear = class()
Linear.train, Linear.eval, Linear.zero_grad = identity_self, identity_self, zero_grad
function Linear:forward(x) return nn.linear(x, self.weight, self.bias) end
Linear.__call = Linear.forward
function Linear:parameters() return {self.weight, self.bias} end
function Linear:title() return ("Linear(%d, %d)"):format(self.nin, self.nout) end
Linear.__tostring = function(self) return self:summary() end

-- A Linear over the arrays W (nout x nin) and b (nout), which it shares.
local function linear_of(W, b)
  return setmetatable({weight = W, bias = b, nin = W.shape[2], nout = W.shape[1]}, Linear)
end

-- Linear(nin, nout [, {init = "default"}]): W and b drawn as an MLP's layer
-- of that shape is (uniform(-1/sqrt(nin), 1/sqrt(nin)); init = "uniform":
-- micrograd's uniform(-1, 1)), labelled L1.W and L1.b (a Sequential
-- numbers its Linears).
function M.Linear(nin, nout, opts, ...)
  if select("#", ...) > 0 then argerror("Linear", 4, "no more arguments expected", 3) end
  nin = check_size("Linear", 1, nin, "number of inputs")
  nout = check_size("Linear", 2, nout, "number of outputs")
  local o = check_opts("Linear", 3, opts, {init = "string"})
  local ok, layer = pcall(nn.Layer, nin, nout, {activation = "linear", init = o.init})
  if not ok then   -- the C Layer's message, in Linear's name
    error((tostring(layer):gsub("'Layer'", "'Linear'"):gsub("^Layer:", "Linear:")), 2)
  end
  local p = layer:parameters()
  return linear_of(p[1], p[2])
end

-- }======================================================================

-- {======================================================================
-- Sequential
-- ======================================================================

local Sequential = class()

function Sequential:forward(x)
  for i = 1, #self do x = run(self[i], x) end
  return x
end
Sequential.__call = Sequential.forward

-- The parameters of its modules, in order.
function Sequential:parameters()
  local out = {}
  for i = 1, #self do
    for _, p in ipairs(self[i]:parameters()) do out[#out + 1] = p end
  end
  return out
end

Sequential.zero_grad = zero_grad

-- The sum of squares of the parameters (as model:l2() of an MLP).
function Sequential:l2()
  local s = 0
  for _, p in ipairs(self:parameters()) do
    local sq = p * p
    s = s + (#sq.shape > 0 and sq:sum() or sq)
  end
  return s
end

-- train([mode = true]) / eval(): sets the mode of every module that has
-- one (Dropout's), here and inside; returns the model.
function Sequential:train(mode)
  self.training = mode ~= false
  for i = 1, #self do
    local m = self[i]
    if type(m.train) == "function" then m:train(mode ~= false) end
  end
  return self
end
function Sequential:eval() return self:train(false) end
function Sequential:title() return "Sequential" end
Sequential.__tostring = function(self) return self:summary() end

function M.Sequential(...)
  local self = {training = true}
  for i = 1, select("#", ...) do
    local m = select(i, ...)
    if not is_module(m) then
      argerror("Sequential", i, "module expected (a table or userdata with "
        .. "parameters() and a call), got " .. type(m), 3)
    end
    self[i] = m
  end
  -- Number the Linears' parameters as an MLP's layers: L1.W, L1.b, L2.W ...
  local k = 0
  for i = 1, #self do
    if getmetatable(self[i]) == Linear then
      k = k + 1
      self[i].weight.label = ("L%d.W"):format(k)
      self[i].bias.label = ("L%d.b"):format(k)
    end
  end
  return setmetatable(self, Sequential)
end

-- }======================================================================

-- {======================================================================
-- Files: a Sequential of Linears, each followed by at most one ReLU, Tanh
-- or Sigmoid, is an MLP, which model files hold
-- ======================================================================

local title_of   -- with the summaries, below

local file_acts = {[activations.ReLU] = "relu", [activations.Tanh] = "tanh",
                   [activations.Sigmoid] = "sigmoid"}

-- The nn.MLP that 'seq' equals, holding copies of its weights (nothing is
-- drawn from the generator), or an error from 'fname' saying which module
-- a file has no place for.
local function to_mlp(seq, fname)
  local sizes, acts, weights, nin, fan_in = {}, {}, {}, nil, nil
  local i = 1
  while i <= #seq do
    local m = seq[i]
    if getmetatable(m) ~= Linear then
      error(("%s: module %d, %s, has no place in a model file (it holds Linears, "
        .. "each followed by at most one ReLU, Tanh or Sigmoid)"):format(fname, i, title_of(m)), 3)
    end
    if fan_in and m.nin ~= fan_in then
      error(("%s: module %d, %s, takes %d inputs but gets %d"):format(fname, i,
        m:title(), m.nin, fan_in), 3)
    end
    nin, fan_in = nin or m.nin, m.nout
    sizes[#sizes + 1] = m.nout
    weights[#weights + 1], weights[#weights + 2] = m.weight, m.bias
    local act = seq[i + 1] and file_acts[getmetatable(seq[i + 1])]
    acts[#acts + 1] = act or "linear"
    i = i + (act and 2 or 1)
  end
  if nin == nil then error(fname .. ": an empty Sequential has nothing to save", 3) end
  return nn.MLP(nin, sizes, {activations = acts, weights = weights})
end

-- seq:save(path), seq:dump(): the file (bytes) of the MLP it equals, which
-- nn.load gives back.
function Sequential:save(path) return to_mlp(self, "save"):save(path) end
function Sequential:dump() return to_mlp(self, "dump"):dump() end

-- }======================================================================

-- {======================================================================
-- Summaries: a line per module, with its parameters' shapes and count
-- ======================================================================

local function shape_of(p)
  local s = p.shape
  if #s == 0 then return "scalar" end
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return "(" .. concat(parts, " x ") .. ")"
end

-- Whether 'm' is one of the C models (Neuron, Layer, MLP).
local function is_c_model(m)
  if type(m) ~= "userdata" then return false end
  local ok, f = pcall(function() return m.architecture end)
  return ok and f == nn.Module_methods.architecture
end

-- The modules inside 'm' (a Sequential's, an MLP's), or nil.
local function children(m)
  local mt = getmetatable(m)
  if mt == Sequential then return m end
  if is_c_model(m) and m:architecture().kind == "MLP" then
    local out = {}
    for i = 1, #m do out[i] = m[i] end
    return out
  end
  return nil
end

-- A module's name in a summary: its title(), or for a user's module its
-- 'name' field, its own tostring's first line, or "Module".
function title_of(m)
  if type(m.title) == "function" then return m:title() end
  if type(m) == "table" and type(rawget(m, "name")) == "string" then return m.name end
  local mt = getmetatable(m)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    return (tostring(m):match("[^\n]*"))
  end
  return "Module"
end

local function count_of(params)
  local n = 0
  for _, p in ipairs(params) do n = n + p:numel() end
  return n
end

-- Appends the rows for 'm' (indented by 'depth') to 'rows': {label, shapes,
-- count}.
local function describe(m, label, depth, rows)
  local params = m:parameters()
  local sub = children(m)
  local shapes = {}
  if not sub then
    local names = getmetatable(m) == Linear and {"W ", "b "} or {}
    for i, p in ipairs(params) do shapes[i] = (names[i] or "") .. shape_of(p) end
  end
  rows[#rows + 1] = {rep("  ", depth) .. label .. title_of(m), concat(shapes, ", "),
                     #params > 0 and count_of(params) or nil}
  if sub then
    for i = 1, #sub do describe(sub[i], ("(%d) "):format(i), depth + 1, rows) end
  end
end

-- model:summary(): the model as lines, a module per line with its
-- parameters' shapes and count, and the total; what tostring gives.
local function summary(m)
  if not children(m) then   -- one module: one line
    local params, r = m:parameters(), {}
    describe(m, "", 0, r)
    if #params == 0 then return r[1][1] end
    return ("%s  %s  %d parameters"):format(r[1][1], r[1][2], r[1][3])
  end
  local rows = {}
  describe(m, "", 0, rows)
  local total = rows[1][3] or 0
  rows[1][2], rows[1][3] = "", nil
  local w1, w2 = 0, 0
  for _, r in ipairs(rows) do w1, w2 = max(w1, #r[1]), max(w2, #r[2]) end
  local lines = {}
  for i, r in ipairs(rows) do
    local line = r[1]
    if r[3] then
      line = ("%-" .. w1 .. "s  %-" .. w2 .. "s  %9d"):format(r[1], r[2], r[3])
    end
    lines[i] = line
  end
  -- the parameters' dtype, when it is not the default float64
  local first = m:parameters()[1]
  local dtype = first and first.dtype ~= "float64" and (", " .. first.dtype) or ""
  lines[#lines + 1] = ("total: %d parameters%s"):format(total, dtype)
  return concat(lines, "\n")
end

Linear.summary, Sequential.summary = summary, summary
Dropout.summary = function(self) return self:title() end
for _, c in pairs(activations) do c.summary = c.title end
LeakyReLU.summary = LeakyReLU.title

-- }======================================================================

-- {======================================================================
-- The C models (Neuron, Layer, MLP) as modules
-- ======================================================================

local methods = nn.Module_methods

-- model[i]: module i of the Sequential the model equals (Linear, then its
-- activation unless it is linear, layer by layer); nil past the end.
function methods._item(model, i)
  i = compat.to_integer(i)
  if i == nil or i < 1 then return nil end
  local arch, params = model:architecture(), nil
  local pos = 0
  for l, act in ipairs(arch.activations) do
    pos = pos + 1
    if pos == i then
      params = model:parameters()
      return linear_of(params[2 * l - 1], params[2 * l])
    end
    if act ~= "linear" then
      pos = pos + 1
      if pos == i then return M[by_act[act]]() end
    end
  end
  return nil
end

function methods:title()
  local a = self:architecture()
  if a.kind == "Neuron" then return ("Neuron(%d)"):format(a.nin) end
  if a.kind == "Layer" then return ("Layer(%d, %d)"):format(a.nin, a.sizes[1]) end
  local sizes = {}
  for i, s in ipairs(a.sizes) do sizes[i] = tostring(s) end
  return ("MLP(%d, {%s})"):format(a.nin, concat(sizes, ", "))
end
methods.summary = summary
methods.train, methods.eval = identity_self, identity_self

-- }======================================================================

M.is_module = is_module
return M
