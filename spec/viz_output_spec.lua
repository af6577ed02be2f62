-- viz_output_spec.lua -- what the graph views hand to graphviz and write:
-- the bounds on dot's work (no timing here: bench/viz_layout.lua times
-- it), and well-formed files whatever bytes the labels hold.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local Element = torchlet.Element

-- {====================================================================
-- Helpers
-- =====================================================================

local tmppath, cleanup = helpers.temp_paths()

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


-- The first fault of 's' as UTF-8 (RFC 3629: no overlong forms, no
-- surrogates, nothing past U+10FFFF), or nil.  Written out rather than
-- utf8.len, whose checks differ between Lua 5.3 and 5.4.
local function utf8_fault(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then
      len = 3
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      len = 4
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else return "byte " .. c .. " at " .. i end
    for k = 1, len - 1 do
      local b = s:byte(i + k)
      local a, z = k == 1 and lo or 0x80, k == 1 and hi or 0xBF
      if b == nil or b < a or b > z then return "bad sequence at " .. i end
    end
    i = i + len
  end
  return nil
end

-- The first character of 's' (valid UTF-8) that XML 1.0 forbids: controls
-- other than tab, LF and CR, and U+FFFE, U+FFFF.
local function xml_char_fault(s)
  for pos, cp in helpers.utf8_codes(s) do
    if (cp < 0x20 and cp ~= 9 and cp ~= 10 and cp ~= 13) or cp == 0xFFFE or cp == 0xFFFF then
      return string.format("U+%04X at %d", cp, pos)
    end
  end
  return nil
end

-- Checks that 's' is a well-formed XML document, as far as these files go:
-- characters, comments, processing instructions, a DOCTYPE, CDATA,
-- balanced elements with quoted attributes, and entity references.
-- Raises naming the first fault.
local function assert_xml(s)
  local fault = utf8_fault(s)
  assert(fault == nil, "not UTF-8: " .. tostring(fault))
  fault = xml_char_fault(s)
  assert(fault == nil, "not an XML Char: " .. tostring(fault))
  local function check_text(t, where)
    local rest = t:gsub("&[%a_:][%w_:.-]*;", ""):gsub("&#%d+;", ""):gsub("&#x%x+;", "")
    assert(not rest:find("&", 1, true), "bare & in " .. where)
    assert(not rest:find("<", 1, true), "bare < in " .. where)
  end
  local stack, i, roots = {}, 1, 0
  while true do
    local lt = s:find("<", i, true)
    check_text(s:sub(i, (lt or #s + 1) - 1), "text")
    if not lt then break end
    if s:sub(lt, lt + 3) == "<!--" then
      local close = assert(s:find("-->", lt + 4, true), "unclosed comment")
      local body = s:sub(lt + 4, close - 1)
      assert(not body:find("--", 1, true), "'--' in a comment")
      assert(body:sub(-1) ~= "-", "comment ends with '-'")
      i = close + 3
    elseif s:sub(lt, lt + 1) == "<?" then
      i = assert(s:find("?>", lt + 2, true), "unclosed <?") + 2
    elseif s:sub(lt, lt + 8) == "<![CDATA[" then
      assert(#stack > 0, "CDATA outside the root")
      i = assert(s:find("]]>", lt + 9, true), "unclosed CDATA") + 3
    elseif s:sub(lt, lt + 8) == "<!DOCTYPE" then
      assert(roots == 0 and #stack == 0, "DOCTYPE after the root")
      local gt = s:find("[>%[]", lt)
      if s:sub(gt, gt) == "[" then gt = assert(s:find("]%s*>", gt)) end
      i = s:find(">", gt, true) + 1
    else
      local close, name = s:match("^<(/?)([%a_:][%w_:.-]*)", lt)
      assert(name, "bad tag at " .. lt)
      local j = lt + #close + 1 + #name
      if close == "/" then
        assert(s:find("^%s*>", j), "bad end tag " .. name)
        assert(table.remove(stack) == name, "end tag " .. name .. " does not match")
        i = select(2, s:find("^%s*>", j)) + 1
      else
        assert(#stack > 0 or roots == 0, "second root element " .. name)
        local seen = {}
        while true do
          local a, b, attr, q = s:find("^%s+([%a_:][%w_:.-]*)%s*=%s*([\"'])", j)
          if not a then break end
          assert(not seen[attr], "attribute " .. attr .. " twice")
          seen[attr] = true
          local e = assert(s:find(q, b + 1, true), "unclosed attribute " .. attr)
          check_text(s:sub(b + 1, e - 1), "attribute " .. attr)
          j = e + 1
        end
        local _, e, slash = s:find("^%s*(/?)>", j)
        assert(e, "bad start tag " .. name .. " at " .. lt)
        if slash == "" then stack[#stack + 1] = name end
        if #stack == 0 or (slash == "" and #stack == 1) then roots = roots + 1 end
        i = e + 1
      end
    end
  end
  assert(#stack == 0, "unclosed element " .. tostring(stack[#stack]))
  assert(roots == 1, "root elements: " .. roots)
end

-- Labels that have broken outputs: every byte value but NUL (refused),
-- truncated and overlong sequences, surrogates, U+FFFE/U+FFFF, and text
-- that means something in XML, DOT or records.
local function hostile_labels()
  local every = {}
  for b = 1, 255 do every[#every + 1] = string.char(b) end
  return {
    table.concat(every),
    "truncated \195", "\226\130", "\240\159\152", "overlong \192\175 \224\128\175",
    "surrogate \237\160\128", "past max \244\144\128\128", "\239\191\190\239\191\191",
    "a--b", "--", "-", "x -->", "]]>", "<!-- x -->", '"q"', "\\", "\\\"", "a\\nb",
    "{ | } < > &amp; &", "\r\n\t\f\v\027[31m", "\239\191\189 kept", "caf\195\169 ok",
  }
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
    -- one Neuron(40) applied 480 times to values from anywhere before it
    -- (961 values): 40 uses each spanning up to the whole graph, so even
    -- with copies routing takes 35,000 nodes and edges.  (A layer's
    -- weights are one array node, so shared weights alone no longer do.)
    torchlet.manual_seed(3)
    local m = torchlet.nn.Neuron(40)
    local v, state = {}, 7
    for i = 1, 40 do v[i] = Element(i * 0.01) end
    for _ = 1, 480 do
      local xs = {}
      for j = 1, 40 do
        state = (state * 1103515245 + 12345) % 2147483648
        xs[j] = v[#v - state % #v]
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

describe("output with hostile labels", function()
  after_each(cleanup)

  -- one value per label, all feeding one sum
  local function graph()
    local r
    for _, l in ipairs(hostile_labels()) do
      local x = Element(1.0, l) * 2
      x.label = l
      r = r and r + x or x
    end
    r:backward()
    return r
  end

  it("the checker finds the faults the outputs had", function()
    assert.has_error(function() assert_xml("<a><!-- x -- y --></a>") end)
    assert.has_error(function() assert_xml("<a>\1</a>") end)
    assert.has_error(function() assert_xml("<a>caf\233</a>") end)
    assert.has_error(function() assert_xml("<a><b></a></b>") end)
    assert.has_error(function() assert_xml("<a x=\"<\"/>") end)
    assert.has_error(function() assert_xml("<a/><!-- x --->") end)
    assert_xml('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C" "x.dtd">\n'
      .. '<svg a="1" b=\'&amp;\'><g/><t>&lt;&#38;&#x26;</t></svg>\n<!-- ok -->\n')
  end)

  it("gives DOT that is UTF-8 without control characters, and dot reads it", function()
    local dot = graph():to_dot()
    assert.is_nil(utf8_fault(dot))
    assert.is_nil(xml_char_fault(dot))
    assert.is_nil(dot:find("\0", 1, true))   -- apart: 5.1 patterns end at a NUL
    assert.is_nil(dot:find("[\1-\8\11-\31\127]"))
    assert.is_truthy(dot:find("truncated \239\191\189", 1, true))
    assert.is_truthy(dot:find("overlong \239\191\189\239\191\189 \239\191\189\239\191\189\239\191\189", 1, true))
    assert.is_truthy(dot:find("caf\195\169 ok", 1, true))
    local path = tmppath(".dot")
    helpers.write_file(path, dot)
    assert.is_true((helpers.run("dot -Tplain " .. path .. " > /dev/null")))
  end)

  it("writes well-formed SVG in the graphviz view", function()
    local p = tmppath(".svg")
    graph():visualize("graphviz", {file = p})
    local svg = helpers.read_file(p)
    assert_xml(svg)
    assert.is_truthy(svg:find("caf\195\169 ok", 1, true))
  end)

  it("writes well-formed SVG in the cairo view, its text index included", function()
    local p = tmppath(".svg")
    graph():visualize("cairo", {file = p})
    local svg = helpers.read_file(p)
    assert_xml(svg)
    local index = svg:match("<!%-%- torchlet graph text.-%-%->")
    assert.is_truthy(index)
    assert.is_truthy(index:find("truncated \239\191\189 | * 2", 1, true))
    assert.is_truthy(index:find("a-~b | * 2", 1, true))
  end)
end)

describe("graphviz render failures", function()
  after_each(cleanup)

  it("keeps graphviz PNGs under 16,000 pixels a side and 25 million in all", function()
    -- a chain of 1,000 values is 100,000 points wide: graphviz alone made
    -- it 32,767 pixels; tall and wide graphs reached a billion pixels
    local x = Element(1.0, "x")
    for _ = 2, 1000 do x = x * 1.0001 end
    local p = tmppath(".png")
    x:visualize("graphviz", {file = p})
    local s = helpers.read_file(p)
    assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8))
    local w, h = helpers.be32x2(s, 17)
    assert.is_true(w <= 16000 and h <= 16000 and w * h <= 25e6, w .. " x " .. h)
    assert.is_true(w > 8000, tostring(w))       -- scaled to fit, not more
  end)

  -- In a child process: before the check, cairo aborted the whole process.
  it("refuses a PDF too wide for cairo instead of aborting", function()
    local p = tmppath(".pdf")
    local script = string.format([[
      local torchlet = require "torchlet"
      local x = torchlet.Element(1.0, string.rep("W", 256))
      for _ = 2, 2300 do x = x * 1.0001; x.label = string.rep("W", 256) end
      local ok, err = pcall(x.visualize, x, "graphviz", {file = %q, max_nodes = 5000})
      io.write(tostring(ok), " ", tostring(err))
    ]], p)
    local lua = require("spec.helpers").lua
    local file = tmppath(".lua")
    helpers.write_file(file, script)
    -- the child gets this VM's paths: a plain `busted` (.busted) sets them
    -- in package.path, not in the environment
    local child = assert(io.popen(("LUA_PATH=%q LUA_CPATH=%q %s %s 2>&1"):format(
      package.path, package.cpath, lua, file)))
    local out = child:read("*a")
    child:close()
    assert.is_truthy(out:find("false graphviz: the picture is %d+ points wide, too big "
      .. "for a PDF %(at most 8000000; use SVG%)"), out)
    assert.is_false(helpers.exists(p))
  end)
end)
