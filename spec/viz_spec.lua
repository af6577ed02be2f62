-- viz_spec.lua -- the graph views and plots, checked on the files they write.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local Element = torchlet.Element

-- {====================================================================
-- Helpers
-- =====================================================================

local tmppath, cleanup, track = helpers.temp_paths()

local slurp, exists = helpers.read_file, helpers.exists

-- Width and height from a PNG's IHDR chunk (fails if not a PNG).
local function png_size(path)
  local s = slurp(path)
  assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8))
  assert.are.equal("IHDR", s:sub(13, 16))
  return helpers.be32x2(s, 17)
end

-- The a/b/c/d example of the README, after backward.
local function abcd()
  local a, b = Element(2.0, "a"), Element(3.0, "b")
  local c = a * b
  c.label = "c"
  local d = c + a
  d.label = "d"
  d:backward()
  return d, {a, b, c, d}
end

-- A chain x -> x*1.0001 -> ... of 'n' values.
local function chain(n)
  local x = Element(1.0, "x")
  for _ = 2, n do x = x * 1.0001 end
  return x
end

-- A wide graph like a layer over a batch: 't' products x[i] * w[i % nw]
-- summed pairwise, 3t + nw - 1 values.
local function wide(t, nw)
  local w, terms = {}, {}
  for j = 1, nw do w[j] = Element(0.01 * j, "w" .. j) end
  for i = 1, t do terms[i] = Element(1.0) * w[i % nw + 1] end
  while #terms > 1 do
    local next_terms = {}
    for i = 1, #terms - 1, 2 do next_terms[#next_terms + 1] = terms[i] + terms[i + 1] end
    if #terms % 2 == 1 then next_terms[#next_terms + 1] = terms[#terms] end
    terms = next_terms
  end
  return terms[1]
end

-- }====================================================================

