-- viz_collapse_spec.lua -- readable model graphs: {collapse = "layer"}
-- (one box per layer) and {expand = true} (neuron rows as micrograd's
-- w*x + b), checked on the graphviz view's DOT text and on the cairo
-- view's SVG (its text index lists every box and edge), which must draw
-- the same boxes and edges.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local Element, nn = torchlet.Element, torchlet.nn
local E = Element

local tmppath, cleanup = helpers.temp_paths()

-- Nodes of a DOT text: name -> label, edges "tail->head" -> count, and
-- edge labels "tail->head" -> label.
local function parse_dot(dot)
  local labels, edges, nedges, elabels = {}, {}, 0, {}
  for t, h, attrs in dot:gmatch("([%w_]+) %-> ([%w_]+)%s*(%b[])") do
    elabels[t .. "->" .. h] = attrs:match('label="(.-)"')
  end
  for name, attrs in dot:gmatch("\n%s*([%w_]+)%s+(%b[])") do
    if name ~= "graph" and name ~= "node" and name ~= "edge" then  -- defaults
      labels[name] = attrs:match('label="(.-)"') or attrs:match("label=([^,%]]+)")
    end
  end
  for t, h in dot:gmatch("([%w_]+) %-> ([%w_]+)") do
    local k = t .. "->" .. h
    edges[k] = (edges[k] or 0) + 1
    nedges = nedges + 1
  end
  return labels, edges, nedges, elabels
end

local function count_labels(labels, text)
  local n = 0
  for _, l in pairs(labels) do if l == text then n = n + 1 end end
  return n
end

local function name_of(labels, pattern)
  for name, l in pairs(labels) do if l:find(pattern) then return name end end
end

-- MLP(2, {8, 8, 1}) on one sample, its squared error after backward.
local function mlp_loss()
  torchlet.manual_seed(7)
  local model = nn.MLP(2, {8, 8, 1})
  local y = model({E(0.5, "x1"), E(-1.0, "x2")})
  local loss = (y - 1.0) ^ 2
  loss.label = "loss"
  loss:backward()
  return loss, model
end

