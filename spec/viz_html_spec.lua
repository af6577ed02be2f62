-- spec/viz_html_spec.lua -- the interactive page, e:visualize("html"):
-- the file (self-contained, written whole, its step data the engine's own
-- trace, bad options refused), then the page itself in a real headless
-- browser, Debian's chromium (./setup.sh test installs it): the step a URL
-- fragment selects, its caption and gradients, keys and buttons.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local json = require "dkjson"
local E = torchlet.Element

local tmppath, cleanup = helpers.temp_paths()
local slurp, exists = helpers.read_file, helpers.exists

local function abcd()
  local a, b = E(2.0, "a"), E(3.0, "b")
  local c = a * b
  c.label = "c"
  local d = c + a
  d.label = "d"
  return d, a, b, c
end

local function small_mlp()
  torchlet.manual_seed(3)
  local model = torchlet.nn.MLP(2, {3, 2, 1}, {activation = "tanh"})
  local loss = (model({E(0.5, "x1"), E(-1.5, "x2")}) - 1) ^ 2
  loss.label = "loss"
  return loss, model
end

local function lines_of(text)
  local out = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = l end
  return out
end

-- The page's step data: the JSON block the script replays.
local function page_data(page)
  local block = page:match('<script type="application/json" id="tl%-data">(.-)</script>')
  assert(block, "no data block")
  local data, _, err = json.decode(block)
  assert(data, err)
  return data
end

-- The caption of an SVG frame of the cairo step-by-step view (its title
-- and lines, from the XML comment it ends with; "--" reads "-~" there).
local function cairo_captions(e)
  local dir = tmppath("")
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local _, n = e:visualize("cairo", {frames = dir, format = "svg"})
  local caps = {}
  for k = 1, n do
    local body = slurp(("%s/step-%03d.svg"):format(dir, k))
      :match("<!%-%- torchlet step caption:\n(.-)\n%-%->")
    local lines = lines_of(body:gsub("%-~", "--"))
    caps[k] = {title = table.remove(lines, 1), lines = lines}
  end
  os.execute("rm -rf '" .. dir .. "'")
  return caps, n
end

