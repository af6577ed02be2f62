-- spec/compile_spec.lua -- torchlet.compile (lua/torchlet/compile.lua,
-- bindings/compile.c, core/compile.c): a step recorded once and replayed
-- gives the eager step's values and gradients bit for bit, for every op of
-- torchlet.ops() (scalar and array forms) and for moons training; replays
-- allocate nothing; every bad input is an error that names it.
local t = require "torchlet"
local helpers = require "spec.helpers"
local unpack = helpers.unpack

local E, nn, loss, optim = t.Element, t.nn, t.loss, t.optim
local flat = helpers.flat

-- Equal bit for bit: the same number, the same sign of zero, or both nan.
local function same(a, b)
  if a ~= a then return b ~= b end
  return a == b and (a ~= 0 or 1 / a == 1 / b)
end

local function assert_same(want, got, what)
  assert.are.equal(#want, #got, what .. ": lengths")
  for i = 1, #want do
    if not same(want[i], got[i]) then
      error(("%s [%d]: eager %.17g, compiled %.17g"):format(what, i, want[i], got[i]), 2)
    end
  end
end

-- Each position weighted by 1, 2, 3 ... and summed: a scalar whose
-- gradient differs per position.
local function weigh(x)
  if #x.shape == 0 then return x end
  local n, w = 1, {}
  for _, d in ipairs(x.shape) do n = n * d end
  for i = 1, n do w[i] = i end
  return (x * E(w):reshape(x.shape)):sum()
end

-- Data set k (1: recorded, 2 and 3: replayed) of a given shape, values in
-- (0.2, 1.8) so that log, sqrt and pow are defined; data, no gradient.
local function data(k, shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local v = {}
  for i = 1, n do v[i] = 1 + 0.8 * math.sin(7 * i + 3 * k) end
  if #shape == 0 then return E(v[1], {requires_grad = false}) end
  return E(v, {requires_grad = false}):reshape(shape):detach()
end

local function param(shape, seed)
  local p = data(10 + seed, shape):detach()
  p.requires_grad = true
  return p
end

-- Recipes by op id: shapes of the inputs, and f(params)(inputs...) -> a
-- scalar root; each recipe's params are made once per test.
local recipes = {}
local function both(id, f)       -- an elementwise op: scalar and array forms
  recipes[id] = {shapes = {{}}, params = function() return {param({}, 1)} end, f = f}
  recipes[id .. " (array)"] = {op = id, shapes = {{2, 3}},
    params = function() return {param({3}, 2)} end,
    f = function(p, x) return weigh(f(p, x)) end}
end
both("add", function(p, x) return x + p[1] end)
both("sub", function(p, x) return x - p[1] end)
both("mul", function(p, x) return x * p[1] end)
both("div", function(p, x) return x / p[1] end)
both("pow", function(p, x) return x ^ p[1] end)
both("add_k", function(p, x) return (x * p[1]) + 2 end)
both("sub_k", function(p, x) return (x * p[1]) - 2 end)
both("mul_k", function(p, x) return (x * p[1]) * 3 end)
both("div_k", function(p, x) return (x * p[1]) / 4 end)
both("rsub_k", function(p, x) return 2 - x * p[1] end)
both("rdiv_k", function(p, x) return 2 / (x * p[1]) end)
both("pow_k", function(p, x) return (x * p[1]) ^ 3 end)
both("rpow_k", function(p, x) return 2 ^ (x * p[1]) end)
both("leaky_relu_k", function(p, x) return (x - p[1]):leaky_relu(0.2) end)
for _, m in ipairs{"neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs",
                   "sin", "cos", "softplus", "gelu"} do
  both(m, function(p, x) local y = x * p[1] return y[m](y) end)
end
recipes.stack = {shapes = {{}, {}}, params = function() return {param({}, 1)} end,
  f = function(p, a, b) return loss.mse({a * p[1], b + p[1]}, {1, 2}) end}
local function neuron()
  t.manual_seed(3)
  return nn.Neuron(2, {activation = "linear"})
end
recipes.neuron_row = {shapes = {{}, {}}, params = function() return {neuron()} end,
  f = function(p, a, b) return p[1]({a, b}) end}
recipes.linear = {shapes = {{3, 2}}, params = function() return {neuron()} end,
  f = function(p, X) return weigh(p[1](X)) end}
recipes.cross_entropy = {shapes = {{2, 3}}, params = function() return {param({3}, 3)} end,
  f = function(p, X) return loss.cross_entropy(X * p[1], {2, 3}) end}
local function matrix_recipe(id, g)
  recipes[id] = {shapes = {{2, 3}}, params = function() return {param({3}, 4)} end,
    f = function(p, X) return weigh(g(X * p[1], p)) end}
end
matrix_recipe("reduce_sum", function(y) return y:sum(1) end)
matrix_recipe("reduce_mean", function(y) return y:mean(2) end)
matrix_recipe("reduce_max", function(y) return y:max() + y:max(1):sum() end)
matrix_recipe("matmul", function(y, p) return y:matmul(p[1]) end)
matrix_recipe("transpose", function(y) return y:transpose() end)
matrix_recipe("reshape", function(y) return y:reshape(3, 2) end)
matrix_recipe("index", function(y) return y[2] end)
matrix_recipe("to_dtype", function(y) return y:float():double() end)
recipes["matmul (float32 dot)"] = {op = "matmul", shapes = {{3}},
  params = function() return {param({3}, 5):float()} end,
  f = function(p, x) return x:float():matmul(p[1]) * 1 end}
-- the ops of core/ops_extra.c
matrix_recipe("reduce_min", function(y) return y:min() + y:min(2):sum() end)
matrix_recipe("logsumexp", function(y) return y:logsumexp(1) end)
matrix_recipe("softmax", function(y) return y:softmax(2) end)
matrix_recipe("log_softmax", function(y) return y:log_softmax(1) end)
both("clamp_min_k", function(p, x) return (x * p[1]):clamp(1, nil) end)
both("clamp_max_k", function(p, x) return (x * p[1]):clamp(nil, 1) end)
matrix_recipe("cat", function(y, p) return t.cat({y, y * 2, p[1]:reshape(1, 3)}, 1) end)
matrix_recipe("narrow", function(y) return y:narrow(2, 2, 2) end)
local custom = t.Function{name = "custom",
  forward = function(ctx, a, b) ctx:save(a, b) return a * a * b end,
  backward = function(ctx, g)
    local a, b = ctx.saved[1], ctx.saved[2]
    return g * 2 * a * b, g * a * a
  end}
recipes.custom = {shapes = {{}}, params = function() return {param({}, 6)} end,
  f = function(p, x) return custom(x, p[1]) end}

-- The parameters' leaves: Elements, and a module's parameters.
local function leaves(params)
  local out = {}
  for _, p in ipairs(params) do
    if t.is_element(p) then out[#out + 1] = p
    else for _, q in ipairs(p:parameters()) do out[#out + 1] = q end end
  end
  return out
end

local function grads(params)
  local g = {}
  for _, p in ipairs(leaves(params)) do flat(p.grad, g) end
  return g
end

local function zero(params)
  for _, p in ipairs(leaves(params)) do p:zero_grad() end
end

local function inputs(r, k)
  local xs = {}
  for i, s in ipairs(r.shapes) do xs[i] = data(k + i, s) end
  return xs
end

-- Records on data set 1, then per data set k = 2, 3: the eager step and
-- the replay, each from cleared gradients, then twice without clearing
-- (leaves accumulate alike).
local function compare(r)
  local params = r.params()
  local function f(...) return r.f(params, ...) end
  local step = t.compile(f)
  local first = step(unpack(inputs(r, 1)))
  for k = 2, 3 do
    zero(params)
    local xs = inputs(r, k)
    local le = f(unpack(xs))
    le:backward()
    le:backward()
    local want_v, want_g = flat(le.data), grads(params)
    zero(params)
    local lc = step(unpack(xs))
    assert.are.equal(first, lc)            -- the same Element every call
    lc:backward()
    lc:backward()
    assert_same(want_v, flat(lc.data), "value")
    assert_same(want_g, grads(params), "gradients")
  end
end

describe("torchlet.compile: replays equal eager steps bit for bit", function()
  it("has a recipe here for every op", function()
    local covered = {}
    for id, r in pairs(recipes) do covered[r.op or id] = true end
    local ops = t.ops()
    for i = 2, #ops do
      assert(covered[ops[i].id], "op '" .. ops[i].id .. "' has no recipe in spec/compile_spec.lua")
    end
  end)

  local ids = {}
  for id in pairs(recipes) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    it(id, function() compare(recipes[id]) end)
  end

  it("folds nothing into constants: a subexpression of data alone is recomputed", function()
    local w = param({}, 1)
    local step = t.compile(function(x) return (x * 2 + 1):exp() * w end)
    step(E(1, {requires_grad = false}))
    local l = step(E(0.5, {requires_grad = false}))
    assert.are.equal(math.exp(2) * w.data, l.data)
  end)
end)

-- {==================================================================
-- Moons, trained compiled and eagerly from the same start
-- ===================================================================

local function moons_setup()
  local X, y = t.data.make_moons(100, {noise = 0.1, seed = 1})
  t.manual_seed(1)
  local model = nn.MLP(2, {16, 16, 1})
  local opt = optim.SGD(model:parameters(), {lr = 0.05, momentum = 0.9})
  return X, y, model, opt
end

local function params_of(model)
  local v = {}
  for _, p in ipairs(model:parameters()) do flat(p.data, v) end
  return v
end

describe("torchlet.compile: moons training", function()
  local function train(batched, compiled, steps)
    local X, y, model, opt = moons_setup()
    local Xa = E(X, {requires_grad = false})
    local yt = {}
    for i = 1, #y do yt[i] = y[i] end
    local f
    if batched then
      f = function(Xb) return loss.hinge(model(Xb):reshape(100), yt) end
    else                                   -- per sample, the scalar path
      f = function(Xb)
        local scores = {}
        for i = 1, 100 do
          local row = Xb[i]
          scores[i] = model({row[1], row[2]})
        end
        return loss.hinge(scores, yt)
      end
    end
    local step = compiled and t.compile(f) or f
    local losses = {}
    for s = 1, steps do
      local l = step(Xa)
      opt:zero_grad()
      l:backward()
      opt:step()
      losses[s] = l.data
    end
    return params_of(model), losses
  end

  for _, batched in ipairs{false, true} do
    local path = batched and "batched" or "scalar"
    it("the " .. path .. " path: identical parameters and losses after 20 steps", function()
      local pe, le = train(batched, false, 20)
      local pc, lc = train(batched, true, 20)
      assert_same(le, lc, "losses")
      assert_same(pe, pc, "parameters")
      assert.is_true(lc[20] < lc[1])
    end)
  end
end)

-- }==================================================================

-- {==================================================================
-- The scalar path's neuron layers, which a replay computes fused
-- (core/nn_ops.c's layer kernels): every value and gradient as eager
-- ===================================================================

describe("torchlet.compile: fused neuron layers equal eager bit for bit", function()
  -- f(x1, x2, x3) -> loss through model(h), h the layer's inputs made from
  -- the data by ops over parameters q (so that they need gradients); each
  -- call leaves h and the scores in 'seen'.  Per data set: the eager step,
  -- then the replay; compared: the loss, the scores' and h's values and
  -- gradients, and the gradients of q and of the model's parameters.
  local function compare_layers(model, make_h)
    local q = {param({}, 1), param({}, 2), param({}, 3)}
    local seen
    local function f(x1, x2, x3)
      local h = make_h({x1, x2, x3}, q)
      local scores = model(h)
      if t.is_element(scores) then scores = {scores} end   -- one output
      seen = {h = h, scores = scores}
      local l = scores[1] * 1
      for i = 2, #scores do l = l + scores[i] * (i + 0.5) end
      return l
    end
    local step = t.compile(f)
    step(data(1, {}), data(2, {}), data(3, {}))
    local recorded = seen
    local params = {q[1], q[2], q[3], model}
    local function observe(l, s)
      local v, g = {l.data}, {}
      for _, list in ipairs{s.h, s.scores} do
        for _, e in ipairs(list) do v[#v + 1] = e.data; g[#g + 1] = e.grad end
      end
      for _, x in ipairs(grads(params)) do g[#g + 1] = x end
      return v, g
    end
    for k = 2, 3 do
      local xs = {data(3 * k, {}), data(3 * k + 1, {}), data(3 * k + 2, {})}
      zero(params)
      local le = f(unpack(xs))
      le:backward()
      local want_v, want_g = observe(le, seen)
      zero(params)
      local lc = step(unpack(xs))
      lc:backward()
      local got_v, got_g = observe(lc, recorded)
      assert_same(want_v, got_v, "values")
      assert_same(want_g, got_g, "gradients")
    end
    return recorded
  end

  local function plain(xs, q) return {xs[1] * q[1], xs[2] + q[2], xs[3] - q[3]} end

  for _, acts in ipairs{{"relu", "relu", "linear"}, {"tanh", "sigmoid", "tanh"},
                        {"linear", "linear", "relu"}} do
    it("with activations " .. table.concat(acts, ", "), function()
      t.manual_seed(3)
      compare_layers(nn.MLP(3, {5, 4, 2}, {activations = acts}), plain)
    end)
  end

  it("when one input is given twice (such a layer is swept node by node)", function()
    t.manual_seed(4)
    compare_layers(nn.MLP(3, {4, 1}), function(xs, q)
      local a = xs[1] * q[1]
      return {a, xs[2] + q[2], a}
    end)
  end)

  it("keeps the sign of a zero gradient", function()
    -- W1 = 0 and every path back negative: each h gets -0 * ... terms, a
    -- -0 gradient eagerly (the first term is stored, not added to +0)
    local W1 = E({{0, 0, 0}, {0, 0, 0}})
    local b1 = E({0.5, -0.25})
    local W2, b2 = E({{-1, -2}}), E({0.125})
    local model = nn.MLP(3, {2, 1}, {activations = {"tanh", "linear"},
                                     weights = {W1, b1, W2, b2}})
    local seen = compare_layers(model, plain)
    for i = 1, 3 do
      assert.are.equal(-math.huge, 1 / seen.h[i].grad, "h" .. i .. ".grad is -0")
    end
  end)
end)

-- }==================================================================

describe("torchlet.compile: no allocation per replay", function()
  local function flat_over(step, args, n)
    -- LuaJIT's compiler allocates GC objects for a trace whenever it
    -- decides to compile one, which can fall in the measured window: the
    -- interpreter alone runs the step there (it allocates whatever a
    -- trace would, and no less: traces can sink allocations)
    if jit then
      jit.off()
      finally(function() jit.on() end)
    end
    local l = step(unpack(args))
    local function run(times)
      for _ = 1, times do
        step(unpack(args))
        l:backward()
      end
    end
    -- warm, through the same loop: whatever a first run makes once
    -- (caches, buffers) is made before the window
    run(n)
    collectgarbage("collect")
    collectgarbage("stop")
    local core0 = t.memory().allocated_bytes     -- the table it makes: before
    local lua0 = collectgarbage("count")
    run(n)
    local lua1 = collectgarbage("count")
    local core1 = t.memory().allocated_bytes
    collectgarbage("restart")
    return core1 - core0, (lua1 - lua0) * 1024
  end

  it("keeps torchlet.memory() and Lua's heap flat over 1,000 replays (batched moons)", function()
    local X, y, model = moons_setup()
    local Xa = E(X, {requires_grad = false})
    local step = t.compile(function(Xb) return loss.hinge(model(Xb):reshape(100), y) end)
    local core, lua = flat_over(step, {Xa}, 1000)
    assert.are.equal(0, core)
    assert.is_true(lua <= 0, lua .. " bytes")  -- < 0: gc_stress.lua collected
  end)

  it("and for the scalar path", function()
    local X, y, model = moons_setup()
    local Xa = E(X, {requires_grad = false})
    local step = t.compile(function(Xb)
      local scores = {}
      for i = 1, 100 do local r = Xb[i]; scores[i] = model({r[1], r[2]}) end
      return loss.hinge(scores, y)
    end)
    local core, lua = flat_over(step, {Xa}, 1000)
    assert.are.equal(0, core)
    assert.is_true(lua <= 0, lua .. " bytes")  -- < 0: gc_stress.lua collected
  end)

  it("while the eager step allocates (the counter counts)", function()
    local X, y, model = moons_setup()
    local Xa = E(X, {requires_grad = false})
    local before = t.memory().allocated_bytes
    local l = loss.hinge(model(Xa):reshape(100), y)
    l:backward()
    assert.is_true(t.memory().allocated_bytes > before)
  end)
end)

describe("torchlet.compile: forward only", function()
  it("with {grad = false}: no backward, values still replayed", function()
    local w = param({3}, 1)
    local step = t.compile(function(x) return (x * w):sum() end, {grad = false})
    step(data(1, {3}))
    local x2 = data(2, {3})
    local l = step(x2)
    assert.are.equal((x2 * w):sum().data, l.data)
    assert.is_false(l.requires_grad)
    helpers.fails("needs no gradient", function() l:backward() end)
    assert.are.equal(0, flat(w.grad)[1])
  end)

  it("when first called under no_grad", function()
    local w = param({3}, 1)
    local step = t.compile(function(x) return (x * w):sum() end)
    local l = t.no_grad(step, data(1, {3}))
    helpers.fails("needs no gradient", function() l:backward() end)
    local l2 = step(data(2, {3}))              -- later calls need no no_grad
    assert.are.equal(l, l2)
    assert.are.equal((data(2, {3}) * w):sum().data, l2.data)
  end)
end)

describe("torchlet.compile: the graph", function()
  it("draws in both views, and backward reuses the stored order", function()
    local w = param({}, 1)
    local step = t.compile(function(x) return (x * w):tanh() end)
    local l = step(E(0.5, {requires_grad = false}))
    l = step(E(0.25, {requires_grad = false}))
    local dot = l:to_dot()                       -- the graphviz view
    assert.truthy(dot:find("tanh", 1, true))
    assert.truthy(dot:find("0.25", 1, true))     -- the replayed input
    local tmp = os.tmpname()                     -- the cairo view
    local p = tmp .. ".png"
    l:visualize("cairo", {file = p})
    assert.are.equal("\137PNG", helpers.read_file(p):sub(1, 4))
    os.remove(p)
    os.remove(tmp)
    l:backward()
    assert.are.equal((1 - l.data ^ 2) * 0.25, w.grad)
  end)

  it("explains backward with no step for the ops over data alone", function()
    local w = E({1, 2}, {label = "w"})
    local step = t.compile(function(x) return ((x * 2 + 1):exp() * w):sum() end)
    step(E({0.5, 0.25}, {requires_grad = false}))
    local l = step(E({0.1, 0.2}, {requires_grad = false}))
    local text = l:explain()
    local lines = 0
    for line in text:gmatch("[^\n]*") do
      if line ~= "" then lines = lines + 1 end
    end
    assert.are.equal(3, lines)                 -- seed, sum, mul: no empty steps
    assert.is_nil(text:find("\n\n", 1, true), text)
    assert.truthy(text:find("w.grad += ", 1, true), text)
  end)

  it("resets interior gradients when another backward ran between replay and backward", function()
    local w = param({}, 1)
    local f = function(x) return (x * w):tanh() * w end
    local step = t.compile(f)
    step(E(0.5, {requires_grad = false}))
    local x = E(0.25, {requires_grad = false})
    local le = f(x)
    le:backward()
    local want = w.grad
    w:zero_grad()
    local l = step(x)
    local other = l * 3                  -- an eager pass through the replayed nodes
    other:backward()
    w:zero_grad()
    l:backward()                         -- starts from unset interior gradients
    assert.is_true(same(want, w.grad))
    w:zero_grad()
    l:backward()                         -- and again, with no replay between
    assert.is_true(same(want, w.grad))
  end)

  it("takes per-call targets as an input that enters through ops", function()
    t.manual_seed(1)
    local model = nn.MLP(2, {4, 1})
    local f = function(X, Y) return ((model(X) - Y) ^ 2):mean() end
    local step = t.compile(f)
    step(data(1, {5, 2}), data(2, {5, 1}))
    local X, Y = data(3, {5, 2}), data(4, {5, 1})
    assert.is_true(same(f(X, Y).data, step(X, Y).data))
  end)

  it("sees optimizer updates of the parameters (captured by reference)", function()
    local w = param({}, 1)
    local step = t.compile(function(x) return x * w end)
    step(E(2, {requires_grad = false}))
    w.data = 5
    assert.are.equal(10, step(E(2, {requires_grad = false})).data)
  end)
end)

-- A graph of scalar elementwise ops only is replayed over a dense tape
-- (core/tape.c), which writes into nodes only the output and the nodes
-- held outside the graph; the rest are brought up to date when reached.
describe("torchlet.compile: scalar graphs (the dense tape)", function()
  -- every scalar elementwise op once, the intermediates kept in 'held'
  local function chain(w, v, x, held)
    local y = x * w
    local steps = {
      function(a) return a + v end, function(a) return a - w end,
      function(a) return a / v end, function(a) return a * 0.75 end,
      function(a) return a + 0.5 end, function(a) return 2 - a end,
      function(a) return a:tanh() end, function(a) return a:sigmoid() end,
      function(a) return a:exp() end, function(a) return a:log() end,
      function(a) return a ^ 2 end, function(a) return a:sqrt() end,
      function(a) return a:relu() + a:abs() end, function(a) return a * a end,
      function(a) return (a - 1):leaky_relu(0.2) end, function(a) return a:gelu() end,
      function(a) return a:softplus() * w end, function(a) return a:sin() + a:cos() end,
      function(a) return a ^ v end, function(a) return 2 ^ a end,
      function(a) return 3 / a end, function(a) return (-a):clamp(-2, nil) end,
    }
    for i, f in ipairs(steps) do
      y = f(y)
      if held then held[i] = y end
    end
    return y
  end

  -- values and gradients of 'e' and of every node below it, depth first
  -- through children(), the leaves' gradients left out (read apart)
  local function below(e, out)
    out = out or {}
    out[#out + 1] = e.data
    local kids = e:children()
    if #kids > 0 then out[#out + 1] = e.grad end
    for _, c in ipairs(kids) do below(c, out) end
    return out
  end

  -- the node 'n' steps below 'e', through each first child
  local function down(e, n)
    for _ = 1, n do e = e:children()[1] end
    return e
  end

  local function setup()
    local w, v = param({}, 1), param({}, 2)
    return w, v, data(1, {}), data(2, {})
  end

  -- backward from 'root': the gradients of w and v, which are zeroed after
  local function grads(root, w, v)
    root:backward()
    local g = {w.grad, v.grad}
    w:zero_grad(); v:zero_grad()
    return g
  end

  it("keeps held intermediates current, values and gradients", function()
    local w, v, x1, x2 = setup()
    local he = {}
    local le = chain(w, v, x2, he)
    local want_g = grads(le, w, v)
    local hc = {}
    local step = t.compile(function(x) return chain(w, v, x, hc) end)
    step(x1)
    local l = step(x2)
    l:backward()
    assert_same({le.data, le.grad}, {l.data, l.grad}, "output")
    assert_same(want_g, {w.grad, v.grad}, "parameters")
    for i = 1, #he do
      assert_same({he[i].data, he[i].grad}, {hc[i].data, hc[i].grad}, "held " .. i)
    end
  end)

  it("brings nodes reached through children() up to date", function()
    local w, v, x1, x2 = setup()
    local le = chain(w, v, x2)
    le:backward()
    w:zero_grad(); v:zero_grad()
    local step = t.compile(function(x) return chain(w, v, x) end)
    step(x1)
    collectgarbage("collect")          -- the recording's intermediates go
    local l = step(x2)
    l:backward()
    assert_same(below(le), below(l), "below the output after backward")
    local l3 = step(x1)                -- forward alone: values new, gradients unset
    local e3 = chain(w, v, x1)
    assert_same(below(e3), below(l3), "below the output after forward")
    local kid = down(l3, 3)            -- held from now on: kept current
    step(x2)
    local got = kid.data               -- before down() brings all up to date
    assert_same({down(le, 3).data}, {got}, "a node held since")
  end)

  it("reads a node reached after forward and set before backward", function()
    local w, v, x1, x2 = setup()
    -- y's own rule reads no value, y * y's reads y: the set value counts
    local f = function(x) local y = x * w + v return y * y * w end
    local le = f(x2)
    down(le, 2).data = 0.3
    local want_g = grads(le, w, v)
    f(x2):backward()
    assert.are_not.equal(want_g[2], v.grad)   -- it does count
    w:zero_grad(); v:zero_grad()
    local step = t.compile(f)
    step(x1)
    collectgarbage("collect")
    local l = step(x2)
    local function set() down(l, 2).data = 0.3 end
    set()                              -- in a frame of its own, which goes:
    collectgarbage("collect")          -- the node is held by no one again
    l:backward()
    assert_same(want_g, {w.grad, v.grad}, "parameters")
  end)

  it("brings them up to date for a walk from another root", function()
    local w, v, x1, x2 = setup()
    local le = chain(w, v, x2)
    local ze = le * 3
    local want_g = grads(ze, w, v)
    local step = t.compile(function(x) return chain(w, v, x) end)
    step(x1)
    collectgarbage("collect")
    local l = step(x2)
    local z = l * 3                    -- an eager backward through the replay
    z:backward()
    assert_same(want_g, {w.grad, v.grad}, "parameters")
    assert_same(below(le), below(l), "below the output")
    w:zero_grad(); v:zero_grad()
    want_g = grads(le, w, v)
    l:backward()                       -- then the tape's own backward
    assert_same(want_g, {w.grad, v.grad}, "parameters after the walk")
    assert_same(below(le), below(l), "below the output after the walk")
  end)

  it("reads a held intermediate its holder set between forward and backward", function()
    local w, v, x1, x2 = setup()
    local he = {}
    local le = chain(w, v, x2, he)
    he[7].data = 0.25
    local want_g = grads(le, w, v)
    local hc = {}
    local step = t.compile(function(x) return chain(w, v, x, hc) end)
    step(x1)
    collectgarbage("collect")          -- no release between the two passes
    collectgarbage("stop")             -- (one would make the tape reread all)
    finally(function() collectgarbage("restart") end)
    local l = step(x2)
    hc[7].data = 0.25
    l:backward()
    assert_same(want_g, {w.grad, v.grad}, "parameters")
    assert.are.equal(0.25, hc[7].data)
  end)

  it("replays a graph recorded over another compiled step's nodes", function()
    local w, v, x1, x2 = setup()
    local step_a = t.compile(function(x) return chain(w, v, x) end)
    local la = step_a(x1)
    local y1, y2 = data(3, {}), data(4, {})
    local step_b = t.compile(function(y) return la * y end)
    step_b(y1)
    collectgarbage("collect")
    step_a(x2)                         -- a's tape ahead of its nodes
    local lb = step_b(y2)              -- b recomputes a's nodes from them
    local want = chain(w, v, x2) * y2
    assert_same({want.data}, {lb.data}, "value")
    local want_g = grads(lb, w, v)
    want:backward()
    assert_same({w.grad, v.grad}, want_g, "parameters")
    local lae = chain(w, v, x2)        -- a's nodes hold b's gradients now,
    local wante = lae * y2             -- not those of a's own last pass
    wante:backward()
    step_a(x2)
    la:backward()                      -- a's tape ahead again
    w:zero_grad(); v:zero_grad()
    lb = step_b(y2)
    lb:backward()
    assert_same(below(lae), below(la), "below a's output")
    la = step_a(x1)                    -- and a replays on after b
    assert_same({chain(w, v, x1).data}, {la.data}, "a's value")
  end)

  it("brings an output's inputs up to date for local_grads and replay", function()
    local A = t._autograd
    local w, v, x1, x2 = setup()
    local f = function(x) local y = x * w + v return y * y end
    local ye = x2 * w + v
    local step = t.compile(f)
    local l = step(x1)
    collectgarbage("collect")          -- the recording's y goes
    step(x2)                           -- y, held by no one, is behind in its node
    assert_same({2 * ye.data, 2 * ye.data}, A.local_grads(l, 1), "local_grads")
    step(x1)
    assert_same({l.data}, {A.replay(l).data}, "replay")
  end)

  it("gives no gradient to a parameter whose requires_grad went off", function()
    local w, v, x1, x2 = setup()
    local step = t.compile(function(x) return chain(w, v, x) end)
    step(x1)
    v.requires_grad = false
    w:zero_grad()
    local l = step(x2)
    l:backward()
    assert.are.equal(0, v.grad)
    local gw = w.grad
    w:zero_grad()
    chain(w, v, x2):backward()
    assert_same({w.grad}, {gw}, "the other parameter")
  end)

  it("allocates nothing per replay", function()
    local w, v, x1 = setup()
    local step = t.compile(function(x) return chain(w, v, x) end)
    local l = step(x1)
    l:backward()
    collectgarbage("collect")
    local before = t.memory().allocated_bytes
    for _ = 1, 1000 do step(x1); l:backward() end
    assert.are.equal(before, t.memory().allocated_bytes)
  end)
end)

describe("torchlet.compile: bad input", function()
  local function simple()
    local w = param({2}, 1)
    return t.compile(function(x, y) return (x * w):sum() + y end)
  end
  local x2, s = data(1, {2}), data(1, {})

  it("checks its own arguments", function()
    helpers.fails("bad argument #1 to 'compile' (function expected, got number)", t.compile, 1)
    helpers.fails("unknown option 'chek'", t.compile, print, {chek = 1})
    helpers.fails("option 'check': a whole number", t.compile, print, {check = 1.5})
    helpers.fails("option 'grad': boolean expected", t.compile, print, {grad = 1})
  end)

  it("names the argument that is not an Element, when recording and replaying", function()
    helpers.fails("bad argument #2 to 'compiled step' (Element expected, got number)",
                  simple(), x2, 3)
    local step = simple()
    step(x2, s)
    helpers.fails("bad argument #1 to 'compiled step' (Element expected, got table)",
                  step, {1, 2}, s)
  end)

  it("refuses another count of arguments, other shapes and dtypes", function()
    local step = simple()
    step(x2, s)
    helpers.fails("compiled step: 1 arguments given, 2 recorded", step, x2)
    helpers.fails("compiled step: 3 arguments given, 2 recorded", step, x2, s, s)
    helpers.fails("bad argument #1 to 'compiled step' (shape (3) given, (2) recorded)",
                  step, data(1, {3}), s)
    helpers.fails("bad argument #2 to 'compiled step' (shape (1) given, scalar recorded)",
                  step, x2, data(1, {1}))
    helpers.fails("bad argument #1 to 'compiled step' (dtype float32 given, float64 recorded)",
                  step, x2:float(), s)
    assert.are.equal((x2 * 1):sum().data * 0 + step(x2, s).data, step(x2, s).data)
  end)

  it("refuses a loss's targets that a replay would change, instead of freezing them", function()
    t.manual_seed(1)
    local model = nn.MLP(2, {4, 1})
    local X, Y = data(1, {5, 2}), data(2, {5})
    for _, name in ipairs({"mse", "l1", "huber", "hinge", "bce"}) do
      -- an argument of the step
      helpers.fails("bad argument #2 to '" .. name .. "' (targets that change per call of a compiled step",
                    t.compile(function(x, y) return loss[name](model(x):reshape(5), y) end), X, Y)
      -- computed in it
      helpers.fails("bad argument #2 to '" .. name .. "' (targets that change per call of a compiled step",
                    t.compile(function(x, y) return loss[name](model(x):reshape(5), y * 2) end), X, Y)
    end
    -- nothing stays recorded: the next step records and runs
    local step = t.compile(function(x) return loss.mse(model(x):reshape(5), Y) end)
    assert.are.equal(loss.mse(model(X):reshape(5), Y).data, step(X).data)   -- a constant Element
    -- eagerly an Element target is fine, as before
    assert.is_number(loss.mse(model(X):reshape(5), Y * 2).data)
  end)

  it("raises when the recorded ops change, in check mode", function()
    local w = param({}, 1)
    local step = t.compile(function(x)
      if x.data > 1 then return x * w end
      return x + w
    end, {check = 2})
    step(E(2, {requires_grad = false}))
    step(E(3, {requires_grad = false}))          -- the same branch: fine
    helpers.fails("recorded other ops than at its first call", step,
                  E(0.5, {requires_grad = false}))
    -- past the checked calls, the first recording replays as taken
    local unchecked = t.compile(function(x)
      if x.data > 1 then return x * w end
      return x + w
    end)
    unchecked(E(2, {requires_grad = false}))
    assert.are.equal(0.5 * w.data, unchecked(E(0.5, {requires_grad = false})).data)
  end)

  it("leaves nothing recorded when the function raises while recording", function()
    local calls = 0
    local w = param({}, 1)
    local step = t.compile(function(x)
      calls = calls + 1
      if calls == 1 then error("boom") end
      return x * w
    end)
    helpers.fails("boom", step, s)
    -- recording is over: ops made now are ordinary eager ones
    local e = E(1, {requires_grad = false}) * 2
    assert.are.equal(0, #e:children())
    local l = step(s)                              -- records afresh
    assert.are.equal(s.data * w.data, l.data)
    helpers.fails("the function to return an Element",
                  t.compile(function() return 1 end), s)
    assert.are.equal(0, #(E(1, {requires_grad = false}) * 2):children())
  end)

  it("refuses a compiled step inside another's recording", function()
    local w = param({}, 1)
    local inner = t.compile(function(x) return x * w end)
    local outer = t.compile(function(x) return inner(x) + 1 end)
    helpers.fails("called while another compiled step is being recorded", outer, s)
    inner(s)                                       -- recorded now
    helpers.fails("called while another compiled step is being recorded", outer, s)
    assert.are.equal(s.data * w.data, inner(s).data)   -- and nothing stuck
  end)

  it("raises when a parameter was let go (a model converted to float32)", function()
    t.manual_seed(1)
    local model = nn.MLP(2, {3, 1})
    local step = t.compile(function(x) return model(x):sum() end)
    local X = data(1, {4, 2})
    step(X)
    model:float()
    collectgarbage("collect")
    collectgarbage("collect")
    helpers.fails("was let go by its owner since recording", step, X)
  end)
end)
