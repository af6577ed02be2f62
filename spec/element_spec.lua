-- spec/element_spec.lua -- the scalar engine: values, gradients, operators.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local load_string = require("spec.helpers").load
local Element = torchlet.Element
local near, numeric_grad = helpers.near, helpers.numeric_grad

describe("Element", function()
  it("computes the a/b/c/d example of the README", function()
    local a, b = Element(2.0, "a"), Element(3.0, "b")
    local c = a * b
    c.label = "c"
    local d = c + a
    d:backward()
    assert.are.equal(8.0, d.data)
    assert.are.equal(4.0, a.grad)
    assert.are.equal(2.0, b.grad)
    assert.are.equal(1.0, d.grad)
    assert.are.equal(1.0, c.grad)
    assert.are.equal("Element(data=8.0, grad=1.0)", tostring(d))
    assert.are.equal('Element(data=6.0, grad=1.0, label="c")', tostring(c))
  end)

  it("has data, grad, label and op fields", function()
    local a = Element(1.5)
    assert.are.equal(1.5, a.data)
    assert.are.equal(0.0, a.grad)
    assert.is_nil(a.label)
    assert.are.equal("", a.op)
    a.data = -2
    a.grad = 7
    a.label = "x"
    assert.are.equal(-2, a.data)
    assert.are.equal(7, a.grad)
    assert.are.equal("x", a.label)
    a.label = nil
    assert.is_nil(a.label)
    assert.are.equal("mul", (a * a).op)
    assert.are.equal("add", (a + 1).op)
    assert.are.equal("tanh", a:tanh().op)
  end)

  it("keeps labels per node across the pool, and a reused node has none", function()
    -- labels live beside the nodes (4 KiB slabs of 85): set them on nodes
    -- spread over several slabs, relabel some, free them all, then the
    -- nodes that reuse their places must come without a label
    local xs = {}
    for i = 1, 400 do xs[i] = Element(i, "n" .. i) end
    for i = 1, 400, 3 do xs[i].label = "m" .. i end
    for i = 2, 400, 7 do xs[i].label = nil end
    for i = 1, 400 do
      local want = "n" .. i
      if i % 3 == 1 then want = "m" .. i end
      if i % 7 == 2 then want = nil end       -- cleared after the relabelling
      assert.are.equal(want, xs[i].label)
    end
    xs = nil
    collectgarbage()
    collectgarbage()
    local ys = {}
    for i = 1, 400 do ys[i] = Element(i) + 1 end
    for i = 1, 400 do assert.is_nil(ys[i].label) end
  end)

  it("lists the Elements an op used as children, in order", function()
    local a, b = Element(1, "a"), Element(2, "b")
    local kids = (a - b):children()
    assert.are.equal(2, #kids)
    assert.are.equal("a", kids[1].label)
    assert.are.equal("b", kids[2].label)
    assert.are.equal(1, #((a * 3):children()))
    assert.are.equal(0, #a:children())
  end)

  it("recognises Elements", function()
    assert.is_true(torchlet.is_element(Element(1)))
    assert.is_false(torchlet.is_element(1))
    assert.is_false(torchlet.is_element(io.stdout))
  end)
end)

-- Every op, with a function on plain numbers to check values against and
-- an input domain where it is differentiable.
local binary = {
  {"+", function(x, y) return x + y end},
  {"-", function(x, y) return x - y end},
  {"*", function(x, y) return x * y end},
  {"/", function(x, y) return x / y end},
  {"^", function(x, y) return x ^ y end},
}

local unary = {
  {"neg", function(x) return -x end, function(e) return -e end},
  {"exp", math.exp},
  {"log", math.log},
  {"tanh", function(x) return (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end},
  {"sigmoid", function(x) return 1 / (1 + math.exp(-x)) end},
  {"relu", function(x) return math.max(x, 0) end},
  {"sqrt", math.sqrt},
  {"abs", math.abs},
  {"sin", math.sin},
  {"cos", math.cos},
}

local function apply(op, x, y)
  if op == "+" then return x + y elseif op == "-" then return x - y
  elseif op == "*" then return x * y elseif op == "/" then return x / y
  else return x ^ y end
end

describe("ops", function()
  -- positive points keep log, sqrt and pow (of a non-integer exponent)
  -- differentiable; relu and abs are tested away from their kink.
  local points = {{1.3, 0.7}, {0.4, 2.5}, {2.2, -1.1}}

  for _, row in ipairs(binary) do
    local op, f = row[1], row[2]
    it("'" .. op .. "' of two Elements: value and gradient", function()
      for _, p in ipairs(points) do
        local a, b = Element(p[1]), Element(p[2])
        local r = apply(op, a, b)
        near(f(p[1], p[2]), r.data, 1e-12, op .. " value")
        r:backward()
        local g = numeric_grad(function(xs) return f(xs[1], xs[2]) end, {p[1], p[2]})
        near(g[1], a.grad, 1e-6, op .. " d/da")
        near(g[2], b.grad, 1e-6, op .. " d/db")
      end
    end)

    it("'" .. op .. "' with a number on either side", function()
      for _, p in ipairs(points) do
        local a = Element(p[1])
        local r = apply(op, a, p[2])
        near(f(p[1], p[2]), r.data, 1e-12, op .. " e.k value")
        r:backward()
        near(numeric_grad(function(xs) return f(xs[1], p[2]) end, {p[1]})[1],
             a.grad, 1e-6, op .. " e.k grad")
        local b = Element(p[2])
        local s = apply(op, p[1], b)
        near(f(p[1], p[2]), s.data, 1e-12, op .. " k.e value")
        s:backward()
        near(numeric_grad(function(xs) return f(p[1], xs[1]) end, {p[2]})[1],
             b.grad, 1e-6, op .. " k.e grad")
        -- the number is an op constant, not a node of its own
        assert.are.equal(1, #s:children())
      end
    end)
  end

  it("gives exact values for numbers on the right (a/k is not a*(1/k))", function()
    assert.are.equal(3 / 10, (Element(3) / 10).data)
    assert.are.equal(0.1 - 0.3, (Element(0.1) - 0.3).data)
  end)

  for _, row in ipairs(unary) do
    local name, f = row[1], row[2]
    local call = row[3] or function(e) return e[name](e) end
    it(name .. ": value and gradient", function()
      for _, x in ipairs({0.3, 1.7, 2.9}) do
        for _, sign in ipairs({1, -1}) do
          local v = x * sign
          if not ((name == "log" or name == "sqrt") and v <= 0) then
            local a = Element(v)
            local r = call(a)
            near(f(v), r.data, 1e-12, name .. " value")
            r:backward()
            near(numeric_grad(function(xs) return f(xs[1]) end, {v})[1],
                 a.grad, 1e-6, name .. " grad at " .. v)
          end
        end
      end
    end)
  end

  it("hand-derived gradients", function()
    local x = Element(0.5)
    local y = x:tanh()
    y:backward()
    near(1 - math.tanh(0.5) ^ 2, x.grad, 1e-15)
    local s = Element(0)
    local t = s:sigmoid()
    t:backward()
    assert.are.equal(0.5, t.data)
    assert.are.equal(0.25, s.grad)
    local r = Element(-1)
    local q = r:relu()
    q:backward()
    assert.are.equal(0, q.data)
    assert.are.equal(0, r.grad)
    local p = Element(3)
    local u = p ^ 2
    u:backward()
    assert.are.equal(6, p.grad)
  end)

  it("compares by data with numbers on either side", function()
    local a, b = Element(1), Element(2)
    assert.is_true(a < b)
    assert.is_false(b <= a)
    assert.is_true(a.data <= 1 and 0.5 < a.data)     -- works on every VM
    -- Lua 5.1 and LuaJIT raise before any metamethod runs (doc/embedding.md, "Other Lua VMs")
    if _VERSION ~= "Lua 5.1" then
      assert.is_true(a <= 1)
      assert.is_true(0.5 < a)
      assert.is_true(2 >= b)
    else
      helpers.fails("attempt to compare", function() return a <= 1 end)
    end
  end)

  it("follows IEEE 754 at the edges instead of raising", function()
    assert.are.equal(-math.huge, Element(0):log().data)
    assert.is_true(helpers.is_nan((Element(0) / 0).data))
    assert.are.equal(math.huge, (Element(1) / 0).data)
    assert.is_true(helpers.is_nan(Element(-1):sqrt().data))
    -- the derivative of x^2 at 0 is 0, not nan (0 * 0^-1)
    local z = Element(0)
    local w = z ^ 2
    w:backward()
    assert.are.equal(0, z.grad)
  end)
end)

describe("backward", function()
  it("accumulates leaf gradients across calls, like PyTorch", function()
    local a, b = Element(2), Element(3)
    local d = a * b + a
    d:backward()
    d:backward()
    assert.are.equal(8, a.grad)
    assert.are.equal(4, b.grad)
    assert.are.equal(1, d.grad)   -- interior gradients describe one pass
    d:zero_grad()
    assert.are.equal(0, a.grad)
    assert.are.equal(0, b.grad)
  end)

  it("adds the contributions of a node used twice", function()
    local a = Element(3)
    local b = a + a
    b:backward()
    assert.are.equal(2, a.grad)
    local c = Element(-2)
    local e = c * c * c
    e:backward()
    assert.are.equal(12, c.grad)
  end)

  -- micrograd's test/test_engine.py, against the PyTorch values in
  -- shared/reference/README.md.
  it("matches PyTorch on micrograd's test_sanity_check", function()
    local x = Element(-4.0)
    local z = 2 * x + 2 + x
    local q = z:relu() + z * x
    local h = (z * z):relu()
    local y = h + q + q * x
    y:backward()
    near(-20.0, y.data, 1e-6)
    near(46.0, x.grad, 1e-6)
  end)

  it("matches PyTorch on micrograd's test_more_ops", function()
    local a, b = Element(-4.0), Element(2.0)
    local c = a + b
    local d = a * b + b ^ 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a):relu()
    d = d + 3 * d + (b - a):relu()
    local e = c - d
    local f = e ^ 2
    local g = f / 2.0
    g = g + 10.0 / f
    g:backward()
    near(24.70408163265306, g.data, 1e-6)
    near(138.83381924198252, a.grad, 1e-6)
    near(645.5772594752186, b.grad, 1e-6)
  end)

  it("handles a chain of a million Elements without recursion", function()
    local x0 = Element(0.5)
    -- the chain lives in this function's frame: once it returns, no stack
    -- slot holds a node of it (LuaJIT's compiled loop can leave one in a
    -- temporary slot of the running frame, which the collector scans)
    local function chain()
      local x = x0
      for _ = 1, 1000000 do x = x * 1.0 + 0.0 end
      x:backward()
      assert.are.equal(0.5, x.data)
      assert.are.equal(1.0, x0.grad)
    end
    chain()
    collectgarbage()
    collectgarbage()
    -- the whole chain went back to the pool; only x0 is left of it
    assert.is_true(torchlet.memory().live_nodes < 100)
  end)
end)

describe("graph recording", function()
  it("records nothing under no_grad, and restores recording after", function()
    local a = Element(2)
    local r, extra = torchlet.no_grad(function(x, y) return x * 3, y end, a, "y")
    assert.are.equal(6, r.data)
    assert.are.equal("y", extra)
    assert.are.equal("", r.op)
    assert.are.equal(0, #r:children())
    assert.is_true(torchlet.is_grad_enabled())
    assert.has_error(function() torchlet.no_grad(function() error("boom") end) end)
    assert.is_true(torchlet.is_grad_enabled())
    assert.is_true(torchlet.set_grad_enabled(false))
    assert.are.equal("", (a + a).op)
    assert.is_false(torchlet.set_grad_enabled(true))
  end)

  it("detaches a copy that shares no history", function()
    local a = Element(2)
    local b = (a * a):detach()
    assert.are.equal(4, b.data)
    assert.are.equal("", b.op)
    local c = b * a
    c:backward()
    assert.are.equal(4, a.grad)   -- only through c, not through b
  end)

  it("names the op that first produced a nan when asked to check numerics", function()
    local a = Element(-1)
    assert.is_false(torchlet.check_numerics(true))
    local ok, err = pcall(function() return a:log() end)
    torchlet.check_numerics(false)
    assert.is_false(ok)
    assert.matches("log produced nan", err)
    assert.is_true(helpers.is_nan(a:log().data))
  end)
end)

describe("memory under the garbage collector", function()
  it("keeps what is reachable after handles are dropped", function()
    local a, b = Element(2), Element(3)
    local d = a * b + a
    a, b = nil, nil
    collectgarbage()
    collectgarbage()
    d:backward()
    assert.are.equal(8, d.data)
    local kids = d:children()
    assert.are.equal(6, kids[1].data)
    assert.are.equal(1, kids[1].grad)
  end)

  it("lets a child handle outlive its parents, and a root its leaves", function()
    collectgarbage()
    collectgarbage()
    local before = torchlet.memory().live_nodes
    local leaf = Element(5)
    do
      local root = (leaf * 2):exp()
      root = nil
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(before + 1, torchlet.memory().live_nodes)
    leaf.data = 1
    assert.are.equal(1, leaf.data)
    local root
    do
      local x, y = Element(1), Element(2)
      root = x * y
    end
    collectgarbage()
    collectgarbage()
    root:backward()
    assert.are.equal(2, root.data)
    assert.are.equal(2, root:children()[1].grad)
    root, leaf = nil, nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, torchlet.memory().live_nodes)
  end)

  it("reports a use after __gc instead of crashing", function()
    -- a finalizer runs after the Element it holds was finalized (Lua
    -- finalizes in reverse order of creation) and uses it: resurrection
    local results = {}
    do
      local t = {}
      local holder = helpers.finalized(function()
        results[1] = {pcall(function() return t.e + 1 end)}
        results[2] = {pcall(function() return t.e.data end)}
        results[3] = {pcall(function() t.e:backward() end)}
      end)()
      t.e = Element(1)
      assert(holder)
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(3, #results)
    for _, r in ipairs(results) do
      assert.is_false(r[1])
      assert.matches("Element used after it was collected", r[2])
    end
  end)

  it("keeps __gc out of reach of scripts", function()
    local mt = getmetatable(Element(1))
    assert.is_nil(mt.__gc)
    assert.are.equal("torchlet.Element", mt.__name)
    assert.is_function(mt.__add)
    assert.is_nil(getmetatable(torchlet.nn.MLP(1, {1})).__gc)
    assert.is_nil(getmetatable(torchlet.optim.SGD({Element(1)})).__gc)
  end)

  it("raises instead of crashing when a finalizer calls in while the state closes", function()
    -- an object made before require "torchlet" is finalized after the
    -- context; its finalizer gets an error (a warning at lua_close)
    local script = [[
      local keep = setmetatable({}, {__gc = function()
        local t = require "torchlet"
        local e = t.Element(1) + 1
      end})
      local t = require "torchlet"
      local x = t.Element(2) * 3
    ]]
    local cmd = ("LUA_PATH=%q LUA_CPATH=%q %s -e %q"):format(   -- the VM running the specs
      package.path, package.cpath, helpers.lua, script)
    local ok, out, code = helpers.run(cmd)
    assert.is_true(ok, ("exit %s: %s"):format(tostring(code), out))
  end)

  it("frees every node when all handles are gone", function()
    collectgarbage()
    local before = torchlet.memory().live_nodes
    do
      local xs = {}
      for i = 1, 1000 do xs[i] = Element(i) end
      local s = xs[1]
      for i = 2, #xs do s = s + xs[i] * xs[i - 1] end
      s:backward()
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, torchlet.memory().live_nodes)
  end)
end)

describe("bad input", function()
  local a = Element(1)
  local cases = {
    {"Element('x')", function() return Element("x") end,
     "bad argument #1 to '[%w.]*Element' %(number or table of numbers expected, got string%)"},
    {"Element(1, true)", function() return Element(1, true) end,
     "bad argument #2 to '[%w.]*Element' %(string or nil expected, got boolean%)"},
    {"Element(1, {label = {}})", function() return Element(1, {label = {}}) end,
     "bad argument #2 to '[%w.]*Element' %(string or nil expected for option 'label', got table%)"},
    {"Element(1, {requires = false})", function() return Element(1, {requires = false}) end,
     "bad argument #2 to '[%w.]*Element' %(unknown option 'requires'"},
    {"Element(1, {requires_grad = 0})", function() return Element(1, {requires_grad = 0}) end,
     "bad argument #2 to '[%w.]*Element' .*requires_grad"},
    {"a.requires_grad = 0", function() a.requires_grad = 0 end,
     "bad argument #3 to '__newindex' %(boolean expected for field 'requires_grad', got number%)"},
    {"(a * a).requires_grad = false", function() local b = a * a; b.requires_grad = false end,
     "requires_grad: only a leaf's setting can change %(this is the result of mul%)"},
    {"a + {}", function() return a + {} end,
     "bad argument #2 to '__add' %(Element or number expected, got table%)"},
    {"a * nil", function() return a * nil end,
     "bad argument #2 to '__mul' %(Element or number expected, got nil%)"},
    {"{} - a", function() return {} - a end,
     "bad argument #1 to '__sub' %(Element or number expected, got table%)"},
    {"a / true", function() return a / true end,
     "bad argument #2 to '__div' %(Element or number expected, got boolean%)"},
    -- a userdata is named by its metatable's __name, which 5.1's have not
    {"a ^ io.stdout", function() return a ^ io.stdout end,
     "bad argument #2 to '__pow' %(Element or number expected, got "
     .. (getmetatable(io.stdout).__name or "userdata"):gsub("%*", "%%*") .. "%)"},
    -- 5.1 and LuaJIT compare only values of one type: "attempt to compare"
    {"a < {}", function() return a < {} end,
     "bad argument #2 to '__lt' %(Element or number expected, got table%)", helpers.LUA53},
    {"a.data = 'x'", function() a.data = "x" end,
     "bad argument #3 to '__newindex' %(number expected for field 'data', got string%)"},
    {"a.grad = {}", function() a.grad = {} end,
     "bad argument #3 to '__newindex' %(number expected for field 'grad', got table%)"},
    {"a.label = {}", function() a.label = {} end,
     "bad argument #3 to '__newindex' %(string or nil expected for field 'label', got table%)"},
    {"a.nope = 1", function() a.nope = 1 end,
     "Element has no settable field 'nope'"},
    {"a.backward(5)", function() a.backward(5) end,
     "bad argument #1 to 'backward' %(Element expected, got number%)"},
    {"__add(1, 2)", function() return getmetatable(a).__add(1, 2) end,
     "bad argument #1 to '__add' %(Element expected, got number%)"},
    {"__unm('x')", function() return getmetatable(a).__unm("x") end,
     "bad argument #1 to '__unm' %(Element expected, got string%)"},
    {"no_grad(1)", function() return torchlet.no_grad(1) end,
     "bad argument #1 to '[%w._]*no_grad' %(function expected, got number%)"},
    {"manual_seed('x')", function() torchlet.manual_seed("x") end,
     "bad argument #1 to '[%w._]*manual_seed'"},
    {"manual_seed('5')", function() torchlet.manual_seed("5") end,
     "bad argument #1 to 'manual_seed' %(integer expected, got string%)"},
    {"a sparse table of huge length", function()
       -- a constructor with keys 1, 2, 4, ..., 2^40 only: Lua's length
       -- operator finds a border near 2^40 in the hash part
       local keys = {}
       for k = 0, 40 do keys[#keys + 1] = ("[%d] = 1"):format(2 ^ k) end
       local t = load_string("return {" .. table.concat(keys, ", ") .. "}")()
       assert(helpers.rawlen(t) > 2 ^ 31)
       return torchlet.loss.mse(t, t)
     end, "bad argument #1 to 'mse' %(a table of %d+ entries; at most 2147483648 are taken%)",
     helpers.LUA53},     -- 5.1 and LuaJIT find no border past 2^30 in a hash part
  }
  for _, case in ipairs(cases) do
    it("rejects " .. case[1] .. " with a message naming function and argument"
       .. (case[4] or ""), function()
      local ok, err = pcall(case[2])
      assert.is_false(ok)
      assert.matches(case[3], err)
    end)
  end

  it("takes no string for a number, even one that looks like a number", function()
    assert.has_error(function() return a + "1" end)
    assert.has_error(function() return Element("1") end)
    assert.has_error(function() a.data = "2" end)
  end)

  it("leaves stored values untouched after a rejected assignment", function()
    local e = Element(4, "keep")
    pcall(function() e.data = "x" end)
    pcall(function() e.label = 5 end)
    assert.are.equal(4, e.data)
    assert.are.equal("keep", e.label)
  end)
end)

describe("numerics", function()
  it("lets nan and inf flow through ops and backward without raising", function()
    local a = Element(0 / 0)
    local b = Element(math.huge)
    local c = a * 2 + b
    local d = (b - b):exp()            -- inf - inf = nan
    local s = c + d
    s:backward()
    assert.is_true(helpers.is_nan(s.data))
    assert.are.equal(2, a.grad)                   -- ds/da does not involve the nan
    assert.is_true(helpers.is_nan(b.grad))        -- through exp(inf - inf)
    local x = torchlet.Element({1, 0 / 0, math.huge})
    local y = (x * 3):sum()
    y:backward()
    assert.is_true(helpers.is_nan(y.data))
    assert.are.same({3, 3, 3}, x.grad)
  end)

  it("with check_numerics on, names the op that produced a nan or inf, not the ops that inherited it", function()
    torchlet.check_numerics(false)
    local produced = Element(1) / 0               -- made with checking off
    torchlet.check_numerics(true)
    local ok, err = pcall(function() return Element(1) / 0 end)
    local inherited_ok = pcall(function() return produced + 1 end)
    local data_ok, data_err = pcall(function() return Element(0 / 0) + 1 end)
    local arr_ok, arr_err = pcall(function() return torchlet.Element({1, -1}):sqrt() end)
    local exp_ok, exp_err = pcall(function() return Element(1000):exp() end)
    torchlet.check_numerics(false)
    assert.is_false(ok)
    assert.matches("div produced inf", err)
    assert.is_true(inherited_ok)
    assert.is_false(data_ok)
    assert.matches("add produced nan from a non%-finite input", data_err)
    assert.is_false(arr_ok)
    assert.matches("sqrt produced nan", arr_err)
    assert.is_false(exp_ok)
    assert.matches("exp produced inf", exp_err)
  end)
end)

describe("a nan in a model's input (issue 11)", function()
  it("gives nan, and check_numerics names the first op that takes it", function()
    torchlet.manual_seed(3)
    local m = torchlet.nn.MLP(2, {4, 1})
    local out = m({0 / 0, 1})
    assert.is_true(out.data ~= out.data)
    local batched = m(torchlet.Element({{0 / 0, 1}}))
    local v = batched:totable()[1][1]
    assert.is_true(v ~= v)
    torchlet.check_numerics(true)
    local ok, err = pcall(m, {0 / 0, 1})
    local bok, berr = pcall(m, torchlet.Element({{0 / 0, 1}}))
    torchlet.check_numerics(false)
    assert.is_false(ok)
    assert.matches("neuron produced nan from a non%-finite input", err)
    assert.is_false(bok)
    assert.matches("produced nan from a non%-finite input", berr)
  end)
end)

describe("labels and finalizers (issue 12)", function()
  -- A finalizer that sets e.label frees the label being copied if it runs
  -- while tostring(e) or e.label holds a pointer to it.  Many pending
  -- finalizers, a collector with no pause and a small step, and a label
  -- longer than a luaL_Buffer's first block make one run inside the call;
  -- under ASan the old tostring failed here with heap-use-after-free.
  local function with_eager_collector(fn)
    local mode = _VERSION == "Lua 5.4" and collectgarbage("incremental")
    collectgarbage("collect")
    local pause = collectgarbage("setpause", 0)
    local stepmul = collectgarbage("setstepmul", 1)
    local ok, err = pcall(fn)
    collectgarbage("setpause", pause)
    collectgarbage("setstepmul", stepmul)
    if mode then collectgarbage(mode) end
    assert(ok, err)
  end

  for _, case in ipairs{{"an array", {1, 2}}, {"a scalar", 1}} do
    it("tostring and e.label of " .. case[1] .. " survive finalizers that replace the label", function()
      local fills = {string.rep("a", 3000), string.rep("b", 3001)}
      local e = Element(case[2], fills[1])
      local ran, bad = 0, nil
      with_eager_collector(function()
        local makers = {}
        for k = 1, 2 do
          makers[k] = helpers.finalized(function() e.label = fills[k]; ran = ran + 1 end)
        end
        for i = 1, 2000 do makers[i % 2 + 1]() end
        -- 4000 calls, and more until the finalizers have run: a collector
        -- step on 5.1 and LuaJIT marks about one object, so with the whole
        -- suite's heap their cycle reaches the finalizers much later
        local calls = 0
        while calls < 4000 or (ran <= 100 and calls < 1000000) do
          calls = calls + 1
          local label = tostring(e):match('label="(.*)"%)$')
          local field = e.label
          if label ~= fills[1] and label ~= fills[2] or
             field ~= fills[1] and field ~= fills[2] then
            bad = label
            break
          end
        end
      end)
      assert.is_nil(bad)
      assert.is_true(ran > 100)       -- the finalizers did run during the calls
    end)
  end

  it("refuses labels with a NUL byte instead of cutting them", function()
    helpers.fails("bad argument #2 to 'Element' (label contains a NUL byte at position 2)",
                  Element, 1, "a\0b")
    local e = Element(1, "kept")
    helpers.fails("bad argument #3 to '__newindex' (label contains a NUL byte at position 1)",
                  function() e.label = "\0" end)
    assert.are.equal("kept", e.label)
    e.label = nil
    assert.is_nil(e.label)
    e.label = "é, ü and \1 are fine"
    assert.are.equal("é, ü and \1 are fine", e.label)
  end)
end)
