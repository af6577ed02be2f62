-- spec/function_spec.lua -- custom ops from Lua (torchlet.Function, on the
-- core's callback op core/tl_custom.h): values and gradients against
-- central differences on scalars and arrays, one node in the graph named
-- by the op in both drawings and in explain(), every error naming the op,
-- and nothing kept after the nodes go (memory and registry records).
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local E = torchlet.Element
local near, fails = helpers.near, helpers.fails

local tmppath, cleanup = helpers.temp_paths()
-- A custom node's ctx goes with a second collection (the first drops its
-- record): leave no such garbage for later spec files that collect once.
teardown(function()
  cleanup()
  for _ = 1, 4 do collectgarbage("collect") end
end)

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end

-- swish(x) = x * sigmoid(x), saved for backward as PyTorch's examples do
local swish = torchlet.Function{
  name = "swish",
  forward = function(ctx, x)
    local s = x:sigmoid()
    ctx:save(x, s)
    return x * s
  end,
  backward = function(ctx, g)
    local x, s = ctx.saved[1], ctx.saved[2]
    return g * (s + x * s * (1 - s))
  end,
}

local flat = helpers.flat

-- Records of live custom nodes in the registry (bindings/function.c).
local function records()
  local t, n = debug.getregistry()["torchlet.functions"], 0
  for k in pairs(t) do if type(k) == "userdata" then n = n + 1 end end
  return n
end

local function settle()
  for _ = 1, 4 do collectgarbage("collect") end
end

