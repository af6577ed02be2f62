--[[
torchlet.autograd -- custom ops written in Lua (torchlet.Function) and
gradient checking (torchlet.gradcheck).

A Function is PyTorch's torch.autograd.Function: a forward and a backward
in Lua.  Calling it records ONE node of the core's callback op
(core/tl_custom.h, bindings/function.c), named by the Function's name.

gradcheck compares fn's analytic gradients with central differences and,
when they disagree, checks each op of the graph in backward order on its
own inputs (the op run again at perturbed inputs against its backward rule
alone), naming the first op that is wrong.
]]
local core = require "torchlet.core"
local args = require "torchlet.args"
local compat = require "torchlet.compat"

local type, error, select, pcall, tostring = type, error, select, pcall, tostring
local setmetatable, next, abs, fmt = setmetatable, next, math.abs, string.format
local unpack, is_element = compat.unpack, core.is_element
local A = core._autograd

local M = {}

-- {====================================================================
-- Function
-- =====================================================================

-- The ctx of one call: ctx:save(...) keeps values for backward in
-- ctx.saved (a list, with its count in ctx.saved.n); any other field is
-- free; ctx.needs_input_grad[i] says whether argument i needs a gradient.
local Ctx = {}
Ctx.__index = Ctx
function Ctx:save(...)
  self.saved = {n = select("#", ...), ...}
end

local Function = {}
Function.__index = Function
function Function:__call(...)
  local needs = {}
  for i = 1, select("#", ...) do
    local x = select(i, ...)
    needs[i] = is_element(x) and x.requires_grad or false
  end
  return A.apply(self, setmetatable({needs_input_grad = needs}, Ctx), ...)
end
function Function:__tostring() return "Function(" .. self.name .. ")" end

local spec_types = {name = "string", forward = "function", backward = "function"}

function M.Function(spec)
  if type(spec) ~= "table" then
    args.argerror("Function", 1, "table expected, got " .. type(spec))
  end
  for k, v in next, spec do
    if spec_types[k] == nil then
      args.argerror("Function", 1, ("unknown field '%s'; known: backward, "
        .. "forward, name"):format(tostring(k)))
    end
    if type(v) ~= spec_types[k] then
      args.argerror("Function", 1, ("field '%s' must be a %s, got %s")
        :format(k, spec_types[k], type(v)))
    end
  end
  for _, k in ipairs({"name", "forward", "backward"}) do
    if spec[k] == nil then args.argerror("Function", 1, "field '" .. k .. "' missing") end
  end
  local name = spec.name
  if name == "" or #name > 63 or name:find("\0", 1, true) then
    args.argerror("Function", 1, "field 'name' must have 1 to 63 bytes, no NUL")
  end
  return setmetatable({name = name, forward = spec.forward,
                       backward = spec.backward}, Function)
end

-- }====================================================================

