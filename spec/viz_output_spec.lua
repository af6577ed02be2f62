-- viz_output_spec.lua -- what the graph views hand to graphviz and write:
-- the bounds on dot's work (no timing here: bench/viz_layout.lua times
-- it), and well-formed files whatever bytes the labels hold.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local Element = torchlet.Element

-- {====================================================================
-- Helpers
-- =====================================================================

local made = {}
local function tmppath(ext)
  local base = os.tmpname()
  os.remove(base)
  local p = base .. ext
  made[#made + 1] = p
  return p
end
local function cleanup()
  for _, p in ipairs(made) do os.remove(p) end
  made = {}
end

-- r = r + a, n times: every op reads the same 'a'.
local function fan(n)
  local a = Element(1.0, "a")
  local r = a
  for _ = 1, n do r = r + a end
  return r
end

-- The graph of a DOT text: node name -> attribute text, and edges.
local function parse_dot(dot)
  local nodes, edges = {}, {}
  for name, attrs in dot:gmatch("\n%s*([%w_]+)%s+(%b[])") do nodes[name] = attrs end
  for from, to in dot:gmatch("\n%s*([%w_]+)%s+%->%s+([%w_]+)") do
    edges[#edges + 1] = {from, to}
  end
  return nodes, edges
end

-- The virtual nodes dot needs for 'edges' under the ranking that puts each
-- node just left of its leftmost successor (longest path to a sink): a
-- feasible ranking, so dot's optimal one needs no more.
local function virtual_nodes(edges)
  local succ, rank = {}, {}
  for _, e in ipairs(edges) do
    succ[e[1]] = succ[e[1]] or {}
    table.insert(succ[e[1]], e[2])
  end
  local function rank_of(v)          -- memoized; depth is small in specs
    if rank[v] then return rank[v] end
    local r = 0
    for _, w in ipairs(succ[v] or {}) do r = math.max(r, rank_of(w) + 1) end
    rank[v] = r
    return r
  end
  local total = 0
  for _, e in ipairs(edges) do total = total + rank_of(e[1]) - rank_of(e[2]) - 1 end
  return total
end

-- }====================================================================

describe("graphviz layout bounds", function()
  after_each(cleanup)

  it("leaves small graphs to dot's defaults", function()
    local a, b = Element(2.0, "a"), Element(3.0, "b")
    local d = a * b + a
    local dot = d:to_dot()
    for _, attr in ipairs({"nslimit", "mclimit", "newrank", "copy"}) do
      assert.is_nil(dot:find(attr, 1, true), attr)
    end
  end)

  it("bounds the iterations of a big graph", function()
    local dot = fan(80):to_dot()
    local ns = tonumber(dot:match("nslimit=\"?([%d.e+-]+)"))
    local mc = tonumber(dot:match("mclimit=\"?([%d.e+-]+)"))
    assert.is_truthy(ns and mc)
    -- about 2e6 node visits: nslimit x nodes iterations over the routed graph
    assert.is_true(ns > 0 and ns < 5, tostring(ns))
    assert.is_true(mc > 0 and mc < 1, tostring(mc))
    assert.is_truthy(dot:find("newrank=true", 1, true))
  end)

  it("draws far uses of a shared value from dashed copies", function()
    -- 999 uses of 'a' spread over 2,000 ranks: about a million virtual
    -- nodes before, 80 s of layout already at 80 uses
    local dot = fan(999):to_dot()
    local nodes, edges = parse_dot(dot)
    assert.is_true(virtual_nodes(edges) <= 5000, tostring(virtual_nodes(edges)))
    local copies, from_a = 0, 0
    for name, attrs in pairs(nodes) do
      if name:find("_copy", 1, true) then
        copies = copies + 1
        assert.are.equal("v0", name:match("^(v%d+)_copy"))
        assert.is_truthy(attrs:find("dashed", 1, true))
        assert.is_truthy(attrs:find("{ a | data 1.0000 | grad 0.0000 }", 1, true))
      end
    end
    -- every op still reads 'a' (or a copy) once per use: 999 edges
    for _, e in ipairs(edges) do
      if e[1] == "v0" or e[1]:find("^v0_copy") then from_a = from_a + 1 end
    end
    assert.is_true(copies > 0)
    assert.are.equal(1000, from_a)                -- the first op is a + a
    assert.are.equal(999 + 2 * 999, #edges)    -- op -> result, two inputs each
  end)

  it("refuses a graph too tangled to lay out in time, before laying it out", function()
    -- one Neuron(12) applied 485 times to recent values (977 values): its
    -- weights feed every application, so the copies alone pass the limit
    torchlet.manual_seed(3)
    local m = torchlet.nn.Neuron(12)
    local v, state = {}, 7
    for i = 1, 12 do v[i] = Element(i * 0.01) end
    while #v + 13 < 510 do
      local xs = {}
      for j = 1, 12 do
        state = (state * 1103515245 + 12345) % 2147483648
        xs[j] = v[#v - state % math.min(#v, 36)]
      end
      v[#v + 1] = m(xs)
    end
    local root = v[#v]
    helpers.fails("graph too tangled for graphviz", root.visualize, root,
                  "graphviz", {file = tmppath(".svg")})
    helpers.fails("raise max_nodes, or draw it with the cairo view",
                  root.visualize, root, "graphviz", {file = tmppath(".svg")})
    assert.is_truthy(root:to_dot():find("digraph", 1, true))   -- DOT: no limit
  end)
end)
