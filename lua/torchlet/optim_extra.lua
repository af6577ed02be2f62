--[[
torchlet.optim_extra -- the parts of torchlet.optim written in Lua over the
optimizer's API (opt.lr read and written, p.grad read and written); init.lua
adds them to torchlet.optim.

    total = optim.clip_grad_norm(params, max_norm [, {norm_type = 2}])
    sched = optim.schedule.step(opt, {step_size = 10, gamma = 0.1})
            optim.schedule.exponential(opt, {gamma = 0.9})
            optim.schedule.cosine(opt, {T_max = 30, eta_min = 0})
            optim.schedule.linear(opt, {start_factor = 1/3, end_factor = 1, total_iters = 5})
    sched:step()  sched:get_lr()  sched.last_epoch

Each follows PyTorch 1.13 (torch.nn.utils.clip_grad_norm_, StepLR,
ExponentialLR, CosineAnnealingLR, LinearLR) formula for formula, so the
values are PyTorch's to the bit (spec/reference/train_torch.py records them).
]]
local core = require "torchlet.core"
local args = require "torchlet.args"
local compat = require "torchlet.compat"
local type, pcall, getmetatable, setmetatable, rawget =
  type, pcall, getmetatable, setmetatable, rawget
local abs, sqrt, cos, pi, huge = math.abs, math.sqrt, math.cos, math.pi, math.huge
local to_integer = compat.to_integer

local M = {}

-- {======================================================================
-- clip_grad_norm
-- =======================================================================

-- Applies f to every number of the nested table (or number) v and
-- returns the results in the same shape.
local function map(v, f)
  if type(v) == "number" then return f(v) end
  local out = {}
  for i = 1, #v do out[i] = map(v[i], f) end
  return out
end

-- Calls f on every number of the nested table (or number) v.
local function each(v, f)
  if type(v) == "number" then f(v) return end
  for i = 1, #v do each(v[i], f) end
end

-- The 'p'-norm of the numbers given to 'add' one at a time, read by
-- 'result': PyTorch's vector_norm (max |x| for p = inf, nan winning;
-- sqrt of the sum of squares for 2).
local function norm_acc(p)
  local acc = 0
  local add, result
  if p == huge then
    add = function(x)
      local a = abs(x)
      if a ~= a or a > acc then acc = a end
      if acc ~= acc then add = function() end end      -- nan stays
    end
    result = function() return acc end
  elseif p == 2 then
    add = function(x) acc = acc + x * x end
    result = function() return sqrt(acc) end
  elseif p == 1 then
    add = function(x) acc = acc + abs(x) end
    result = function() return acc end
  else
    add = function(x) acc = acc + abs(x) ^ p end
    result = function() return acc ^ (1 / p) end
  end
  return function(x) add(x) end, function() return result() end
end

local clip_opts = {norm_type = "number"}
local parameter_meta        -- of torchlet.Parameter (model:parameters{scalar = true})
do
  local model = core.nn.MLP(1, {1})
  parameter_meta = getmetatable(model:parameters({scalar = true})[1])
end

--[[ clip_grad_norm(params, max_norm [, opts]): torch.nn.utils.clip_grad_norm_.
  params    a list of Elements (arrays or scalars) or of torchlet.Parameter
            (model:parameters() or model:parameters{scalar = true}), or one
  max_norm  a number >= 0
  opts      norm_type (2): a number > 0, or math.huge for the largest |g|
The total norm is the norm of the gradients' norms, returned as a number.
Every gradient is multiplied in place by max_norm / (total + 1e-6) when
that is below 1 (or nan): as PyTorch 1.13 with error_if_nonfinite = false,
an infinite total scales by 0 and a nan total makes the gradients nan.  A
gradient that is all zeros is left alone (so one marked absent by
zero_grad stays absent, as PyTorch skips 'grad is None').
]]
function M.clip_grad_norm(params, max_norm, opts)
  local fname = "clip_grad_norm"
  if core.is_element(params) or getmetatable(params) == parameter_meta then
    params = {params}
  elseif type(params) ~= "table" then
    args.argerror(fname, 1, "table of Elements expected, got " .. type(params))
  end
  local list = {}
  for i = 1, #params do
    local p = rawget(params, i)
    if not core.is_element(p) and getmetatable(p) ~= parameter_meta then
      args.argerror(fname, 1, ("parameter %d must be an Element, got %s"):format(i, type(p)))
    end
    list[i] = p
  end
  if type(max_norm) ~= "number" or not (max_norm >= 0) then
    args.argerror(fname, 2, "max_norm must be a number >= 0, got " .. args.show(max_norm))
  end
  opts = args.check_opts(fname, 3, opts, clip_opts)
  local p = opts.norm_type or 2
  if not (p > 0) then
    args.argerror(fname, 3, "option 'norm_type' must be > 0 (math.huge for the largest value), got "
      .. args.show(p))
  end
  local grads, nonzero = {}, {}
  local add_total, total_of = norm_acc(p)
  for i = 1, #list do
    local g = list[i].grad
    local add, norm_of = norm_acc(p)
    local any = false
    each(g, function(x)
      add(x)
      if x ~= 0 then any = true end
    end)
    grads[i], nonzero[i] = g, any
    add_total(norm_of())
  end
  local total = total_of()
  local coef = max_norm / (total + 1e-6)
  if coef < 1 or coef ~= coef then
    local scale = function(x) return x * coef end
    for i = 1, #list do
      if nonzero[i] then list[i].grad = map(grads[i], scale) end
    end
  end
  return total
end

-- }======================================================================