describe("torchlet.Function", function()
  it("computes a scalar op and its gradient (central differences)", function()
    for _, v in ipairs({0.7, -1.3, 0, 4}) do
      local x = E(v, "x")
      local y = swish(x)
      near(v * sigmoid(v), y.data, 1e-14, "value")
      local z = y * y + y        -- the op's result used twice downstream
      z:backward()
      local num = helpers.numeric_grad(function(xs)
        local s = xs[1] * sigmoid(xs[1])
        return s * s + s
      end, {v})
      near(num[1], x.grad, 1e-7, "gradient at " .. v)
    end
  end)

  it("computes an array op and its gradient, element by element", function()
    local v = {{1, -2, 0.5}, {3, -0.25, 0}}
    local x = E(v)
    local y = swish(x)
    assert.are.same({2, 3}, y.shape)
    local got = flat(y.data)
    for i, a in ipairs(flat(v)) do near(a * sigmoid(a), got[i], 1e-14) end
    local w = E({{1, 2, 3}, {4, 5, 6}})
    local loss = (y * w):sum()
    loss:backward()
    local xs = flat(v)
    local num = helpers.numeric_grad(function(p)
      local s = 0
      for i = 1, #p do s = s + i * p[i] * sigmoid(p[i]) end
      return s
    end, xs)
    for i, g in ipairs(flat(x.grad)) do near(num[i], g, 1e-7, "grad " .. i) end
  end)

  it("takes several inputs, scalars and arrays mixed, and non-Element arguments", function()
    -- f(a, k, B) = k * a * sum(B^2): a scalar, k a number, B an array
    local f = torchlet.Function{name = "scaled_sq",
      forward = function(ctx, a, k, B)
        ctx:save(a, B)
        ctx.k = k
        return (B * B):sum() * a * k
      end,
      backward = function(ctx, g)
        local a, B = ctx.saved[1], ctx.saved[2]
        return g * ctx.k * (B * B):sum(), nil, B * (2 * ctx.k * g) * a
      end}
    local a, B = E(1.5), E({0.5, -1, 2})
    local y = f(a, 3, B)
    near(3 * 1.5 * (0.25 + 1 + 4), y.data, 1e-13)
    assert.are.equal(2, #y:children())      -- the Elements only
    y:backward()
    near(3 * 5.25, a.grad, 1e-13)
    local gB = flat(B.grad)
    for i, b in ipairs({0.5, -1, 2}) do near(2 * 3 * 1.5 * b, gB[i], 1e-13) end
  end)

  it("records one node named by the op, its inputs as children", function()
    local x = E(0.5, "x")
    local y = swish(x)
    assert.are.equal("swish", y.op)
    local ch = y:children()
    assert.are.equal(1, #ch)
    assert.are.equal(0.5, ch[1].data)
    assert.are.equal("x", ch[1].label)
    -- the forward's own ops (sigmoid, mul) are not in the graph
    assert.are.equal(0, #ch[1]:children())
    -- the op is in torchlet.ops() (not necessarily last: rows are appended)
    local ids = {}
    for _, o in ipairs(torchlet.ops()) do ids[o.id] = o end
    assert.are.equal("custom", ids.custom.name)
  end)

  it("gives ctx.needs_input_grad and a ctx per call", function()
    local seen = {}
    local f = torchlet.Function{name = "id2",
      forward = function(ctx, a, b)
        seen[#seen + 1] = ctx
        ctx.needs = {ctx.needs_input_grad[1], ctx.needs_input_grad[2]}
        return a + b
      end,
      backward = function(ctx, g) return g, g end}
    local a = E(1)
    local b = E(2, {requires_grad = false})
    f(a, b)
    f(a, b)
    assert.are_not.equal(seen[1], seen[2])
    assert.are.same({true, false}, seen[1].needs)
  end)

  it("is drawn with its name: graphviz DOT text and the cairo view's captions", function()
    local x = E(0.5, "x")
    local y = swish(x) * 2
    y.label = "y"
    y:backward()
    assert.truthy(y:to_dot():find('label=swish', 1, true) or
                  y:to_dot():find('label="swish"', 1, true), y:to_dot())
    local dir = tmppath("")
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local _, n = y:visualize("cairo", {frames = dir, format = "svg"})
    assert.are.equal(3, n)
    local svg = helpers.read_file(dir .. "/step-003.svg")
    assert.truthy(svg:find("step 3 of 3: swish#2 (swish)", 1, true), svg:sub(-400))
    assert.truthy(svg:find("x.grad += swish.backward(swish#2.grad)[1]", 1, true))
    os.execute("rm -rf '" .. dir .. "'")
    local p = tmppath(".png")
    y:visualize("cairo", {file = p})
    assert.is_true(helpers.exists(p))
  end)

  it("shows in explain(), with the numbers backward uses", function()
    local x = E(0.7, "x")
    local y = swish(x)
    y.label = "y"
    local d = y * 3
    local text = d:explain()
    local s = sigmoid(0.7)
    local want = 3 * (s + 0.7 * s * (1 - s))
    assert.truthy(text:find("x.grad += swish.backward(y.grad)[1] = swish.backward(3)[1] = "
      .. torchlet.format_number(want, 6), 1, true), text)
    assert.are.equal(0, x.grad)                    -- a view
    d:backward()
    near(want, x.grad, 1e-14)
  end)

  it("works in no-grad mode and on inputs that need no gradient (a leaf, no record kept)", function()
    settle()
    local before = records()
    local y = torchlet.no_grad(function() return swish(E(1)) end)
    assert.are.equal("", y.op)
    local z = swish(E(1, {requires_grad = false}))
    assert.are.equal("", z.op)
    settle()
    assert.are.equal(before, records())
  end)

  it("runs backward from a coroutine other than the one that made it", function()
    local x = E(0.3)
    local y = coroutine.wrap(function() return swish(x) end)()
    coroutine.wrap(function() y:backward() end)()
    local s = sigmoid(0.3)
    near(s + 0.3 * s * (1 - s), x.grad, 1e-14)
  end)
end)

describe("torchlet.Function errors", function()
  local function op(backward, forward)
    return torchlet.Function{name = "myop",
      forward = forward or function(ctx, x) return x * 2 end,
      backward = backward}
  end

  it("checks its table", function()
    fails("bad argument #1 to 'Function' (table expected, got nil)", torchlet.Function)
    fails("unknown field 'fwd'", torchlet.Function,
          {name = "a", fwd = print, forward = print, backward = print})
    fails("field 'backward' missing", torchlet.Function, {name = "a", forward = print})
    fails("field 'forward' must be a function, got number", torchlet.Function,
          {name = "a", forward = 1, backward = print})
    fails("field 'name' must have 1 to 63 bytes", torchlet.Function,
          {name = "", forward = print, backward = print})
  end)

  it("needs an Element argument and an Element or number result", function()
    local f = op(function(ctx, g) return g end)
    fails("myop: at least one Element argument expected", f, 1, 2)
    local g = op(function(ctx, gr) return gr end, function() return "x" end)
    fails("myop forward: an Element or a number expected as its result, got string", g, E(1))
  end)

  it("raises an error in forward as a Lua error naming the op", function()
    local f = op(function(ctx, g) return g end, function() error("no luck") end)
    fails("myop forward: ", f, E(1))
    fails("no luck", f, E(1))
    local t = op(function(ctx, g) return g end, function() error({}) end)
    fails("myop forward: (error object is a table value)", t, E(1))
  end)

  it("raises an error in backward naming the op, after a clean stop; the graph stays usable", function()
    local fail = true
    local f = op(function(ctx, g)
      if fail then error("broken rule") end
      return 2 * g
    end)
    local x = E(1)
    local y = f(x) + f(x)
    local ok, err = pcall(y.backward, y)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("myop backward: ", 1, true), err)
    assert.truthy(tostring(err):find("broken rule", 1, true), err)
    fail = false
    x:zero_grad()
    y:backward()
    assert.are.equal(4, x.grad)
    fail = true
    fails("myop backward: ", y.explain, y)
    fails("broken rule", y.visualize, y, "cairo", {steps = true, file = tmppath(".pdf")})
    fail = false
    x:zero_grad()
    y:backward()
    assert.are.equal(4, x.grad)
  end)

  it("keeps a long message whole", function()
    local long = string.rep("x", 400) .. " end"
    local f = op(function() error(long, 0) end)
    local y = f(E(1))
    local ok, err = pcall(y.backward, y)
    assert.is_false(ok)
    assert.are.equal("myop backward: " .. long, err)
  end)

  it("checks the number of gradients", function()
    local y = op(function(ctx, g) return end)(E(1))
    fails("myop backward: 1 gradient expected (one per argument of the call, nil for none), got 0",
          y.backward, y)
    local y2 = op(function(ctx, g) return g, g end)(E(1))
    fails("myop backward: 1 gradient expected", y2.backward, y2)
    local two = torchlet.Function{name = "two", forward = function(ctx, a, b) return a + b end,
      backward = function(ctx, g) return g end}
    local y3 = two(E(1), E(2))
    fails("two backward: 2 gradients expected (one per argument of the call, nil for none), got 1",
          y3.backward, y3)
  end)

  it("checks each gradient's shape and type", function()
    local function run(x, back)
      local y = op(back)(x)
      if #y.shape > 0 then y = y:sum() end
      y:backward()
    end
    fails("myop backward: gradient 1: shape (2) expected (its input's), got a number",
          run, E({1, 2}), function(ctx, g) return 1 end)
    fails("myop backward: gradient 1: shape (2) expected (its input's), got (3)",
          run, E({1, 2}), function(ctx, g) return E({1, 2, 3}) end)
    fails("myop backward: gradient 1: shape scalar expected (its input's), got (2)",
          run, E(1), function(ctx, g) return E({1, 2}) end)
    fails("myop backward: gradient 1: a number, an Element or a table of shape (2) expected (its input's), got string",
          run, E({1, 2}), function(ctx, g) return "1" end)
    fails("myop backward: bad argument #1 to 'backward'",
          run, E({1, 2}), function(ctx, g) return {1, "x"} end)
    fails("myop backward: gradient 1: a number, an Element or a table of shape scalar expected (its input's), got table",
          run, E(1), function(ctx, g) return {1} end)
    -- a table of the input's shape is taken
    local x = E({1, 2})
    run(x, function(ctx, g) return {5, 6} end)
    assert.are.same({5, 6}, x.grad)
  end)

  it("refuses a gradient for an argument that is not an Element", function()
    local f = torchlet.Function{name = "k", forward = function(ctx, x, k) return x * k end,
      backward = function(ctx, g) return g, 1 end}
    local y = f(E(1), 2)
    fails("k backward: gradient 2: nil expected (argument 2 is not an Element), got number",
          y.backward, y)
  end)

  it("refuses a graph walk or a requires_grad change inside its backward", function()
    local other = E(1) * 2
    local leaf = E({1, 2}, {requires_grad = false})
    local y = op(function(ctx, g) other:backward() return g end)(E(1))
    fails("myop backward: ", y.backward, y)
    fails("cannot run inside a custom op's backward", y.backward, y)
    local y2 = op(function(ctx, g) leaf.requires_grad = true return g end)(E(1))
    fails("requires_grad: cannot change inside a custom op's backward", y2.backward, y2)
    other:backward()                 -- fine again afterwards
    assert.is_false(leaf.requires_grad)
  end)

  it("reports a nan it makes under check_numerics", function()
    local old = torchlet.check_numerics(true)
    local f = op(function(ctx, g) return g end, function(ctx, x) return x:log() end)
    local ok, err = pcall(f, E(-1))
    torchlet.check_numerics(old)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("myop produced nan", 1, true), err)
  end)
end)

describe("torchlet.Function memory", function()
  it("keeps the records of live nodes when the module is loaded again", function()
    -- (busted loads it again for each spec file; the records were lost)
    local x = E(0.5)
    local y = swish(x)
    local old = package.loaded["torchlet.core"]
    package.loaded["torchlet.core"] = nil
    local again = require "torchlet.core"
    package.loaded["torchlet.core"] = old
    assert.are_not.equal(old, again)
    settle()
    y:backward()
    local s = sigmoid(0.5)
    near(s + 0.5 * s * (1 - s), x.grad, 1e-14)
    y = nil
    settle()
  end)

  it("frees its nodes and records when they go, errors included", function()
    settle()
    local nodes, recs = torchlet.memory().live_nodes, records()
    do
      local x = E({{1, 2}, {3, 4}})
      for _ = 1, 50 do
        local y = swish(x):sum()
        y:backward()
      end
      local bad = torchlet.Function{name = "bad", forward = function(ctx, a)
        ctx:save(a, a * 2) return a end, backward = function() error("no") end}
      for _ = 1, 10 do pcall(function() bad(x):sum():backward() end) end
      local worse = torchlet.Function{name = "worse", forward = function() error("no") end,
        backward = function() end}
      for _ = 1, 10 do pcall(worse, x) end
      local keep = swish(x)
      assert.is_true(records() >= recs + 1)
      assert.are.equal("swish", keep.op)
    end
    settle()
    assert.are.equal(nodes, torchlet.memory().live_nodes)
    assert.are.equal(recs, records())
  end)
end)