describe("collapse = 'layer'", function()
  after_each(cleanup)

  it("draws an MLP on one sample as one box per layer with its shapes", function()
    local loss = mlp_loss()
    local labels, edges, nedges, elabels = parse_dot(loss:to_dot({collapse = "layer"}))
    assert.are.equal("L1: Linear 2→8, ReLU | W (8 x 2), b (8)", labels.L1)
    assert.are.equal("L2: Linear 8→8, ReLU | W (8 x 8), b (8)", labels.L2)
    assert.are.equal("L3: Linear 8→1 | W (1 x 8), b (1)", labels.L3)
    -- nothing of the neurons is left: no neuron op, no parameter record
    assert.are.equal(0, count_labels(labels, "w.x+b"))
    assert.are.equal(0, count_labels(labels, "ReLU"))
    for _, l in pairs(labels) do assert.is_nil(l:find("L%d%.[Wb]")) end
    -- the inputs, the boxes and the loss's own two ops: 3 boxes, x1, x2,
    -- y - 1 and loss with their ops
    local n = 0
    for _ in pairs(labels) do n = n + 1 end
    assert.are.equal(3 + 2 + 2 * 2, n)
    local x1 = name_of(labels, "^{ x1 |")
    local x2 = name_of(labels, "^{ x2 |")
    local sub_op = name_of(labels, "^%- 1$")
    local pow_op = name_of(labels, "^%^ 2$")
    local diff = name_of(labels, "^{  | data %-")
    local out = name_of(labels, "^{ loss |")
    local want = {[x1 .. "->L1"] = 1, [x2 .. "->L1"] = 1, ["L1->L2"] = 1,
      ["L2->L3"] = 1, ["L3->" .. sub_op] = 1, [sub_op .. "->" .. diff] = 1,
      [diff .. "->" .. pow_op] = 1, [pow_op .. "->" .. out] = 1}
    assert.are.same(want, edges)
    assert.are.equal(8, nedges)
    -- an edge between boxes says how many values it carries
    assert.are.same({["L1->L2"] = "8 values", ["L2->L3"] = "8 values"}, elabels)
  end)

  it("boxes a batch's linear nodes the same way", function()
    torchlet.manual_seed(3)
    local model = nn.MLP(2, {4, 3}, {activation = "tanh"})
    local out = model(E({{1, 2}, {3, 4}, {5, 6}}))
    local labels, edges = parse_dot(out:sum():to_dot({collapse = "layer"}))
    assert.are.equal("L1: Linear 2→4, tanh | W (4 x 2), b (4)", labels.L1)
    assert.are.equal("L2: Linear 4→3 | W (3 x 4), b (3)", labels.L2)
    assert.are.equal(1, edges["L1->L2"])
  end)

  it("draws a picture, and refuses bad values naming the option", function()
    local loss = mlp_loss()
    local p = tmppath(".png")
    assert.are.equal(p, loss:visualize("graphviz", {file = p, collapse = "layer"}))
    assert.are.equal("\137PNG", helpers.read_file(p):sub(1, 4))
    local q = tmppath(".dot")
    loss:visualize("graphviz", {file = q, collapse = "layer"})
    assert.are.equal(loss:to_dot({collapse = "layer"}), helpers.read_file(q))
    assert.has_error(function() loss:to_dot({collapse = "neuron"}) end,
      "bad argument #1 to 'to_dot' (option 'collapse': unknown value 'neuron' (\"layer\" expected))")
    assert.has_error(function() loss:visualize("graphviz", {collapse = 1}) end)
    assert.has_error(function() loss:visualize("graphviz", {expand = "yes"}) end)
    assert.has_error(function() loss:visualize("cairo", {collapse = "layer", steps = true}) end,
      "bad argument #2 to 'visualize' (option 'collapse' is for one picture: a step is one node's, so steps draw the graph as it is)")
    assert.has_error(function() loss:visualize("cairo", {expand = true, frames = "."}) end,
      "bad argument #2 to 'visualize' (option 'expand' is for one picture: a step is one node's, so steps draw the graph as it is)")
    assert.has_error(function() loss:visualize("html", {collapse = "layer"}) end)
    assert.has_error(function() loss:to_dot({collapse = "layer", expand = true}) end,
      "bad argument #1 to 'to_dot' (options 'collapse' and 'expand' exclude each other)")
  end)

  it("draws the layers in expand_layers as their nodes, between the boxes", function()
    local loss = mlp_loss()
    local labels, edges = parse_dot(loss:to_dot({collapse = "layer", expand_layers = {2}}))
    assert.truthy(labels.L1 and labels.L3)
    assert.is_nil(labels.L2)
    assert.are.equal(8, count_labels(labels, "w.x+b"))   -- layer 2's neurons
    assert.are.equal(8, count_labels(labels, "ReLU"))    -- and activations
    local w2 = name_of(labels, "^{ L2%.W |")
    assert.truthy(w2)
    local from_l1, into_l3 = 0, 0
    for k, c in pairs(edges) do
      if k:find("^L1%->") then from_l1 = from_l1 + c end
      if k:find("%->L3$") then into_l3 = into_l3 + c end
    end
    assert.are.equal(8, from_l1)    -- into each neuron of layer 2
    assert.are.equal(8, into_l3)    -- from each activation
    assert.has_error(function() loss:to_dot({expand_layers = {2}}) end,
      "bad argument #1 to 'to_dot' (option 'expand_layers' needs collapse = \"layer\")")
    assert.has_error(function() loss:to_dot({collapse = "layer", expand_layers = {0}}) end,
      "bad argument #1 to 'to_dot' (option 'expand_layers': layer number (an integer from 1) expected at index 1)")
    assert.has_error(function() loss:to_dot({collapse = "layer", expand_layers = {1.5}}) end)
    assert.has_error(function() loss:to_dot({collapse = "layer", expand_layers = 2}) end)
  end)

  it("keeps the node limit", function()
    local loss = mlp_loss()
    assert.has_error(function()
      loss:visualize("graphviz", {file = tmppath(".png"), collapse = "layer", max_nodes = 20})
    end)
  end)
end)