describe("the interactive page", function()
  after_each(cleanup)

  it("writes one self-contained HTML file", function()
    local d, a, b = abcd()
    local p = tmppath(".html")
    local path, n = d:visualize("html", {file = p})
    assert.are.equal(p, path)
    assert.are.equal(3, n)                 -- the seed, d (add), c (mul)
    local page = slurp(p)
    assert.are.equal("<!DOCTYPE html>\n", page:sub(1, 16))
    assert.truthy(page:find('data-steps="3"', 1, true))
    assert.truthy(page:find("<svg", 1, true))
    assert.falsy(page:find("<?xml", 1, true))     -- graphviz's prolog is cut
    -- nothing fetched: no src or href, no stylesheet link, import or url();
    -- the only addresses are the SVG namespace names, which load nothing
    assert.falsy(page:find("[%s\"']src%s*="))
    assert.falsy(page:find("href%s*="))
    assert.falsy(page:find("<link", 1, true))
    assert.falsy(page:find("@import", 1, true))
    assert.falsy(page:find("url(", 1, true))
    local bare = page:gsub('xmlns:?%w*="[^"]*"', "")
    assert.falsy(bare:find("https?://"))
    local scripts = 0
    for tag in page:gmatch("<script[^>]*>") do
      scripts = scripts + 1
      assert.falsy(tag:find("src", 1, true))
    end
    assert.are.equal(2, scripts)           -- the data and the script
    -- a view: no gradient accumulates
    assert.are.same({0, 0}, {a.grad, b.grad})
    -- the default file name
    local dir = tmppath("")
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local ok, out = helpers.run(("cd '%s' && %s -e 'package.path=%q package.cpath=%q "
      .. "local t = require [[torchlet]] local x = t.Element(2, [[x]]) "
      .. "print((x * x):visualize([[html]]))'"):format(dir, helpers.lua,
      helpers.absolute_paths(package.path), helpers.absolute_paths(package.cpath)))
    assert(ok, out)
    assert.are.equal("graph.html\t2\n", out)
    assert.is_true(exists(dir .. "/graph.html"))
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("holds the engine's steps: explain's lines, the cairo view's titles", function()
    for _, e in ipairs({(abcd()), (small_mlp())}) do
      local p = tmppath(".html")
      local _, n = e:visualize("html", {file = p})
      local data = page_data(slurp(p))
      assert.are.equal(n, #data.steps)
      local caps, nc = cairo_captions(e)
      assert.are.equal(nc, n)
      local all = {}
      for k, s in ipairs(data.steps) do
        assert.are.equal(caps[k].title, s.t)
        assert.are.same(caps[k].lines, lines_of(s.x))
        all[#all + 1] = s.x
      end
      assert.are.equal(e:explain(), table.concat(all, "\n"))
    end
  end)

  it("makes each step's gradients known, as backward does", function()
    local d = abcd()
    local p = tmppath(".html")
    d:visualize("html", {file = p})
    local data = page_data(slurp(p))
    local function name(i) return data.nodes[i + 1].name end
    local got = {}
    for k, s in ipairs(data.steps) do
      local g = {}
      for _, pair in ipairs(s.g) do g[#g + 1] = name(pair[1]) .. " " .. pair[2] end
      got[k] = {name(s.n), g}
    end
    assert.are.same({
      {"d", {"d grad 1.0000"}},
      {"d", {"c grad 1.0000", "a grad 1.0000"}},
      {"c", {"a grad 4.0000", "b grad 2.0000"}},
    }, got)
    -- what hover and click show: the op and its rule, its inputs, its step
    local c
    for _, node in ipairs(data.nodes) do if node.name == "c" then c = node end end
    assert.are.same({"mul", "$g * $b; $g * $a", {"a", "b"}, 3, "result"},
                    {c.op, c.rule, c.inputs, c.step, c.kind})
    assert.are.equal("data 6.0000", c.data)
  end)

  it("names values without labels as the captions do, in the SVG too", function()
    local x = E(2.0)
    local y = (x * x + 1):tanh()
    local p = tmppath(".html")
    y:visualize("html", {file = p})
    local page = slurp(p)
    local data = page_data(page)
    local names = {}
    for _, node in ipairs(data.nodes) do names[#names + 1] = node.name end
    assert.are.same({"leaf#1", "mul#2", "add#3", "tanh#4"}, names)
    for _, nm in ipairs(names) do
      assert.truthy(page:find(">" .. nm .. "</text>", 1, true), nm)
    end
    assert.truthy(y:explain():find("mul#2.grad += add#3.grad", 1, true))
  end)

  it("keeps labels from ending the script or breaking the text", function()
    local a = E(2.0, "</script><script>alert(1)</script>")
    local b = E(3.0, "bad \255 byte & <tag>")
    local c = a * b
    local p = tmppath(".html")
    c:visualize("html", {file = p})
    local page = slurp(p)
    local closes = 0
    for _ in page:gmatch("</script>") do closes = closes + 1 end
    assert.are.equal(2, closes)
    local data = page_data(page)
    assert.are.equal("</script><script>alert(1)</script>", data.nodes[1].name)
    assert.are.equal("bad \239\191\189 byte & <tag>", data.nodes[2].name)
  end)

  it("refuses bad options, unknown keys included", function()
    local d = abcd()
    local p = tmppath(".html")
    assert.has_error(function() d:visualize("html", {fiel = p}) end,
      "bad argument #2 to 'visualize' (unknown option 'fiel'; known: file, "
      .. "max_nodes, params)")
    assert.has_error(function() d:visualize("html", {file = p, steps = true}) end,
      "bad argument #2 to 'visualize' (unknown option 'steps'; known: file, "
      .. "max_nodes, params)")
    assert.has_error(function() d:visualize("html", {file = p, format = "svg"}) end,
      "bad argument #2 to 'visualize' (unknown option 'format'; known: file, "
      .. "max_nodes, params)")
    assert.has_error(function() d:visualize("html", 5) end,
      "bad argument #2 to 'visualize' (table or nil expected, got number)")
    assert.has_error(function() d:visualize("html", {file = 5}) end)
    assert.is_false(exists(p))
  end)

  it("refuses graphs above the limit, naming it and the option", function()
    local loss = small_mlp()
    local p = tmppath(".html")
    helpers.write_file(p, "old")
    local ok, err = pcall(loss.visualize, loss, "html", {file = p, max_nodes = 20})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("more than the html limit of 20 (raise "
      .. "max_nodes to draw it anyway)", 1, true), err)
    -- written whole or not at all: the old file stays, no temporary is left
    assert.are.equal("old", slurp(p))
    assert.are.same({}, helpers.temporaries(p))
    -- and a graph within the limit replaces it whole
    local _, n = loss:visualize("html", {file = p, max_nodes = 1000})
    assert.are.equal(#page_data(slurp(p)).steps, n)
    assert.truthy(slurp(p):find("</html>\n$"))
    assert.are.same({}, helpers.temporaries(p))
  end)

  it("names an unwritable path and refuses roots backward refuses", function()
    local d = abcd()
    assert.has_error(function()
      d:visualize("html", {file = "/nonexistent/dir/x.html"})
    end, "cannot write '/nonexistent/dir/x.html': No such file or directory")
    local p = tmppath(".html")
    -- named as the caller asked ("html"), not as the trace underneath
    assert.has_error(function()
      E({1, 2}):visualize("html", {file = p})
    end, "html: the root is an array of shape (2); backward starts from a scalar (sum it first)")
    local frozen = E(2.0, "x")
    frozen.requires_grad = false
    helpers.fails("html: the root needs no gradient", function()
      (frozen * 3):visualize("html", {file = p})
    end)
    assert.is_false(exists(p))
  end)
end)

-- {== In the browser =========================================================

-- The DOM of the page at 'path' with the URL fragment 'fragment', after
-- its script ran, from chromium --headless --dump-dom.  LD_PRELOAD is
-- dropped: the debug passes preload ASan for lua, not for the browser.
local function browse(path, fragment)
  local profile = tmppath("")
  local cmd = ("env -u LD_PRELOAD chromium --headless --no-sandbox --disable-gpu "
    .. "--disable-background-networking --disable-component-update "
    .. "--disable-sync --no-first-run --user-data-dir='%s' "
    .. "--virtual-time-budget=2000 --dump-dom 'file://%s#%s' 2>/dev/null")
    :format(profile, path, fragment)
  local ok, dom = helpers.run(cmd)
  os.execute("rm -rf '" .. profile .. "'")
  assert(ok, "chromium failed (./setup.sh test installs it): " .. tostring(dom))
  assert(dom:find("</html>", 1, true), "no DOM from chromium: " .. dom)
  return dom
end

local function unescape(s)
  return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"')
           :gsub("&amp;", "&"))
end

local function html_attr(dom, name)
  return dom:match("<html[^>]-%s" .. name .. '="([^"]*)"')
end

local function by_id(dom, tag, id)
  local s = dom:match("<" .. tag .. ' id="' .. id .. '"[^>]*>(.-)</' .. tag .. ">")
  return s and unescape(s)
end

-- The gradient text a value's box shows: the last text of its group.
local function grad_shown(dom, name)
  local group = dom:match("<title>" .. name .. "</title>(.-)</g>")
  assert(group, "no box for " .. name)
  local last
  for t in group:gmatch("<text[^>]*>(.-)</text>") do last = t end
  return last
end

describe("the interactive page in headless chromium", function()
  after_each(cleanup)

  it("shows the step the URL fragment selects: caption and gradients", function()
    local d = abcd()
    local p = tmppath(".html")
    d:visualize("html", {file = p})
    local caps = cairo_captions(d)
    local dom = browse(p, "step=2")
    assert.are.equal("3", html_attr(dom, "data%-steps"))
    assert.are.equal("2", html_attr(dom, "data%-step"))
    assert.are.equal("step 2 of 3", by_id(dom, "span", "pos"))
    assert.are.equal(caps[2].title, by_id(dom, "div", "title"))
    assert.are.equal("c.grad += d.grad = 1\na.grad += d.grad = 1",
                     by_id(dom, "pre", "lines"))
    -- known so far filled in, the rest blank
    assert.are.same({"grad 1.0000", "grad 1.0000", "grad 1.0000", "grad"},
      {grad_shown(dom, "d"), grad_shown(dom, "c"), grad_shown(dom, "a"),
       grad_shown(dom, "b")})
    -- the step's node is highlighted, the done ones marked
    assert.truthy(dom:find('<g id="v%d+" class="node[^"]* hot[^"]*">%s*<title>d</title>'))
    assert.falsy(dom:find('<g id="v%d+" class="node[^"]* hot[^"]*">%s*<title>c</title>'))
  end)

  it("steps with keys and buttons, and shows a value's rule on click", function()
    local d = abcd()
    local p = tmppath(".html")
    d:visualize("html", {file = p})
    -- 0 -> 1 -> 2 -> 3 -> 2 by keys, then next, back, back: step 1
    local dom = browse(p, "step=0&keys=ArrowRight,ArrowRight,ArrowRight,ArrowLeft"
      .. "&click=next,prev,prev&node=3")
    assert.are.equal("1", html_attr(dom, "data%-step"))
    assert.are.equal("Backward, step 1 of 3: the seed at d", by_id(dom, "div", "title"))
    assert.are.equal("d.grad = 1 (the seed)", by_id(dom, "pre", "lines"))
    assert.are.same({"grad 1.0000", "grad", "grad", "grad"},
      {grad_shown(dom, "d"), grad_shown(dom, "c"), grad_shown(dom, "a"),
       grad_shown(dom, "b")})
    -- the value at position 3 (c) picked: its op, rule and step in numbers
    assert.are.equal("3", html_attr(dom, "data%-node"))
    local info = unescape(dom:match('<div id="info">(.-)</div>'))
    assert.truthy(info:find("c = mul(a, b)", 1, true), info)
    assert.truthy(info:find("a.grad += g * b\nb.grad += g * a", 1, true), info)
    assert.truthy(info:find("at step 3 of 3 (not run yet):\n"
      .. "a.grad += c.grad * b.data = 1 * 3 = 3 (a.grad now 4)", 1, true), info)
  end)

  it("walks a small MLP to its last step, gradients as backward leaves them", function()
    local loss, model = small_mlp()
    local p = tmppath(".html")
    local _, n = loss:visualize("html", {file = p, params = model:parameters()})
    local caps = cairo_captions(loss)
    local dom = browse(p, "step=" .. (n + 10))      -- past the end: the last
    assert.are.equal(tostring(n), html_attr(dom, "data%-steps"))
    assert.are.equal(tostring(n), html_attr(dom, "data%-step"))
    assert.are.equal(caps[n].title, by_id(dom, "div", "title"))
    assert.are.same(caps[n].lines, lines_of(by_id(dom, "pre", "lines")))
    loss:backward()
    assert.are.equal(("grad %.4f"):format(loss.grad), grad_shown(dom, "loss"))
    assert.are.equal(1, loss.grad)
  end)
end)

-- }===========================================================================
