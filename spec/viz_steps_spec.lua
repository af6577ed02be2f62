-- spec/viz_steps_spec.lua -- the step-by-step backward view
-- (e:visualize("cairo", {steps = true}) and {frames = dir}), checked on the
-- files it writes: page and frame counts, each frame's caption against
-- e:explain() (the engine's order and numbers), gradients left alone.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local E = torchlet.Element

local tmppath, cleanup = helpers.temp_paths()
local slurp, exists = helpers.read_file, helpers.exists

-- Pages of a PDF: its page objects ("/Type /Page", not "/Pages"); cairo
-- writes them uncompressed.  (No pdfinfo on CI.)
local function pdf_pages(path)
  local n = 0
  for _ in slurp(path):gmatch("/Type%s*/Page[^s]") do n = n + 1 end
  return n
end

local function png_size(path)
  local s = slurp(path)
  assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8))
  return helpers.be32x2(s, 17)
end

-- A fresh directory for frames (removed with its frames by teardown).
local dirs = {}
local function tmpdir()
  local d = tmppath("")
  assert(os.execute("mkdir -p '" .. d .. "'"))
  dirs[#dirs + 1] = d
  return d
end

-- The caption of an SVG frame: its title and lines (the XML comment the
-- view appends; "--" reads "-~" there).
local function caption(path)
  local body = slurp(path):match("<!%-%- torchlet step caption:\n(.-)\n%-%->")
  assert(body, "no caption in " .. path)
  local lines = {}
  for l in (body .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  return table.remove(lines, 1), lines
end

local function frame(dir, k, ext)
  return ("%s/step-%03d.%s"):format(dir, k, ext)
end

local function abcd()
  local a, b = E(2.0, "a"), E(3.0, "b")
  local c = a * b
  c.label = "c"
  local d = c + a
  d.label = "d"
  return d, a, b, c
end

local function lines_of(text)
  local out = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = l end
  return out
end

describe("the step-by-step backward view", function()
  teardown(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end
    cleanup()
  end)

  it("writes the a/b/c/d pass as a PDF, a page per step", function()
    local d, a, b = abcd()
    local p = tmppath(".pdf")
    local path, n = d:visualize("cairo", {steps = true, file = p})
    assert.are.equal(p, path)
    assert.are.equal(3, n)               -- the seed, d (add), c (mul)
    assert.are.equal(3, pdf_pages(p))
    assert.are.equal("%PDF", slurp(p):sub(1, 4))
    assert.are.same({0, 0}, {a.grad, b.grad})   -- a view: nothing accumulates
    -- a plain picture is still one page
    local one = tmppath(".pdf")
    d:visualize("cairo", {file = one})
    assert.are.equal(1, pdf_pages(one))
  end)

  it("captions each a/b/c/d frame with its step's chain rule in numbers", function()
    local d = abcd()
    local dir = tmpdir()
    local path, n = d:visualize("cairo", {frames = dir, format = "svg"})
    assert.are.equal(dir, path)
    assert.are.equal(3, n)
    assert.is_false(exists(frame(dir, 4, "svg")))
    local want = {
      {"Backward, step 1 of 3: the seed at d", {"d.grad = 1 (the seed)"}},
      {"Backward, step 2 of 3: d (add) passes its gradient to its inputs",
       {"c.grad += d.grad = 1", "a.grad += d.grad = 1"}},
      {"Backward, step 3 of 3: c (mul) passes its gradient to its inputs",
       {"a.grad += c.grad * b.data = 1 * 3 = 3 (a.grad now 4)",
        "b.grad += c.grad * a.data = 1 * 2 = 2"}},
    }
    for k = 1, 3 do
      local title, lines = caption(frame(dir, k, "svg"))
      assert.are.equal(want[k][1], title)
      assert.are.same(want[k][2], lines)
    end
    -- gradients known so far are filled in, the rest blank: after step 2,
    -- c and a hold 1, b nothing yet
    local svg2 = slurp(frame(dir, 2, "svg"))
    assert.truthy(svg2:find("c | * | data 6.0000 | grad 1.0000", 1, true))
    assert.truthy(svg2:find("a | input | data 2.0000 | grad 1.0000", 1, true))
    assert.truthy(svg2:find("b | input | data 3.0000 | grad\n", 1, true))
    local svg3 = slurp(frame(dir, 3, "svg"))
    assert.truthy(svg3:find("a | input | data 2.0000 | grad 4.0000", 1, true))
    assert.truthy(svg3:find("b | input | data 3.0000 | grad 2.0000", 1, true))
  end)

  it("follows a small MLP in the engine's order: frames = explain's steps", function()
    torchlet.manual_seed(3)
    local model = torchlet.nn.MLP(2, {3, 2, 1}, {activation = "tanh"})
    local loss = (model({E(0.5, "x1"), E(-1.5, "x2")}) - 1) ^ 2
    loss.label = "loss"
    local dir = tmpdir()
    local _, n = loss:visualize("cairo", {frames = dir, format = "svg"})
    -- one step per op result plus the seed
    local ops, seen, stack = 0, {}, {loss}
    while #stack > 0 do
      local x = table.remove(stack)
      if not seen[x] then
        seen[x] = true
        local kids = x:children()
        if #kids > 0 then ops = ops + 1 end
        for _, k in ipairs(kids) do stack[#stack + 1] = k end
      end
    end
    -- (the same node reached twice is two userdata here, so count by
    -- explain's steps instead, which the order spec checks)
    local text = loss:explain()
    local all = {}
    for k = 1, n do
      local title, lines = caption(frame(dir, k, "svg"))
      assert.truthy(title:find(("step %d of %d"):format(k, n), 1, true), title)
      for _, l in ipairs(lines) do all[#all + 1] = l end
    end
    assert.are.same(lines_of(text), all)
    assert.is_true(n >= 2 and n <= ops + 1, n .. " steps, " .. ops .. " op results")
    -- PNG frames: one size for every step (the layout does not move)
    local pdir = tmpdir()
    local _, pn = loss:visualize("cairo", {frames = pdir})
    assert.are.equal(n, pn)
    local w1, h1 = png_size(frame(pdir, 1, "png"))
    local wn, hn = png_size(frame(pdir, n, "png"))
    assert.are.same({w1, h1}, {wn, hn})
    -- and as one PDF
    local p = tmppath(".pdf")
    loss:visualize("cairo", {steps = true, file = p})
    assert.are.equal(n, pdf_pages(p))
  end)

  it("refuses what it cannot draw, naming the option", function()
    local d = abcd()
    assert.has_error(function() d:visualize("graphviz", {steps = true}) end,
      "bad argument #2 to 'visualize' (options 'steps' and 'frames' are drawn by the cairo method)")
    assert.has_error(function() d:visualize("cairo", {frames = tmpdir(), file = "a.png"}) end,
      "bad argument #2 to 'visualize' (option 'frames' names a directory; 'file' is for one picture (with 'steps', one PDF))")
    assert.has_error(function() d:visualize("cairo", {steps = true, file = tmppath(".png")}) end,
      "steps: one file holds every step only as pdf (a page each); frames write png or svg files")
    assert.has_error(function() d:visualize("cairo", {steps = "yes"}) end)
    local missing = tmppath("") .. "/no/such/dir"
    assert.error_matches(function() d:visualize("cairo", {frames = missing}) end,
      "no/such/dir/step%-001%.png")
    local big = E(1, "x")
    for _ = 2, 50 do big = big * 1.0001 end
    assert.has_error(function()
      big:visualize("cairo", {steps = true, file = tmppath(".pdf"), max_nodes = 20})
    end, "graph has 50 nodes, more than the cairo limit of 20 (raise max_nodes to draw it anyway)")
    local A = E({1, 2})
    assert.error_matches(function() (A * 2):visualize("cairo", {steps = true, file = tmppath(".pdf")}) end,
      "steps: the root is an array of shape %(2%)")   -- not "explain:"
  end)
end)