describe("expand = true", function()
  after_each(cleanup)

  it("draws a neuron as micrograd's w*x products and + chain, values from its inputs", function()
    local W, b = E({{2, -3}}), E({0.5})
    local model = nn.MLP(2, {1}, {weights = {W, b}})
    local y = model({E(1.5, "x1"), E(4, "x2")})   -- 0.5 + 3 - 12 = -8.5
    y.label = "y"
    y:backward()
    local labels, edges, nedges = parse_dot(y:to_dot({expand = true}))
    assert.are.equal(0, count_labels(labels, "w.x+b"))
    assert.are.equal(2, count_labels(labels, "*"))
    assert.are.equal(2, count_labels(labels, "+"))
    -- the weights as micrograd's leaves, 1-based, with their gradients
    -- (dy/dw = x, dy/db = 1)
    -- named as the model's scalar Parameters are (bindings/nn.c)
    local w1 = name_of(labels, "^{ L1%.N1%.w1 |")
    local w2 = name_of(labels, "^{ L1%.N1%.w2 |")
    local b1 = name_of(labels, "^{ L1%.N1%.b |")
    assert.are.equal("{ L1.N1.w1 | data 2.0000 | grad 1.5000 }", labels[w1])
    assert.are.equal("{ L1.N1.w2 | data -3.0000 | grad 4.0000 }", labels[w2])
    assert.are.equal("{ L1.N1.b | data 0.5000 | grad 1.0000 }", labels[b1])
    -- products w*x, the partial sum b + w1*x1, and y itself
    local p1 = name_of(labels, "^{  | data 3%.0000 |")
    local p2 = name_of(labels, "^{  | data %-12%.0000 |")
    local s1 = name_of(labels, "^{  | data 3%.5000 |")
    local yv = name_of(labels, "^{ y | data %-8%.5000 | grad 1%.0000 }$")
    assert.truthy(p1 and p2 and s1 and yv)
    local x1, x2 = name_of(labels, "^{ x1 |"), name_of(labels, "^{ x2 |")
    local function op_into(v)
      for k in pairs(edges) do
        local t, h = k:match("(.-)%->(.*)")
        if h == v and labels[t] ~= nil and not labels[t]:find("^{") then return t end
      end
    end
    local m1, m2, a1, a2 = op_into(p1), op_into(p2), op_into(s1), op_into(yv)
    assert.are.equal("*", labels[m1])
    assert.are.equal("+", labels[a2])
    assert.are.same({[w1 .. "->" .. m1] = 1, [x1 .. "->" .. m1] = 1, [m1 .. "->" .. p1] = 1,
      [w2 .. "->" .. m2] = 1, [x2 .. "->" .. m2] = 1, [m2 .. "->" .. p2] = 1,
      [b1 .. "->" .. a1] = 1, [p1 .. "->" .. a1] = 1, [a1 .. "->" .. s1] = 1,
      [s1 .. "->" .. a2] = 1, [p2 .. "->" .. a2] = 1, [a2 .. "->" .. yv] = 1}, edges)
    assert.are.equal(12, nedges)
  end)

  it("expands every neuron of an MLP: one product per weight", function()
    local loss = mlp_loss()
    local labels = parse_dot(loss:to_dot({expand = true}))
    assert.are.equal(2 * 8 + 8 * 8 + 8 * 1, count_labels(labels, "*"))
    assert.truthy(name_of(labels, "^{ L2%.N8%.w8 |"))
    assert.truthy(name_of(labels, "^{ L3%.N1%.b |"))
    assert.are.equal(0, count_labels(labels, "w.x+b"))
    assert.are.equal(16, count_labels(labels, "ReLU"))
  end)

  it("counts the expanded nodes against max_nodes", function()
    local loss = mlp_loss()
    local ok, err = pcall(loss.visualize, loss, "graphviz",
      {file = tmppath(".png"), expand = true, max_nodes = 100})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("max_nodes", 1, true))
  end)
end)