-- {====================================================================
-- gradcheck
-- =====================================================================

local function size_of(x)
  local n = 1
  for _, d in ipairs(x.shape) do n = n * d end
  return n
end

local function close(a, n, o)
  return abs(a - n) <= o.atol + o.rtol * abs(n)
end

local function num(x) return core.format_number(x, 6) end

-- "[2]" or "" (a scalar): position i of x (1-based, row-major) for messages.
local function at(x, i)
  if #x.shape == 0 then return "" end
  return "[" .. i .. "]"
end

-- The flat values of a gradient as local_grads returns it.
local function flat_value(g, i)
  if type(g) == "number" then return g end
  return A.get(g, i)
end

-- The gradient the check of one op sends in: 1 for a scalar (the numbers
-- reported are then the op's derivatives), varied for an array (ones could
-- hide a swapped index); fixed, so results do not depend on a random
-- stream.
local function weights(n)
  local w = {}
  for i = 1, n do w[i] = 1 + (((i - 1) * 7) % 11) / 11 end
  return w
end

-- The first input slot of op node 'e' whose local derivative disagrees:
-- its backward rule alone (local_grads) against central differences of
-- the op replayed at perturbed inputs, both weighted by w.  Returns the
-- message part, or nil.
local function check_op(e, o)
  local size = size_of(e)
  local w = weights(size)
  local g = #e.shape == 0 and w[1] or core.Element(w):reshape(e.shape)
  local analytic = A.local_grads(e, g)
  local function weighed()
    local y = A.replay(e)
    local s = 0
    for i = 1, size do s = s + w[i] * A.get(y, i) end
    return s
  end
  for k, c in ipairs(e:children()) do
    if c.requires_grad then
      for i = 1, size_of(c) do
        local v = A.get(c, i)
        A.set(c, i, v + o.eps)
        local ok, up = pcall(weighed)
        A.set(c, i, v - o.eps)
        local ok2, down = pcall(weighed)
        A.set(c, i, v)
        if not ok then error(up, 0) end
        if not ok2 then error(down, 0) end
        local numeric = (up - down) / (2 * o.eps)
        local a = flat_value(analytic[k], i)
        if not close(a, numeric, o) then
          return fmt("its input %d%s: analytic %s, numeric %s", k, at(c, i),
                     num(a), num(numeric))
        end
      end
    end
  end
  return nil
end

local gradcheck_opts = {eps = "number", atol = "number", rtol = "number",
                        raise = "boolean"}

function M.gradcheck(fn, inputs, opts)
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) == Function) then
    args.argerror("gradcheck", 1, "function expected, got " .. type(fn))
  end
  if is_element(inputs) then inputs = {inputs} end
  if type(inputs) ~= "table" then
    args.argerror("gradcheck", 2, "an Element or a list of Elements expected, got "
      .. type(inputs))
  end
  local o = args.check_opts("gradcheck", 3, opts, gradcheck_opts)
  o.eps, o.atol, o.rtol = o.eps or 1e-6, o.atol or 1e-5, o.rtol or 1e-3
  if not (o.eps > 0) then args.argerror("gradcheck", 3, "option 'eps' must be positive") end
  local n = #inputs
  if n == 0 then args.argerror("gradcheck", 2, "at least one input expected") end
  for i = 1, n do
    local x = inputs[i]
    if not is_element(x) then
      args.argerror("gradcheck", 2, fmt("input %d is a %s; gradcheck needs "
        .. "float Elements (leaves that require grad)", i, type(x)))
    end
    if not x.requires_grad then
      args.argerror("gradcheck", 2, fmt("input %d has requires_grad = false; "
        .. "gradcheck needs inputs that require grad", i))
    end
  end
  local function result()
    local y = fn(unpack(inputs, 1, n))
    if not is_element(y) or #y.shape ~= 0 then
      error(fmt("gradcheck: fn must return a scalar Element, got %s",
        is_element(y) and ("an array of shape (" .. table.concat(y.shape, ", ") .. ")")
        or type(y)), 0)
    end
    return y
  end

  -- analytic: one backward pass; the inputs' gradients are put back after
  local saved = {}
  for i = 1, n do saved[i] = inputs[i].grad; inputs[i]:zero_grad() end
  local y = result()
  y:backward()
  local analytic = {}
  for i = 1, n do
    local x, g = inputs[i], {}
    local flat = #x.shape == 0 and {x.grad} or nil
    if not flat then
      local gx = core.Element(x.grad)
      flat = {}
      for j = 1, size_of(x) do flat[j] = A.get(gx, j) end
    end
    analytic[i] = flat
    x.grad = saved[i]
  end

  -- numeric: central differences of fn, one value at a time
  local bad
  for i = 1, n do
    local x = inputs[i]
    for j = 1, size_of(x) do
      local v = A.get(x, j)
      A.set(x, j, v + o.eps)
      local up = core.no_grad(result).data
      A.set(x, j, v - o.eps)
      local down = core.no_grad(result).data
      A.set(x, j, v)
      local numeric = (up - down) / (2 * o.eps)
      if not close(analytic[i][j], numeric, o) then
        bad = fmt("gradient of input %d%s: analytic %s, numeric %s", i, at(x, j),
                  num(analytic[i][j]), num(numeric))
        break
      end
    end
    if bad then break end
  end
  if not bad then return true end

  -- which op: the first, in backward order, wrong on its own inputs
  local msg
  for _, entry in ipairs(A.ops(y)) do
    local e, pos = entry[1], entry[2]
    local part = check_op(e, o)
    if part then
      msg = fmt("gradcheck: op '%s' (node #%d): %s; so the %s", e.op, pos, part, bad)
      break
    end
  end
  msg = msg or ("gradcheck: " .. bad .. " (every op's local derivative agrees "
                .. "with central differences: try another eps)")
  if o.raise then error(msg, 2) end
  return false, msg
end

-- }====================================================================

return M