-- {======================================================================
-- Learning-rate schedules
-- =======================================================================

local Schedule = {}
Schedule.__index = Schedule

-- sched:step(): one more epoch (or step); sets the optimizer's lr from
-- the one it has now, as PyTorch's chainable schedules do.
function Schedule:step()
  if getmetatable(self) ~= Schedule then
    args.argerror("step", 1, "schedule expected, got " .. type(self))
  end
  self.last_epoch = self.last_epoch + 1
  local lr = self.rule(self, self.optimizer.lr)
  self.optimizer.lr = lr
  self.last_lr = lr
end

-- sched:get_lr(): the learning rate the schedule last set (PyTorch's
-- get_last_lr(), one number: an optimizer here has one group).
function Schedule:get_lr()
  if getmetatable(self) ~= Schedule then
    args.argerror("get_lr", 1, "schedule expected, got " .. type(self))
  end
  return self.last_lr
end
Schedule.get_last_lr = Schedule.get_lr

function Schedule:__tostring()
  return ("%s(epoch %d, lr=%s)"):format(self.name, self.last_epoch, core.format_number(self.last_lr, 6))
end

-- The optimizer at argument 1: anything whose 'lr' reads as a number and
-- can be written (a torchlet.Optimizer, or a table of one's own).
local function check_optimizer(fname, opt)
  local ok, lr = pcall(function() return opt.lr end)
  if not ok or type(lr) ~= "number" then
    args.argerror(fname, 1, "optimizer expected (a value with a number 'lr'), got " .. type(opt), 4)
  end
  return lr
end

-- Reads option 'key' of 'opts' (argument 2): its default when absent
-- ('default' nil: required); 'check' says what a valid value is.
local function option(fname, opts, key, default, what, check)
  local v = opts[key]
  if v == nil then v = default end
  if v == nil then args.argerror(fname, 2, ("option '%s' is required"):format(key), 4) end
  if not check(v) then
    args.argerror(fname, 2, ("option '%s' must be %s, got %s"):format(key, what, args.show(v)), 4)
  end
  return v
end

local function positive_integer(v) local k = to_integer(v) return k ~= nil and k >= 1 end
local function nonneg(v) return v >= 0 and v < huge end
local function unit_open(v) return v > 0 and v <= 1 end
local function unit(v) return v >= 0 and v <= 1 end

-- Makes a schedule over 'opt' and takes its epoch 0 (PyTorch's
-- constructor steps once): 'rule(self, lr)' gives the next lr.
local function new(name, opt, lr, fields, rule)
  fields.name, fields.optimizer, fields.base_lr = name, opt, lr
  fields.last_epoch, fields.rule = -1, rule
  local self = setmetatable(fields, Schedule)
  self:step()
  return self
end

M.schedule = {}

-- StepLR: lr times gamma every step_size epochs.
function M.schedule.step(opt, opts)
  local fname = "schedule.step"
  local lr = check_optimizer(fname, opt)
  opts = args.check_opts(fname, 2, opts, {step_size = "number", gamma = "number"})
  return new("StepLR", opt, lr, {
    step_size = option(fname, opts, "step_size", nil, "a positive integer", positive_integer),
    gamma = option(fname, opts, "gamma", 0.1, "a finite number >= 0", nonneg),
  }, function(s, cur)
    if s.last_epoch == 0 or s.last_epoch % s.step_size ~= 0 then return cur end
    return cur * s.gamma
  end)
end

-- ExponentialLR: lr times gamma every epoch.
function M.schedule.exponential(opt, opts)
  local fname = "schedule.exponential"
  local lr = check_optimizer(fname, opt)
  opts = args.check_opts(fname, 2, opts, {gamma = "number"})
  return new("ExponentialLR", opt, lr, {
    gamma = option(fname, opts, "gamma", nil, "a finite number >= 0", nonneg),
  }, function(s, cur)
    if s.last_epoch == 0 then return cur end
    return cur * s.gamma
  end)
end

-- CosineAnnealingLR: from the initial lr down to eta_min along half a
-- cosine over T_max epochs, then back up (PyTorch's recursive form).
function M.schedule.cosine(opt, opts)
  local fname = "schedule.cosine"
  local lr = check_optimizer(fname, opt)
  opts = args.check_opts(fname, 2, opts, {T_max = "number", eta_min = "number"})
  return new("CosineAnnealingLR", opt, lr, {
    T_max = option(fname, opts, "T_max", nil, "a positive integer", positive_integer),
    eta_min = option(fname, opts, "eta_min", 0, "a finite number >= 0", nonneg),
  }, function(s, cur)
    local e, T, m = s.last_epoch, s.T_max, s.eta_min
    if e == 0 then return cur end
    if (e - 1 - T) % (2 * T) == 0 then
      return cur + (s.base_lr - m) * (1 - cos(pi / T)) / 2
    end
    return (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (cur - m) + m
  end)
end

-- LinearLR: the lr times a factor going linearly from start_factor to
-- end_factor over total_iters epochs, then constant (a warm-up with
-- end_factor 1).
function M.schedule.linear(opt, opts)
  local fname = "schedule.linear"
  local lr = check_optimizer(fname, opt)
  opts = args.check_opts(fname, 2, opts,
    {start_factor = "number", end_factor = "number", total_iters = "number"})
  return new("LinearLR", opt, lr, {
    start_factor = option(fname, opts, "start_factor", 1 / 3, "in (0, 1]", unit_open),
    end_factor = option(fname, opts, "end_factor", 1, "in [0, 1]", unit),
    total_iters = option(fname, opts, "total_iters", 5, "a positive integer", positive_integer),
  }, function(s, cur)
    local e, a, b, n = s.last_epoch, s.start_factor, s.end_factor, s.total_iters
    if e == 0 then return cur * a end
    if e > n then return cur end
    return cur * (1 + (b - a) / (n * a + (e - 1) * (b - a)))
  end)
end

-- }======================================================================

return M