describe("graphviz view", function()
  after_each(cleanup)

  it("gives the DOT of a/b/c/d with exactly its nodes and edges", function()
    local d = abcd()
    local dot = d:to_dot()
    assert.truthy(dot:find("rankdir=LR", 1, true))
    -- name -> label, where a record's label is its first field
    local label = {}
    for name, l in dot:gmatch('\n%s*([%w_]+)%s+%[label="(.-)"') do
      if name ~= "node" then label[name] = l:match("^{ (%w*) |") or l end  -- not the default
    end
    local names = {}
    for _, l in pairs(label) do names[#names + 1] = l end
    table.sort(names)
    assert.are.same({"*", "+", "a", "b", "c", "d"}, names)
    local edges = {}
    for t, h in dot:gmatch("([%w_]+) %-> ([%w_]+)") do
      edges[#edges + 1] = label[t] .. " -> " .. label[h]
    end
    table.sort(edges)
    assert.are.same({"* -> c", "+ -> d", "a -> *", "a -> +", "b -> *",
                     "c -> +"}, edges)
    assert.truthy(dot:find("{ a | data 2.0000 | grad 4.0000 }", 1, true))
    assert.truthy(dot:find("{ d | data 8.0000 | grad 1.0000 }", 1, true))
  end)

  it("writes a PNG of plausible size and returns its path", function()
    local d = abcd()
    local p = tmppath(".png")
    assert.are.equal(p, d:visualize("graphviz", {file = p}))
    local w, h = png_size(p)
    assert.is_true(w > 400 and w < 3000, "width " .. w)
    assert.is_true(h > 50 and h < 1000, "height " .. h)
    assert.is_true(w > h)            -- left to right
  end)

  it("writes SVG with every label, data and grad", function()
    local d, all = abcd()
    local p = tmppath(".svg")
    d:visualize("graphviz", {file = p})
    local svg = slurp(p)
    assert.truthy(svg:find("<svg", 1, true))
    for _, e in ipairs(all) do
      assert.truthy(svg:find(">" .. e.label .. "<", 1, true), e.label)
      assert.truthy(svg:find(("data %.4f"):format(e.data), 1, true))
      assert.truthy(svg:find(("grad %.4f"):format(e.grad), 1, true))
    end
  end)

  it("writes PDF and DOT, by extension or by opts.format", function()
    local d = abcd()
    local p = tmppath(".pdf")
    d:visualize("graphviz", {file = p})
    assert.are.equal("%PDF", slurp(p):sub(1, 4))
    local q = tmppath(".out")
    d:visualize("graphviz", {file = q, format = "dot"})
    assert.are.equal(d:to_dot(), slurp(q))
  end)

  it("draws labels with record characters as written", function()
    local x = Element(1.0, "w{1}|<b>")
    local y = x * 2
    local p = tmppath(".svg")
    y:visualize("graphviz", {file = p})
    assert.truthy(slurp(p):find("w{1}|&lt;b&gt;", 1, true))
  end)
end)

describe("cairo view", function()
  after_each(cleanup)

  it("is the default method, also for nil, with default file names", function()
    local d = abcd()
    track("graph.png")
    track("graph.svg")
    track("Digraph.gv.png")
    assert.are.equal("graph.png", d:visualize())
    png_size("graph.png")
    os.remove("graph.png")
    assert.are.equal("graph.png", d:visualize(nil, {}))
    png_size("graph.png")
    assert.are.equal("graph.svg", d:visualize(nil, {format = "svg"}))
    assert.truthy(slurp("graph.svg"):find("<svg", 1, true))
    assert.are.equal("Digraph.gv.png", d:visualize("graphviz"))
    png_size("Digraph.gv.png")
  end)

  it("writes a PNG of plausible size", function()
    local d = abcd()
    local p = tmppath(".png")
    d:visualize("cairo", {file = p})
    local w, h = png_size(p)
    assert.is_true(w > 300 and w < 4000, "width " .. w)
    assert.is_true(h > 100 and h < 2000, "height " .. h)
  end)

  it("writes SVG with every label, op, data and grad", function()
    local d, all = abcd()
    local p = tmppath(".svg")
    d:visualize("cairo", {file = p})
    local svg = slurp(p)
    assert.truthy(svg:find("<svg", 1, true))
    assert.truthy(svg:find("<path", 1, true))
    local ops = {a = "input", b = "input", c = "*", d = "+"}
    for _, e in ipairs(all) do
      local line = ("%s | %s | data %.4f | grad %.4f"):format(
        e.label, ops[e.label], e.data, e.grad)
      assert.truthy(svg:find(line, 1, true), line)
    end
  end)

  it("draws parameters apart from inputs", function()
    local w, x = Element(0.5, "w"), Element(2.0, "x")
    local y = w * x
    local p = tmppath(".svg")
    y:visualize("cairo", {file = p, params = {w}})
    local svg = slurp(p)
    assert.truthy(svg:find("w | param | data 0.5000", 1, true))
    assert.truthy(svg:find("x | input | data 2.0000", 1, true))
    assert.has_error(function() y:visualize("cairo", {params = {w, 3}}) end,
      "bad argument #2 to 'visualize' (option 'params': Element expected at index 2)")
  end)

  it("draws labels that are not UTF-8 with U+FFFD, and cuts long ones", function()
    local x = Element(1.0, "caf\233")
    local y = x * 2
    y.label = string.rep("\195\169", 30)        -- 30 two-byte characters
    local p = tmppath(".svg")
    y:visualize("cairo", {file = p})
    local svg = slurp(p)
    assert.truthy(svg:find("caf\239\191\189 | input", 1, true))
    assert.truthy(svg:find(string.rep("\195\169", 24) .. "... | * 2", 1, true))
  end)

  it("writes PDF, and refuses DOT", function()
    local d = abcd()
    local p = tmppath(".pdf")
    d:visualize("cairo", {file = p})
    assert.are.equal("%PDF", slurp(p):sub(1, 4))
    assert.has_error(function() d:visualize("cairo", {file = tmppath(".dot")}) end,
      "bad argument #2 to 'visualize' (format 'dot' is for the graphviz method "
      .. "(cairo draws png, svg or pdf))")
  end)

  it("draws a 5,000-node graph when the limit is raised", function()
    local sum = wide(1650, 51)
    local p = tmppath(".svg")
    assert.has_error(function() sum:visualize("cairo", {file = p}) end,
      "graph has 5000 nodes, more than the cairo limit of 2000 "
      .. "(raise max_nodes to draw it anyway)")
    assert.is_false(exists(p))
    sum:visualize("cairo", {file = p, max_nodes = 5000})
    assert.truthy(slurp(p):find("data 1.0000", 1, true))
  end)
end)

describe("array Elements", function()
  after_each(cleanup)

  it("are drawn by shape, mean and gradient norm in both views", function()
    local W = Element({{0.5, -1.0}, {2.0, 0.25}}, "W")
    local x = Element({1.0, 2.0}, "x")
    local loss = W:matmul(x):sum()
    loss.label = "loss"
    local dot = loss:to_dot()
    assert.truthy(dot:find("{ W | data (2, 2) mean 0.4375 | grad none }", 1, true))
    loss:backward()
    -- d loss / d W = [x, x]: norm sqrt(2 * (1 + 4))
    local norm = ("%.4g"):format(math.sqrt(10))
    dot = loss:to_dot()
    assert.truthy(dot:find("{ W | data (2, 2) mean 0.4375 | grad \\|g\\| "
                           .. norm .. " }", 1, true))
    assert.truthy(dot:find("{ loss | data 1.0000 | grad 1.0000 }", 1, true))
    local p = tmppath(".svg")
    loss:visualize("cairo", {file = p, params = {W}})
    local svg = slurp(p)
    assert.truthy(svg:find("W | param | data (2, 2) mean 0.4375 | grad |g| "
                           .. norm, 1, true))
    assert.truthy(svg:find("x | input | data (2) mean 1.5 | grad |g| ", 1, true))
    local q = tmppath(".svg")
    loss:visualize("graphviz", {file = q})
    assert.truthy(slurp(q):find("grad |g| " .. norm, 1, true))
  end)
end)

describe("bad input", function()
  after_each(cleanup)

  for _, method in ipairs({"graphviz", "cairo"}) do
    it("names an unwritable path (" .. method .. ")", function()
      local d = abcd()
      assert.has_error(function()
        d:visualize(method, {file = "/nonexistent/dir/x.png"})
      end, "cannot write '/nonexistent/dir/x.png': No such file or directory")
    end)

    it("leaves no file behind and keeps an old one (" .. method .. ")", function()
      local p = tmppath(".png")
      local f = assert(io.open(p, "wb"))
      f:write("old")
      f:close()
      local big = chain(3000)
      assert.has_error(function()
        big:visualize(method, {file = p, max_nodes = 100})
      end)
      assert.are.equal("old", slurp(p))
      assert.are.same({}, helpers.temporaries(p))
      local q = tmppath(".svg")
      assert.has_error(function() big:visualize(method, {file = q, max_nodes = 100}) end)
      assert.is_false(exists(q))
      assert.are.same({}, helpers.temporaries(q))
    end)

    it("rejects an unknown format (" .. method .. ")", function()
      local d = abcd()
      local p = tmppath(".bmp")
      assert.has_error(function() d:visualize(method, {file = p}) end,
        "bad argument #2 to 'visualize' (option 'file': cannot tell the format of '"
        .. p .. "' from its extension (.png, .svg, .pdf or .dot expected; or give a format))")
      assert.has_error(function() d:visualize(method, {format = "gif"}) end,
        "bad argument #2 to 'visualize' (option 'format': unknown format 'gif' "
        .. "(png, svg, pdf or dot expected))")
      assert.is_false(exists(p))
    end)
  end

  it("rejects an unknown method", function()
    local d = abcd()
    assert.has_error(function() d:visualize("matplotlib") end,
      "bad argument #1 to 'visualize' (unknown method 'matplotlib' "
      .. "(\"cairo\", \"graphviz\" or \"html\" expected))")
    assert.has_error(function() d:visualize({}) end,
      "bad argument #1 to 'visualize' (string or nil expected, got table)")
    assert.has_error(function() d:visualize("cairo", 42) end,
      "bad argument #2 to 'visualize' (table or nil expected, got number)")
  end)

  -- issue 11: {fiel = "a.png"} used to write graph.png without a word
  it("rejects unknown options, naming the known ones", function()
    local d = abcd()
    for _, method in ipairs({"cairo", "graphviz"}) do
      assert.has_error(function() d:visualize(method, {fiel = "a.png"}) end,
        "bad argument #2 to 'visualize' (unknown option 'fiel'; known: file, format, "
        .. "max_nodes, params, steps, frames, collapse, expand, expand_layers)")
    end
    assert.has_error(function() torchlet.visualize(d, "cairo", {maxnodes = 5}) end,
      "bad argument #3 to 'visualize' (unknown option 'maxnodes'; known: file, format, "
      .. "max_nodes, params, steps, frames, collapse, expand, expand_layers)")
    assert.has_error(function() d:to_dot({file = "d.dot"}) end,
      "bad argument #1 to 'to_dot' (unknown option 'file'; known: collapse, expand, "
      .. "expand_layers)")
    assert.has_error(function() torchlet.to_dot(d, 5) end,
      "bad argument #2 to 'to_dot' (table or nil expected, got number)")
    assert.are.equal(d:to_dot(), d:to_dot({}))
    assert.has_error(function() d:visualize("cairo", {[1] = "a.png"}) end,
      "bad argument #2 to 'visualize' (option names must be strings, got a number)")
    assert.has_error(function() d:visualize("cairo", {max_nodes = 0}) end,
      "bad argument #2 to 'visualize' (option 'max_nodes' must be a positive integer, got 0)")
    assert.has_error(function() d:visualize("cairo", {file = "a\0.png"}) end,
      "bad argument #2 to 'visualize' (option 'file' contains a NUL byte)")
  end)

  it("reads options raw: an __index is not an option", function()
    local d = abcd()
    local p = tmppath(".svg")
    -- before, lua_getfield saw format = "gif" through __index and refused it
    local opts = setmetatable({file = p}, {__index = {format = "gif"}})
    assert.are.equal(p, d:visualize("cairo", opts))
    assert.truthy(slurp(p):find("<svg", 1, true))
  end)

  it("rejects a non-Element", function()
    assert.has_error(function() torchlet.visualize({}, "graphviz") end,
      "bad argument #1 to 'visualize' (Element expected, got table)")
    assert.has_error(function() torchlet.to_dot(42) end,
      "bad argument #1 to 'to_dot' (Element expected, got number)")
  end)

  it("refuses a big graph naming the limit and the option", function()
    local big = chain(5000)
    assert.has_error(function()
      big:visualize("graphviz", {file = tmppath(".png")})
    end, "graph has 5000 nodes, more than the graphviz limit of 1000 "
      .. "(raise max_nodes to draw it anyway)")
  end)
end)

describe("plots", function()
  local plot = torchlet.plot
  after_each(cleanup)

  local function moons(n)
    local X, y, pts = {}, {}, {}
    for i = 1, n do
      local half = math.floor(n / 2)
      local t = math.pi * (i % half) / half
      local c = i <= half and 1 or -1
      local a = c == 1 and math.cos(t) or 1 - math.cos(t)
      local b = c == 1 and math.sin(t) or 0.5 - math.sin(t)
      X[i], y[i], pts[i] = {a, b}, c, {a, b, c}
    end
    return X, y, pts
  end

  it("draws line plots of several series to PNG, SVG and PDF", function()
    local tr, va = {}, {}
    for i = 1, 50 do tr[i] = 1 / i; va[i] = Element(1.2 / i) end
    local series = {{name = "train", y = tr}, {name = "val", y = va}}
    local p = tmppath(".png")
    assert.are.equal(p, plot.line(series, {title = "Loss", xlabel = "step",
                                           ylabel = "loss", file = p}))
    local w, h = png_size(p)
    assert.are.equal(1280, w)    -- 640 x 420 points at 2 pixels a point
    assert.are.equal(840, h)
    local q = tmppath(".svg")
    plot.line({3, 2, 1.5, 1}, {file = q, width = 300, height = 200})
    assert.truthy(slurp(q):find('width="300pt" height="200pt"', 1, true))
    local r = tmppath(".pdf")
    plot.line(series, {file = r})
    assert.are.equal("%PDF", slurp(r):sub(1, 4))
  end)

  it("draws scatter plots with classes", function()
    local _, _, pts = moons(40)
    local p = tmppath(".png")
    assert.are.equal(p, plot.scatter(pts, {title = "moons", file = p}))
    local w, h = png_size(p)
    assert.are.equal(1280, w)
    assert.are.equal(840, h)
  end)

  it("draws a decision boundary of any callable", function()
    local X, y = moons(30)
    local calls = 0
    local model = function(x)
      calls = calls + 1
      assert.is_false(torchlet.is_grad_enabled())
      return Element(x[2]) - 0.25
    end
    local p = tmppath(".png")
    assert.are.equal(p, plot.decision_boundary(model, X, y,
                                               {resolution = 20, file = p}))
    assert.are.equal(400, calls)
    assert.is_true(torchlet.is_grad_enabled())
    png_size(p)
    local callable = setmetatable({}, {__call = function(_, x) return x[1] end})
    local q = tmppath(".svg")
    plot.decision_boundary(callable, X, y, {resolution = 10, file = q})
    assert.truthy(slurp(q):find("<svg", 1, true))
  end)

  it("rejects bad input with errors naming the problem", function()
    local X, y = moons(10)
    assert.has_error(function() plot.decision_boundary(42, X, y) end,
      "bad argument #1 to 'decision_boundary' (callable model expected, got number)")
    assert.has_error(function()
      plot.decision_boundary(function() return 1 end, X, {1, -1})
    end, "bad argument #3 to 'decision_boundary' (2 classes for 10 points)")
    assert.has_error(function()
      plot.decision_boundary(function() return "x" end, X, y, {resolution = 2})
    end, "decision_boundary: the model returned string, not an Element or a number")
    assert.has_error(function() plot.line({1, 2}, {format = "gif"}) end,
      "bad argument #2 to 'line' (option 'format': unknown format 'gif' "
      .. "(png, svg, pdf or dot expected))")
    assert.has_error(function() plot.line({1, 2}, {format = "dot"}) end,
      "bad argument #2 to 'line' (format 'dot' is not a plot format (png, svg or pdf))")
    assert.has_error(function() plot.line({1, 2}, {file = "/nonexistent/dir/x.png"}) end,
      "cannot write '/nonexistent/dir/x.png': No such file or directory")
    local p = tmppath(".png")
    assert.has_error(function() plot.line({0 / 0, 1 / 0}, {file = p}) end,
      "plot: no finite point to draw")
    assert.is_false(exists(p))
    assert.has_error(function() plot.line({1, "2"}) end,
      "bad argument #1 to 'line' (series: number expected at index 2, got string)")
    -- fails while drawing, after the temporary file was made: it is removed
    assert.has_error(function() plot.line({1, 2}, {title = "\255", file = p}) end,
      "plot: the title, axis labels and series names must be valid UTF-8")
    assert.is_false(exists(p))
    assert.are.same({}, helpers.temporaries(p))
    local f = assert(io.open(p, "wb"))
    f:write("old")
    f:close()
    assert.has_error(function() plot.line({1, 2}, {title = "\255", file = p}) end)
    assert.are.equal("old", slurp(p))
    assert.are.same({}, helpers.temporaries(p))
    assert.has_error(function() plot.scatter({{1, 2}, {3}}) end,
      "bad argument #1 to 'scatter' (point 2: numbers expected)")
    assert.has_error(function() plot.scatter({{1, 2, 1}, {3, 4}}) end,
      "bad argument #1 to 'scatter' (give a class to every point or to none)")
  end)

  -- issue 11: unknown options of every plot function are errors
  it("rejects unknown options of every plot function", function()
    local X, y = moons(10)
    local known = "known: title, xlabel, ylabel, width, height, file, format"
    assert.has_error(function() plot.line({1, 2}, {fiel = "a.png"}) end,
      "bad argument #2 to 'line' (unknown option 'fiel'; " .. known .. ", xlog, ylog)")
    assert.has_error(function() plot.scatter({{1, 2}}, {tittle = "x"}) end,
      "bad argument #2 to 'scatter' (unknown option 'tittle'; " .. known .. ")")
    assert.has_error(function()
      plot.decision_boundary(function() return 1 end, X, y, {resolutoin = 10})
    end, "bad argument #4 to 'decision_boundary' (unknown option 'resolutoin'; "
      .. known .. ", resolution, margin)")
    assert.has_error(function() plot.line({1, 2}, {title = 5}) end,
      "bad argument #2 to 'line' (option 'title' must be a string, got number)")
    assert.has_error(function() plot.line({1, 2}, {width = "wide"}) end,
      "bad argument #2 to 'line' (option 'width' must be a number, got string)")
    assert.has_error(function() plot.line(5) end,
      "bad argument #1 to 'line' (table of numbers or of series expected, got number)")
    assert.has_error(function() plot.scatter("points") end,
      "bad argument #1 to 'scatter' (table of points expected, got string)")
    -- read raw: neither the model's options nor the C part see an __index
    local q = tmppath(".svg")
    local opts = setmetatable({file = q, resolution = 4},
                              {__index = {format = "gif", margin = -1}})
    assert.are.equal(q, plot.decision_boundary(function() return 1 end, X, y, opts))
    assert.truthy(slurp(q):find("<svg", 1, true))
  end)
end)

describe("DOT text", function()
  it("escapes quotes once, so graphviz's dot reads it back", function()
    local e = torchlet.Element(1, 'say "hi"') * 2
    local dot = e:to_dot()
    assert.is_truthy(dot:find('say \\"hi\\"', 1, true))
    assert.is_falsy(dot:find('\\\\"', 1, true))
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(dot)
    f:close()
    local ok = helpers.run("dot -Tplain " .. path .. " > /dev/null")
    os.remove(path)
    assert.is_true(ok)
  end)
end)
