local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local unpack = helpers.unpack   -- a global on 5.1
local optim, Element = torchlet.optim, torchlet.Element

-- The optimizers update a whole parameter in one vectorized pass (issue 14).
-- These specs pin that pass bit for bit to the per-value formulas, written
-- out below in plain Lua in PyTorch's order of operations (the comments of
-- core/tl_optim.h), for every kind and option, over a 37-value array (an
-- odd size, so the loop's leftover values after the vector part are
-- exercised) and a scalar Element beside it, for a few steps.

-- One step of 'kind' with options 'o' on value 'p' with gradient 'g' and
-- state 's' (a table per value), at step 't'; returns the new value.
local update = {}

function update.SGD(o, p, g, s, t)
  if o.weight_decay ~= 0 then g = g + o.weight_decay * p end
  if o.momentum ~= 0 then
    if t == 1 then s.b = g
    else s.b = o.momentum * s.b + (1 - o.dampening) * g end
    if o.nesterov then g = g + o.momentum * s.b else g = s.b end
  end
  return p - o.lr * g
end

function update.RMSprop(o, p, g, s)
  if o.weight_decay ~= 0 then g = g + o.weight_decay * p end
  s.v = s.v * o.alpha + (1 - o.alpha) * g * g
  local avg
  if o.centered then
    s.ga = s.ga + (1 - o.alpha) * (g - s.ga)
    avg = math.sqrt(s.v - s.ga * s.ga)
  else
    avg = math.sqrt(s.v)
  end
  avg = avg + o.eps
  if o.momentum > 0 then
    s.b = s.b * o.momentum + g / avg
    return p - o.lr * s.b
  end
  return p - o.lr * (g / avg)
end

function update.Adagrad(o, p, g, s, t)
  if o.weight_decay ~= 0 then g = g + o.weight_decay * p end
  local clr = o.lr / (1 + (t - 1) * o.lr_decay)
  s.sum = s.sum + g * g
  return p - clr * (g / (math.sqrt(s.sum) + o.eps))
end

local function adam(decoupled)
  return function(o, p, g, s, t)
    if decoupled then p = p * (1 - o.lr * o.weight_decay)
    elseif o.weight_decay ~= 0 then g = g + o.weight_decay * p end
    s.m = s.m + (1 - o.betas[1]) * (g - s.m)
    s.v = s.v * o.betas[2] + (1 - o.betas[2]) * g * g
    local bc1 = 1 - o.betas[1] ^ t
    local bc2 = 1 - o.betas[2] ^ t
    local v = s.v
    if o.amsgrad then
      if s.vmax < v then s.vmax = v end
      v = s.vmax
    end
    local denom = math.sqrt(v) / math.sqrt(bc2) + o.eps
    return p - o.lr / bc1 * (s.m / denom)
  end
end
update.Adam, update.AdamW = adam(false), adam(true)

local defaults = {
  SGD = {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false},
  RMSprop = {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0,
             centered = false},
  Adagrad = {lr = 1e-2, lr_decay = 0, weight_decay = 0, initial_accumulator_value = 0,
             eps = 1e-10},
  Adam = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false},
  AdamW = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2, amsgrad = false},
}

local cases = {
  {"SGD", {lr = 0.1}},
  {"SGD", {lr = 0.1, weight_decay = 0.05}},
  {"SGD", {lr = 0.1, momentum = 0.9}},
  {"SGD", {lr = 0.1, momentum = 0.9, dampening = 0.3, weight_decay = 0.05}},
  {"SGD", {lr = 0.1, momentum = 0.9, nesterov = true}},
  {"SGD", {lr = 0.1, momentum = 0.8, nesterov = true, weight_decay = 0.05}},
  {"RMSprop", {lr = 0.01}},
  {"RMSprop", {lr = 0.01, weight_decay = 0.05}},
  {"RMSprop", {lr = 0.01, momentum = 0.5}},
  {"RMSprop", {lr = 0.01, centered = true}},
  {"RMSprop", {lr = 0.01, centered = true, momentum = 0.5, weight_decay = 0.05,
               alpha = 0.9}},
  {"RMSprop", {lr = 0.01, alpha = 1.5}},            -- v goes negative: sqrt is nan
  {"Adagrad", {lr = 0.1}},
  {"Adagrad", {lr = 0.1, weight_decay = 0.05}},
  {"Adagrad", {lr = 0.1, lr_decay = 0.3, initial_accumulator_value = 0.2}},
  {"Adam", {lr = 0.01}},
  {"Adam", {lr = 0.01, weight_decay = 0.05}},
  {"Adam", {lr = 0.01, amsgrad = true, betas = {0.8, 0.95}}},
  {"Adam", {lr = 0.01, amsgrad = true, weight_decay = 0.05}},
  {"AdamW", {lr = 0.01}},
  {"AdamW", {lr = 0.01, weight_decay = 0, amsgrad = true}},
  {"AdamW", {lr = 0.01, weight_decay = 0.1, amsgrad = true, betas = {0.5, 0.6}}},
}

