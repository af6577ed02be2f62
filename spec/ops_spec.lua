-- spec/ops_spec.lua -- walks every op of torchlet.ops() (the core's one
-- declaration, core/tl_ops.h): each has a recipe here, the recipe's graph
-- really holds the op, its value matches the formula, its gradient matches
-- central differences, and an op declared a method is one.  An op added
-- without a recipe fails the first test.
local t = require "torchlet"
local helpers = require "spec.helpers"
local unpack = require("spec.helpers").unpack   -- a global on 5.1

local E = t.Element
local near = helpers.near

local flat = helpers.flat

-- A scalar of an array Element: the sum of its values weighted by 1, 2,
-- 3 ... (so that each position gets its own gradient).
local function weigh(x)
  if #x.shape == 0 then return x end
  local n, w = 1, {}
  for _, d in ipairs(x.shape) do n = n * d end
  for i = 1, n do w[i] = i end
  return (x * E(w):reshape(x.shape)):sum()
end
local function weighed(values)          -- the same in plain Lua
  local s = 0
  for i, v in ipairs(flat(values)) do s = s + i * v end
  return s
end

local function sigmoid(a) return 1 / (1 + math.exp(-a)) end

-- Unary elementwise ops: the value in plain Lua; built with the method.
local unary = {
  neg = function(a) return -a end, exp = math.exp, log = math.log,
  tanh = function(a) return (math.exp(2 * a) - 1) / (math.exp(2 * a) + 1) end,
  sigmoid = sigmoid, relu = function(a) return math.max(a, 0) end,
  sqrt = math.sqrt, abs = math.abs, sin = math.sin, cos = math.cos,
  softplus = function(a) return math.log(1 + math.exp(a)) end,
}

-- Leaves for xs[first..first+n-1]: an array of 'shape' (or a scalar).
local function array_of(xs, first, shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local v = {}
  for i = 1, n do v[i] = xs[first + i - 1] end
  return E(v):reshape(shape):detach()
end

-- Recipes by op id: xs (the leaves' values, flattened), build(xs) ->
-- root, leaves (Elements holding xs in order), value(xs) -> the root's
-- value.
local recipes = {}
local function binary(id, f, g, a, b)
  recipes[id] = {xs = {a or 1.5, b or 0.75},
    build = function(xs) local x, y = E(xs[1]), E(xs[2]) return f(x, y), {x, y} end,
    value = function(xs) return g(xs[1], xs[2]) end}
end
binary("add", function(a, b) return a + b end, function(a, b) return a + b end)
binary("sub", function(a, b) return a - b end, function(a, b) return a - b end)
binary("mul", function(a, b) return a * b end, function(a, b) return a * b end)
binary("div", function(a, b) return a / b end, function(a, b) return a / b end)
binary("pow", function(a, b) return a ^ b end, function(a, b) return a ^ b end)
local function with_k(id, f)
  recipes[id] = {xs = {1.25},
    build = function(xs) local x = E(xs[1]) return f(x), {x} end,
    value = function(xs) return f(xs[1]) end}
end
with_k("add_k", function(a) return a + 2 end)
with_k("sub_k", function(a) return a - 2 end)
with_k("mul_k", function(a) return a * 3 end)
with_k("div_k", function(a) return a / 4 end)
with_k("rsub_k", function(a) return 2 - a end)
with_k("rdiv_k", function(a) return 2 / a end)
with_k("pow_k", function(a) return a ^ 3 end)
with_k("rpow_k", function(a) return 2 ^ a end)

-- a list of scalars enters the losses through one stack node
recipes.stack = {xs = {0.5, 3.25},               -- mse over a Lua list
  build = function(xs)
    local s = {E(xs[1]), E(xs[2])}
    return t.loss.mse(s, {1, 2}), s
  end,
  value = function(xs) return ((xs[1] - 1) ^ 2 + (xs[2] - 2) ^ 2) / 2 end}

-- the fused model ops: a linear Neuron(2) with w1, w2, b = xs[1..3] (set
-- through micrograd's per-scalar view), leaves its W and b arrays
local function neuron(xs)
  local n = t.nn.Neuron(2, {activation = "linear"})
  local sp = n:parameters({scalar = true})
  for i = 1, 3 do sp[i].data = xs[i] end
  local p = n:parameters()
  return n, p[1], p[2]
end
recipes.neuron_row = {xs = {0.5, -0.25, 0.125, 2, 3},   -- model(x), scalars
  build = function(xs)
    local n, W, b = neuron(xs)
    local x = {E(xs[4]), E(xs[5])}
    return n(x), {W, b, x[1], x[2]}
  end,
  value = function(xs) return xs[1] * xs[4] + xs[2] * xs[5] + xs[3] end}
recipes.linear = {xs = {0.5, -0.25, 0.125, 2, 3, -1, 4},  -- model(X), batched
  build = function(xs)
    local n, W, b = neuron(xs)
    local X = array_of(xs, 4, {2, 2})
    return weigh(n(X)), {W, b, X}
  end,
  value = function(xs)
    return 1 * (xs[1] * xs[4] + xs[2] * xs[5] + xs[3])
         + 2 * (xs[1] * xs[6] + xs[2] * xs[7] + xs[3])
  end}
recipes.cross_entropy = {xs = {0.5, -1, 2, 0.25, 1.5, -0.5},
  build = function(xs)
    local logits = array_of(xs, 1, {2, 3})
    return t.loss.cross_entropy(logits, {2, 3}), {logits}
  end,
  value = function(xs)
    local function lse(a, b, c) return math.log(math.exp(a) + math.exp(b) + math.exp(c)) end
    return ((lse(xs[1], xs[2], xs[3]) - xs[2]) + (lse(xs[4], xs[5], xs[6]) - xs[6])) / 2
  end}

-- array ops, built with their methods (or x[i])
local M = {1, -2, 3.5, 0.25, 5, -6}             -- a 2x3 matrix
local function matrix(xs) return array_of(xs, 1, {2, 3}) end
local function rows(xs) return {{xs[1], xs[2], xs[3]}, {xs[4], xs[5], xs[6]}} end
recipes.reduce_sum = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:sum(1)), {x} end,
  value = function(xs) local r = rows(xs)
    return weighed({r[1][1] + r[2][1], r[1][2] + r[2][2], r[1][3] + r[2][3]}) end}
recipes.reduce_mean = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:mean(2)), {x} end,
  value = function(xs) local r = rows(xs)
    return weighed({(r[1][1] + r[1][2] + r[1][3]) / 3, (r[2][1] + r[2][2] + r[2][3]) / 3}) end}