-- The cairo view's SVG index: boxes "label | op | data | grad" in order,
-- and edges "from -> to" -> values carried.
local function parse_cairo_svg(svg)
  local boxes, edges, nedges = {}, {}, 0
  local text = svg:match("<!%-%- torchlet graph text[^\n]*\n(.-)%-%->")
  for line in text:gmatch("([^\n]*)\n") do boxes[#boxes + 1] = line end
  local etext = svg:match("<!%-%- torchlet graph edges[^\n]*\n(.-)%-%->")
  if etext then
    for t, h, c in etext:gmatch("([%w_]+) %-> ([%w_]+) | (%d+)\n") do
      local k = t .. "->" .. h
      edges[k] = (edges[k] or 0) + tonumber(c)
      nedges = nedges + 1
    end
  end
  return boxes, edges, nedges
end

-- The DOT text's edges as the cairo view draws them: an op is drawn inside
-- its result's box, so "x -> v3_op" is "x -> v3" and "v3_op -> v3" is not
-- an edge; the count is the "N values" label, else 1 per edge.
local function dot_edges_as_boxes(dot)
  local _, edges, _, elabels = parse_dot(dot)
  local out = {}
  for k, c in pairs(edges) do
    local t, h = k:match("(.-)%->(.*)")
    if t ~= h .. "_op" then
      local l = elabels[k]
      out[t .. "->" .. (h:match("^(.-)_op$") or h)] = l and tonumber(l:match("^(%d+) values$")) or c
    end
  end
  return out
end

local function count_boxes(boxes, pattern)
  local n = 0
  for _, b in ipairs(boxes) do if b:find(pattern) then n = n + 1 end end
  return n
end

local function norm(t)
  local s = 0
  for _, v in ipairs(helpers.flat(t)) do s = s + v * v end
  return math.sqrt(s)
end

describe("the cairo view", function()
  after_each(cleanup)

  it("draws a collapsed MLP as one box per layer, with the graphviz view's edges", function()
    local loss, model = mlp_loss()
    local p = tmppath(".svg")
    assert.are.equal(p, loss:visualize("cairo", {file = p, collapse = "layer"}))
    local svg = helpers.read_file(p)
    local boxes, edges, nedges = parse_cairo_svg(svg)
    -- x1, x2, the three layers, y - 1 and the loss: nothing of the neurons
    assert.are.equal(7, #boxes)
    assert.are.equal(0, count_boxes(boxes, "w%.x%+b"))
    assert.are.equal(0, count_boxes(boxes, "| ReLU |"))
    local ps = model:parameters()            -- L1.W, L1.b, L2.W, ...
    local function layer_line(k, title, shapes)
      return string.format("L%d | %s | %s | grad |W| %.4g, |b| %.4g", k, title,
        shapes, norm(ps[2 * k - 1].grad), norm(ps[2 * k].grad))
    end
    assert.are.equal(layer_line(1, "Linear 2→8, ReLU", "W (8 x 2), b (8)"), boxes[3])
    assert.are.equal(layer_line(2, "Linear 8→8, ReLU", "W (8 x 8), b (8)"), boxes[4])
    assert.are.equal(layer_line(3, "Linear 8→1", "W (1 x 8), b (1)"), boxes[5])
    assert.are.equal("loss | ^ 2 | data 0.6958 | grad 1.0000", boxes[7])
    -- the edges are the DOT text's, boxes between boxes carrying 8 values
    assert.are.same(dot_edges_as_boxes(loss:to_dot({collapse = "layer"})), edges)
    assert.are.equal(8, edges["L1->L2"])
    assert.are.equal(6, nedges)
    -- and the picture is a fraction of the uncollapsed one
    local function area(s)
      local w, h = s:match('width="([%d.]+)pt" height="([%d.]+)pt"')
      return tonumber(w) * tonumber(h)
    end
    local q = tmppath(".svg")
    loss:visualize("cairo", {file = q})
    local plain = helpers.read_file(q)
    local plain_boxes = parse_cairo_svg(plain)
    assert.is_true(#plain_boxes > 40)
    assert.is_true(area(svg) * 4 < area(plain))   -- measured: 1187 x 214 against 1460 x 906
    -- PNG and PDF too
    local png, pdf = tmppath(".png"), tmppath(".pdf")
    loss:visualize("cairo", {file = png, collapse = "layer"})
    loss:visualize("cairo", {file = pdf, collapse = "layer"})
    assert.are.equal("\137PNG", helpers.read_file(png):sub(1, 4))
    assert.are.equal("%PDF", helpers.read_file(pdf):sub(1, 4))
  end)

  it("boxes a batch's linear nodes", function()
    torchlet.manual_seed(3)
    local model = nn.MLP(2, {4, 3}, {activation = "tanh"})
    local out = model(E({{1, 2}, {3, 4}, {5, 6}})):sum()
    local p = tmppath(".svg")
    out:visualize("cairo", {file = p, collapse = "layer"})
    local boxes, edges = parse_cairo_svg(helpers.read_file(p))
    assert.are.equal(4, #boxes)    -- X, L1, L2, the sum
    assert.are.equal("L1 | Linear 2→4, tanh | W (4 x 2), b (4) | grad none", boxes[2])
    assert.are.equal("L2 | Linear 4→3 | W (3 x 4), b (3) | grad none", boxes[3])
    assert.are.same(dot_edges_as_boxes(out:to_dot({collapse = "layer"})), edges)
  end)

  it("draws the layers in expand_layers as their nodes, as the graphviz view does", function()
    local loss = mlp_loss()
    local p = tmppath(".svg")
    loss:visualize("cairo", {file = p, collapse = "layer", expand_layers = {2}})
    local boxes, edges = parse_cairo_svg(helpers.read_file(p))
    assert.are.equal(8, count_boxes(boxes, "^ | w%.x%+b |"))     -- layer 2's neurons
    assert.are.equal(8, count_boxes(boxes, "^ | ReLU |"))        -- and activations
    assert.are.equal(1, count_boxes(boxes, "^L2%.W | input |"))
    assert.are.equal(0, count_boxes(boxes, "^L2 |"))
    assert.are.equal(2, count_boxes(boxes, "^L[13] |"))
    assert.are.same(dot_edges_as_boxes(loss:to_dot({collapse = "layer", expand_layers = {2}})), edges)
  end)

  it("draws a neuron expanded as micrograd's w*x + b, with the graphviz view's numbers", function()
    local W, b = E({{2, -3}}), E({0.5})
    local model = nn.MLP(2, {1}, {weights = {W, b}})
    local y = model({E(1.5, "x1"), E(4, "x2")})   -- 0.5 + 3 - 12 = -8.5
    y.label = "y"
    y:backward()
    local p = tmppath(".svg")
    y:visualize("cairo", {file = p, expand = true})
    local boxes, edges, nedges = parse_cairo_svg(helpers.read_file(p))
    local set = {}
    for _, l in ipairs(boxes) do set[l] = true end
    assert.are.same({
      ["x1 | input | data 1.5000 | grad 2.0000"] = true,
      ["x2 | input | data 4.0000 | grad -3.0000"] = true,
      ["L1.N1.w1 | param | data 2.0000 | grad 1.5000"] = true,
      ["L1.N1.w2 | param | data -3.0000 | grad 4.0000"] = true,
      ["L1.N1.b | param | data 0.5000 | grad 1.0000"] = true,
      [" | * | data 3.0000 | grad 1.0000"] = true,
      [" | * | data -12.0000 | grad 1.0000"] = true,
      [" | + | data 3.5000 | grad 1.0000"] = true,
      ["y | + | data -8.5000 | grad 1.0000"] = true}, set)
    assert.are.equal(9, #boxes)
    assert.are.equal("y | + | data -8.5000 | grad 1.0000", boxes[9])   -- the root last
    assert.are.same(dot_edges_as_boxes(y:to_dot({expand = true})), edges)
    assert.are.equal(8, nedges)
  end)

  it("expands every neuron of an MLP and counts them against max_nodes", function()
    local loss = mlp_loss()
    local p = tmppath(".svg")
    loss:visualize("cairo", {file = p, expand = true})
    local boxes, edges = parse_cairo_svg(helpers.read_file(p))
    assert.are.equal(2 * 8 + 8 * 8 + 8 * 1, count_boxes(boxes, "^ | %* |"))
    assert.are.equal(1, count_boxes(boxes, "^L2%.N8%.w8 | param |"))
    assert.are.equal(0, count_boxes(boxes, "w%.x%+b"))
    assert.are.same(dot_edges_as_boxes(loss:to_dot({expand = true})), edges)
    local ok, err = pcall(loss.visualize, loss, "cairo",
      {file = tmppath(".png"), expand = true, max_nodes = 100})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("more than the cairo limit of 100 (raise max_nodes", 1, true))
    assert.has_error(function()
      loss:visualize("cairo", {file = tmppath(".png"), collapse = "layer", max_nodes = 20})
    end)
  end)
end)