-- A fixed pseudo-random sequence in [-2, 2), the same on every VM.
local function sequence(seed)
  return function()
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648 * 4 - 2
  end
end

local function same(a, b) return a == b or (a ~= a and b ~= b) end

local function label(kind, opts)
  local keys = {}
  for k, v in pairs(opts) do
    keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}"
                                   or tostring(v))
  end
  table.sort(keys)
  return kind .. " " .. table.concat(keys, " ")
end

local N, STEPS = 37, 5
local F32 = {dtype = "float32"}

-- x rounded to the nearest float32 (through a float32 array's store)
local function fround(x) return Element({x}, F32).data[1] end

-- Runs 'kind' on a 37-value array and a scalar through Torchlet and through
-- the formulas above; 'special' puts nan, inf and signed zeros among the
-- values and gradients.  With 'f32' the array is float32: its values and
-- gradients are floats, the update is the formula's in double (against
-- double state) and the new value that result rounded to float once.
local function check(kind, opts, special, f32)
  local o = {}
  for k, v in pairs(defaults[kind]) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  local rnd = sequence(special and 7 or 1)
  local odd = {0 / 0, 1 / 0, -1 / 0, helpers.neg_zero, 0.0, 1e300, -1e-300}
  local init = {}
  for i = 1, N do init[i] = rnd() end
  if special then for i, v in ipairs(odd) do init[i * 3] = v end end
  init[N + 1] = 0.3                                  -- the scalar Element
  if f32 then for i = 1, N do init[i] = fround(init[i]) end end
  local W, s = Element({unpack(init, 1, N)}, f32 and F32 or nil), Element(init[N + 1])
  local opt = optim[kind]({W, s}, opts)
  local want, state = {}, {}
  for i = 1, N + 1 do
    want[i] = init[i]
    state[i] = {b = 0, v = 0, ga = 0, m = 0, vmax = 0,
                sum = o.initial_accumulator_value or 0}
  end
  for t = 1, STEPS do
    local g = {}
    for i = 1, N + 1 do g[i] = rnd() end
    if special then for i, v in ipairs(odd) do g[i * 5 % N + 1] = v end end
    g[2] = 0
    if f32 then for i = 1, N do g[i] = fround(g[i]) end end
    W.grad, s.grad = {unpack(g, 1, N)}, g[N + 1]
    opt:step()
    for i = 1, N + 1 do
      want[i] = update[kind](o, want[i], g[i], state[i], t)
      if f32 and i <= N then want[i] = fround(want[i]) end
    end
    local got = W.data
    got[N + 1] = s.data
    for i = 1, N + 1 do
      assert(same(got[i], want[i]), ("%s%s, step %d, value %d: got %.17g, formula %.17g")
             :format(label(kind, opts), f32 and " float32" or "", t, i, got[i], want[i]))
    end
  end
end

describe("optim's fused updates", function()
  for _, case in ipairs(cases) do
    it("equal the per-value formulas bit for bit: " .. label(case[1], case[2]), function()
      check(case[1], case[2], false)
    end)
    it("carry nan and inf as the formulas do: " .. label(case[1], case[2]), function()
      check(case[1], case[2], true)
    end)
    it("update float32 arrays in double, rounded once: " .. label(case[1], case[2]), function()
      check(case[1], case[2], false, true)
      check(case[1], case[2], true, true)
    end)
  end

  it("leave the last values of an odd-sized array as the first ones", function()
    -- every value the same: a tail handled apart from the vector part
    -- would show as a different last value
    local W = Element({0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5})
    local opt = optim.Adam({W}, {lr = 0.1})
    for _ = 1, 3 do
      W.grad = {0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25}
      opt:step()
    end
    local d = W.data
    for i = 2, #d do assert.are.equal(d[1], d[i]) end
    assert.is_true(d[1] < 0.5)
  end)

  it("step float32 arrays of one value and of odd lengths alike", function()
    -- a one-value float32 array takes the array path, not the scalar one;
    -- every length from 1 to 19 crosses the vector widths' tails
    for n = 1, 19 do
      local v, g = {}, {}
      for i = 1, n do v[i], g[i] = 0.5, 0.25 end
      local W = Element(v, F32)
      local opt = optim.Adam({W}, {lr = 0.1})
      for _ = 1, 3 do W.grad = g; opt:step() end
      local d = W.data
      assert.are.equal(fround(d[1]), d[1])
      assert.is_true(d[1] < 0.5)
      for i = 2, n do assert.are.equal(d[1], d[i]) end
    end
  end)
end)