recipes.reduce_max = {xs = M,
  build = function(xs) local x = matrix(xs) return x:max(), {x} end,
  value = function(xs) return math.max(unpack(xs)) end}
recipes.matmul = {xs = {1, -2, 3.5, 0.25, 5, -6, 0.5, 1.5, -1},
  build = function(xs)
    local x, v = matrix(xs), array_of(xs, 7, {3})
    return weigh(x:matmul(v)), {x, v}
  end,
  value = function(xs)
    return 1 * (xs[1] * xs[7] + xs[2] * xs[8] + xs[3] * xs[9])
         + 2 * (xs[4] * xs[7] + xs[5] * xs[8] + xs[6] * xs[9])
  end}
recipes.transpose = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:transpose()), {x} end,
  value = function(xs) local r = rows(xs)
    return weighed({{r[1][1], r[2][1]}, {r[1][2], r[2][2]}, {r[1][3], r[2][3]}}) end}
recipes.reshape = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:reshape(3, 2)), {x} end,
  value = function(xs) return weighed(xs) end}
recipes.index = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x[2]), {x} end,
  value = function(xs) return weighed({xs[4], xs[5], xs[6]}) end}
-- float32 and back: the values survive (they are floats), and a step of
-- 2^-6 is exact in float32 too, so central differences see every bit
recipes.to_dtype = {xs = M, h = 2 ^ -6,
  build = function(xs) local x = matrix(xs) return weigh(x:float():double()), {x} end,
  value = function(xs) return weighed(xs) end}

-- core/ops_extra.c: min, logsumexp, softmax, log_softmax, clamp's halves,
-- cat, narrow
local function lse(vs)
  local m, s = math.max(unpack(vs)), 0
  for _, v in ipairs(vs) do s = s + math.exp(v - m) end
  return m + math.log(s)
end
recipes.reduce_min = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:min(2)), {x} end,
  value = function(xs) return weighed({math.min(xs[1], xs[2], xs[3]), math.min(xs[4], xs[5], xs[6])}) end}
recipes.logsumexp = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:logsumexp(1)), {x} end,
  value = function(xs)
    return weighed({lse({xs[1], xs[4]}), lse({xs[2], xs[5]}), lse({xs[3], xs[6]})}) end}
recipes.softmax = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:softmax(2)), {x} end,
  value = function(xs) local r, v = rows(xs), {}
    for i = 1, 2 do
      local l = lse(r[i])
      for j = 1, 3 do v[#v + 1] = math.exp(r[i][j] - l) end
    end
    return weighed(v) end}
recipes.log_softmax = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:log_softmax(1)), {x} end,
  value = function(xs) local v = {}
    for i = 0, 1 do
      for j = 1, 3 do v[#v + 1] = xs[i * 3 + j] - lse({xs[j], xs[3 + j]}) end
    end
    return weighed(v) end}
