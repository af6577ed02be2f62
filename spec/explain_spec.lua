-- spec/explain_spec.lua -- e:explain(): the backward trace as text, in the
-- engine's order, with numbers equal to what backward() gives, and a view
-- that leaves every gradient as it was.
local t = require "torchlet"
local helpers = require "spec.helpers"

local E = t.Element
local near = helpers.near

-- The lines of a text.
local function lines(text)
  local out = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = l end
  return out
end

-- The graph under 'root' in the engine's topological order (core/graph.c
-- walk: depth-first post-order, inputs in order, each node once),
-- rebuilt here from e:children() alone.  Nodes are compared by label, so
-- the caller labels them all.
local function topo(root)
  local order, seen = {}, {}
  local stack = {{node = root, kids = root:children(), next = 1}}
  seen[root.label] = true
  while #stack > 0 do
    local f = stack[#stack]
    if f.next <= #f.kids then
      local x = f.kids[f.next]
      f.next = f.next + 1
      if not seen[x.label] then
        seen[x.label] = true
        local kids = x:children()
        if #kids == 0 then order[#order + 1] = x
        else stack[#stack + 1] = {node = x, kids = kids, next = 1} end
      end
    else
      order[#order + 1] = f.node
      stack[#stack] = nil
    end
  end
  return order
end

-- Labels every unlabelled node under 'root' n1, n2, ... (in topological
-- order); returns that order.
local function label_all(root)
  local order, seen, k = {}, {}, 0
  local function walk(x)        -- small graphs only: recursion is fine here
    if seen[x] then return end
    seen[x] = true
    for _, c in ipairs(x:children()) do walk(c) end
    order[#order + 1] = x
  end
  walk(root)
  for _, x in ipairs(order) do
    if not x.label then k = k + 1; x.label = "n" .. k end
  end
  return order
end

-- The steps of a trace: the node each line is a step of (the name before
-- the first ".grad" right of "+="), in order of first appearance.
local function step_names(text)
  local names, last = {}, nil
  for _, l in ipairs(lines(text)) do
    local at = l:match("^[^ ]+%.grad %+= %-?%(?([%w_#%.]-)%.grad")
    if at and at ~= last then names[#names + 1] = at; last = at end
  end
  return names
end

-- What the lines give each input, summed: scalars by name, array entries
-- by name and position "[i, j]".
local function received(text)
  local got = {}
  for _, l in ipairs(lines(text)) do
    local name, rhs = l:match("^([^ ]+)%.grad %+= (.*)$")
    if name then
      local body = rhs:gsub(" %([^()]- now [^()]-%)$", "")
      local res = body:match(" = (%([%d, ]*%) with .*)$") or body:match(" = ([^=]-)$")
      if res:find("with ") then
        for pos, v in res:gmatch("(%[[%d, ]+%]) = (%-?[%d%.e%+%-]+)") do
          local key = name .. pos
          got[key] = (got[key] or 0) + tonumber(v)
        end
      elseif res:find("zeros") == nil and tonumber(res) then
        got[name] = (got[name] or 0) + tonumber(res)
      end
    end
  end
  return got
end

describe("e:explain()", function()
  local function abcd()
    local a, b = E(2.0, "a"), E(3.0, "b")
    local c = a * b
    c.label = "c"
    local d = c + a
    d.label = "d"
    return a, b, c, d
  end

  it("gives the README's example step by step, in the engine's order", function()
    local a, b, c, d = abcd()
    assert.are.same({
      "d.grad = 1 (the seed)",
      "c.grad += d.grad = 1",
      "a.grad += d.grad = 1",
      "a.grad += c.grad * b.data = 1 * 3 = 3 (a.grad now 4)",
      "b.grad += c.grad * a.data = 1 * 2 = 2",
    }, lines(d:explain()))
    local order = topo(d)
    local want = {}
    for i = #order, 1, -1 do
      if #order[i]:children() > 0 then want[#want + 1] = order[i].label end
    end
    assert.are.same(want, step_names(d:explain()))
    d:backward()
    assert.are.equal(4, a.grad)
    assert.are.equal(2, b.grad)
    assert.are.equal(1, c.grad)
  end)

  it("is a view: gradients stay as they were, before and after backward", function()
    local a, b, c, d = abcd()
    d:explain()
    assert.are.equal(0, a.grad)
    assert.are.equal(0, c.grad)
    d:backward()
    c:explain()                  -- another root: its own pass, then put back
    d:explain()
    assert.are.same({4, 2, 1, 1}, {a.grad, b.grad, c.grad, d.grad})
    d:backward()
    assert.are.same({8, 4}, {a.grad, b.grad})
  end)

  it("names a node used twice by one op once per use (a * a)", function()
    local a = E(3, "a")
    local y = a * a
    y.label = "y"
    assert.are.same({
      "y.grad = 1 (the seed)",
      "a.grad += y.grad * a.data = 1 * 3 = 3",
      "a.grad += y.grad * a.data = 1 * 3 = 3 (a.grad now 6)",
    }, lines(y:explain()))
  end)

  it("follows a small MLP in the engine's order, numbers equal to backward's", function()
    t.manual_seed(7)
    local model = t.nn.MLP(2, {3, 2, 1}, {activation = "tanh"})
    local x = {E(0.5, "x1"), E(-1.5, "x2")}
    local out = model(x)
    local loss = (out - 1) ^ 2
    label_all(loss)
    local ps = model:parameters()
    assert.are.same({"L1.W", "L1.b", "L2.W", "L2.b", "L3.W", "L3.b"},
                    {ps[1].label, ps[2].label, ps[3].label, ps[4].label, ps[5].label, ps[6].label})
    local text = loss:explain()
    -- the engine's order, from e:children() alone
    local order, want = topo(loss), {}
    for i = #order, 1, -1 do
      if #order[i]:children() > 0 then want[#want + 1] = order[i].label end
    end
    assert.are.same(want, step_names(text))
    -- every number the lines give adds up to what backward gives
    local got = received(text)
    loss:backward()
    for _, xi in ipairs(x) do near(xi.grad, got[xi.label], 1e-5, xi.label) end
    for _, p in ipairs(ps) do
      local g = p.grad
      if type(g[1]) == "table" then
        for i = 1, #g do for j = 1, #g[i] do
          near(g[i][j], got[p.label .. "[" .. i .. ", " .. j .. "]"] or 0, 1e-5,
               p.label .. "[" .. i .. ", " .. j .. "]")
        end end
      else
        for i = 1, #g do
          near(g[i], got[p.label .. "[" .. i .. "]"] or 0, 1e-5, p.label .. "[" .. i .. "]")
        end
      end
    end
    -- and the trace put every gradient back: explain again, same grads
    local before = {x[1].grad, x[2].grad}
    loss:explain()
    assert.are.same(before, {x[1].grad, x[2].grad})
  end)

  it("summarizes arrays by shape and entries", function()
    local A = E({{1, 2, 3}, {4, 5, 6}})
    A.label = "A"
    local s = (A * 2):sum(2):max()
    s.label = "s"
    assert.are.same({
      "s.grad = 1 (the seed)",
      "sum#3.grad += s.grad where sum#3.data == s.data = 1 where (2) == 30 = (2) with [2] = 1",
      "mul#2.grad += expand(sum#3.grad) = expand((2)) = (2, 3) with [2, 1] = 1, [2, 2] = 1, [2, 3] = 1",
      "A.grad += mul#2.grad * 2 = (2, 3) * 2 = (2, 3) with [2, 1] = 2, [2, 2] = 2, [2, 3] = 2",
    }, lines(s:explain()))
    -- more than 4 nonzero entries: a summary
    local m = (A * A):mean()
    m.label = "m"
    -- an array op using one node twice: one line for both uses
    assert.are.equal("A.grad += mul#2.grad * A.data = (2, 3) * (2, 3) = (2, 3) sum 7, min 0.333333, max 2 (its 2 uses together)",
                     lines(m:explain())[3])
  end)

  it("refuses what backward refuses, naming the function", function()
    local A = E({1, 2})
    assert.error_matches(function() A:explain() end, "explain: the root is an array of shape %(2%)")
    local z = E(1, {requires_grad = false})
    assert.error_matches(function() (z * 2):explain() end, "needs no gradient")
    -- a method call: Lua counts 'self' out, so the extra argument is #1
    assert.error_matches(function() E(1):explain(2) end, "bad argument #1 to 'explain' %(no argument expected%)")
    assert.error_matches(function() t.Element_methods.explain(3) end, "bad argument #1 to 'explain'")
  end)
end)

describe("model parameters' labels", function()
  local helpers_tmp, cleanup = helpers.temp_paths()
  teardown(function() cleanup() end)

  it("name arrays L1.W, L1.b, ... and scalars L1.N3.w2, also in drawings", function()
    t.manual_seed(1)
    local model = t.nn.MLP(2, {3, 1})
    local labels = {}
    for _, p in ipairs(model:parameters()) do labels[#labels + 1] = p.label end
    assert.are.same({"L1.W", "L1.b", "L2.W", "L2.b"}, labels)
    local s = model:parameters{scalar = true}
    assert.are.same({"L1.N1.w1", "L1.N1.w2", "L1.N1.b", "L1.N2.w1"},
                    {s[1].label, s[2].label, s[3].label, s[4].label})
    assert.are.equal("L1.N3.w2", s[8].label)
    assert.are.equal("L2.N1.w3", s[12].label)
    assert.are.equal("L2.N1.b", s[13].label)
    -- a loaded model is labelled too
    local path = helpers_tmp(".tlm")
    model:save(path)
    local back = t.nn.load(path)
    assert.are.equal("L2.b", back:parameters()[4].label)
    -- a relabelled array: its scalars say so
    model:parameters()[1].label = "first"
    assert.are.equal("first[2]", s[2].label)
    -- drawings and explanations use them
    local out = back({E(1, "x1"), E(2, "x2")})
    local svg = helpers_tmp(".svg")
    out:visualize("cairo", {file = svg})
    local text = helpers.read_file(svg)
    assert.truthy(text:find("\nL1.W | input | data (3, 2)", 1, true))
    assert.truthy(text:find("\nL2.b | input | data (1)", 1, true))
    assert.truthy(out:explain():find("L2.b.grad += ", 1, true))
  end)
end)