recipes.clamp_min_k = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:clamp(0.5)), {x} end,
  value = function(xs) local v = {}
    for i, a in ipairs(xs) do v[i] = math.max(a, 0.5) end
    return weighed(v) end}
recipes.clamp_max_k = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:clamp(nil, 2)), {x} end,
  value = function(xs) local v = {}
    for i, a in ipairs(xs) do v[i] = math.min(a, 2) end
    return weighed(v) end}
recipes.cat = {xs = {1, -2, 3.5, 0.25, 5, -6, 0.5, 1.5},
  build = function(xs)
    local x, c = matrix(xs), array_of(xs, 7, {2, 1})
    return weigh(t.cat({x, c}, 2)), {x, c}
  end,
  value = function(xs) return weighed({xs[1], xs[2], xs[3], xs[7], xs[4], xs[5], xs[6], xs[8]}) end}
recipes.narrow = {xs = M,
  build = function(xs) local x = matrix(xs) return weigh(x:narrow(2, 2, 2)), {x} end,
  value = function(xs) return weighed({xs[2], xs[3], xs[5], xs[6]}) end}

-- a custom op (torchlet.Function, spec/function_spec.lua) of two inputs,
-- named as its row so that holds() finds it: a^2 * b
local custom = t.Function{name = "custom",
  forward = function(ctx, a, b) ctx:save(a, b) return a * a * b end,
  backward = function(ctx, g)
    local a, b = ctx.saved[1], ctx.saved[2]
    return g * 2 * a * b, g * a * a
  end}
recipes.custom = {xs = {1.5, -0.75},
  build = function(xs) local a, b = E(xs[1]), E(xs[2]) return custom(a, b), {a, b} end,
  value = function(xs) return xs[1] * xs[1] * xs[2] end}

for id, f in pairs(unary) do
  recipes[id] = {xs = {0.75},
    build = function(xs) local x = E(xs[1]) return x[id](x), {x} end,
    value = function(xs) return f(xs[1]) end}
end

-- gelu: Lua has no erf, so its value at 0.75 is PyTorch 1.13's
-- (torch.nn.functional.gelu, float64); leaky_relu's slope is its constant.
recipes.gelu = {xs = {0.75},
  build = function(xs) local x = E(xs[1]) return x:gelu(), {x} end,
  value = function() return 0.5800294857173489 end}
recipes.leaky_relu_k = {xs = {-1.25},
  build = function(xs) local x = E(xs[1]) return x:leaky_relu(0.2), {x} end,
  value = function(xs) return xs[1] * 0.2 end}

-- Whether the graph of 'root' holds a node of op 'entry'.
local function holds(root, entry)
  local stack = {root}                  -- the recipes' graphs are small trees
  while #stack > 0 do
    local e = table.remove(stack)
    local children = e:children()
    local arity_ok = entry.nary and #children > 0 or #children == entry.arity
    if e.op == entry.name and arity_ok then return true end
    for _, c in ipairs(children) do stack[#stack + 1] = c end
  end
  return false
end

local function leaf_grads(leaves)
  local g = {}
  for _, leaf in ipairs(leaves) do flat(leaf.grad, g) end
  return g
end

describe("ops()", function()
  local ops = t.ops()

  it("lists every op once, with a unique id, leaf first", function()
    assert.are.equal("leaf", ops[1].id)
    assert.are.equal("", ops[1].name)
    local ids = {}
    for _, o in ipairs(ops) do
      assert.is_nil(ids[o.id], o.id)
      ids[o.id] = true
      assert.are.equal("string", type(o.symbol))
      assert.is_true(o.nary or o.arity >= 0)
    end
    assert.is_true(#ops >= 36)
  end)

  it("has a recipe for every op", function()
    for i = 2, #ops do
      assert(recipes[ops[i].id], "op '" .. ops[i].id .. "' has no recipe in spec/ops_spec.lua")
    end
  end)

  it("has a backward rule as text for every op (e:explain(), core/tl_ops.h)", function()
    local known = {g = true, out = true, a = true, b = true, k = true, n = true,
                   row = true, i = true, w = true, xs = true, op = true}
    assert.are.equal("", ops[1].grad)
    for i = 2, #ops do
      local o = ops[i]
      assert(o.grad ~= "", "op '" .. o.id .. "' has no rule text in core/tl_ops.h")
      assert.truthy(o.grad:find("$g", 1, true), o.id)
      for name in o.grad:gmatch("%$(%a+)") do assert(known[name], o.id .. ": $" .. name) end
    end
  end)

  it("describes the ops as they behave", function()
    local by = {}
    for _, o in ipairs(ops) do by[o.id] = o end
    assert.is_true(by.add_k.const and not by.add_k.const_left)
    assert.is_true(by.rsub_k.const and by.rsub_k.const_left)
    assert.is_true(by.reduce_max.axis and by.reduce_max.array)
    assert.is_true(by.index.index)
    assert.is_true(by.stack.nary and by.stack.arity == nil)
    assert.is_true(by.linear.nary and by.linear.array)
    assert.are.equal(2, by.matmul.arity)
    assert.is_true(by.exp.elementwise and by.rpow_k.elementwise)
    assert.is_false(by.matmul.elementwise or by.stack.elementwise or by.leaf.elementwise)
    assert.are.equal("exp", by.exp.method)
    assert.is_nil(by.add.method)
  end)

  it("makes each method an op declares", function()
    local count = 0
    for _, o in ipairs(ops) do
      if o.method then
        count = count + 1
        assert.are.equal("function", type(t.Element_methods[o.method]), o.method)
        assert.are.equal("function", type(E({1, 2})[o.method]), o.method)
      end
    end
    assert.is_true(count >= 17)
  end)

  for i = 2, #ops do
    local o = ops[i]
    it(o.id .. ": in its graph, value, gradient against central differences", function()
      local r = recipes[o.id]
      assert(r, "no recipe")
      local xs = {}
      for j, v in ipairs(r.xs) do xs[j] = v end
      local root, leaves = r.build(xs)
      assert.is_true(holds(root, o), "the recipe's graph has no '" .. o.name .. "' node")
      near(r.value(xs), root.data, 1e-12, o.id .. " value")
      root:backward()
      local got = leaf_grads(leaves)
      -- its explanation: every placeholder filled in, a view that leaves
      -- the gradients as they were
      local text = root:explain()
      assert.is_nil(text:find("$", 1, true), text)
      assert.truthy(text:find(" += ", 1, true), text)
      assert.are.same(got, leaf_grads(leaves))
      local want = helpers.numeric_grad(function(v) return (r.build(v)).data end, xs, r.h)
      assert.are.equal(#want, #got)
      for j = 1, #want do near(want[j], got[j], 1e-6, o.id .. " gradient " .. j) end
    end)
  end
end)

-- gradcheck's two steps at one op (torchlet.gradcheck, core/tl_custom.h):
-- the op replayed at its inputs' values, and its backward rule alone
describe("replay and local gradients of every op", function()
  local A = t._autograd
  local function size(x)
    local n = 1
    for _, d in ipairs(x.shape) do n = n * d end
    return n
  end
  local ops = t.ops()
  for i = 2, #ops do
    local id = ops[i].id
    it(id .. ": replays to its value; its rule alone matches central differences", function()
      local root = recipes[id].build(recipes[id].xs)
      local seen = 0
      for _, entry in ipairs(A.ops(root)) do
        local e = entry[1]
        local n = size(e)
        local y = A.replay(e)
        for j = 1, n do near(A.get(e, j), A.get(y, j), 1e-15, id .. " replay") end
        local w = {}
        for j = 1, n do w[j] = j end
        local g = #e.shape == 0 and 1 or E(w):reshape(e.shape)
        local grads = A.local_grads(e, g)
        for k, c in ipairs(e:children()) do
          for j = 1, size(c) do
            local v = A.get(c, j)
            local function at(x)
              A.set(c, j, x)
              local r, s = A.replay(e), 0
              for m = 1, n do s = s + w[m] * A.get(r, m) end
              return s
            end
            local h = recipes[id].h or 1e-6
            local numeric = (at(v + h) - at(v - h)) / (2 * h)
            A.set(c, j, v)
            local a = type(grads[k]) == "number" and grads[k] or A.get(grads[k], j)
            if c.requires_grad then near(numeric, a, 1e-6, id .. " local grad") end
          end
        end
        seen = seen + 1
      end
      assert.is_true(seen > 0)
    end)
  end
end)

describe("one record step for every op", function()
  it("checks numerics for stack too: a nan score in a loss's list is reported", function()
    t.check_numerics(true)
    local ok, err = pcall(function() return t.loss.mse({E(0 / 0), E(1)}, {0, 0}) end)
    t.check_numerics(false)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("stack produced nan from a non-finite input", 1, true))
  end)

  it("records nothing in no-grad, for n-ary and array ops alike", function()
    local a, b = E(1), E(2)
    local s = t.no_grad(function() return t.loss.mse({a, b}, {0, 0}) end)
    local r = t.no_grad(function() return E({{1, 2}}):transpose():sum() end)
    assert.are.equal("", s.op)
    assert.are.equal("", r.op)
    assert.are.equal(0, #s:children())
    assert.are.equal(2.5, s.data)
    assert.are.equal(3, r.data)
  end)
end)
