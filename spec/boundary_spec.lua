-- spec/boundary_spec.lua -- plot.decision_boundary for k classes: the
-- picture is decoded (spec/support/png.lua) and its colours counted.
local torchlet = require "torchlet"
local png = require "spec.support.png"
local helpers = require "spec.helpers"
local plot, E = torchlet.plot, torchlet.Element

-- matplotlib's tab10, as core/viz/plot.c draws classes 1..10
local palette = {
  {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
  {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
  {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
  {0.090, 0.745, 0.812},
}

-- Pixels of each palette colour in the PNG at 'path': a pixel is white
-- blended with colour c (pale or deep), so 255 - pixel points the way of
-- 1 - c; it counts for the colour whose direction it matches.  Grey (8)
-- is left out: text, axes and grid lines are grey too.
local function count_colours(path)
  local w, h, pixel = png.read(path)
  local dirs = {}
  for k, c in ipairs(palette) do
    local v = {1 - c[1], 1 - c[2], 1 - c[3]}
    local len = math.sqrt(v[1] ^ 2 + v[2] ^ 2 + v[3] ^ 2)
    dirs[k] = {v[1] / len, v[2] / len, v[3] / len}
  end
  local counts, coloured = {}, 0
  for k = 1, #palette do counts[k] = 0 end
  for y = 1, h, 2 do
    for x = 1, w, 2 do
      local r, g, b = pixel(x, y)
      local v = {255 - r, 255 - g, 255 - b}
      local len = math.sqrt(v[1] ^ 2 + v[2] ^ 2 + v[3] ^ 2)
      if len > 40 then                     -- not white or nearly
        coloured = coloured + 1
        for k, d in ipairs(dirs) do
          if k ~= 8 and (v[1] * d[1] + v[2] * d[2] + v[3] * d[3]) / len > 0.998 then
            counts[k] = counts[k] + 1
          end
        end
      end
    end
  end
  return counts, coloured
end

-- Three clusters around these centres, labelled 1, 2, 3.
local centres = {{-2, 0}, {2, 0}, {0, 3}}
local function clusters()
  local X, y = {}, {}
  local g = torchlet.Generator(5)
  for i = 1, 60 do
    local c = (i - 1) % 3 + 1
    X[i] = {centres[c][1] + 0.4 * g:normal(), centres[c][2] + 0.4 * g:normal()}
    y[i] = c
  end
  return X, y
end

-- Scores of a nearest-centre classifier: minus the squared distances.
local function scores(x)
  local s = {}
  for c = 1, #centres do
    s[c] = -((x[1] - centres[c][1]) ^ 2 + (x[2] - centres[c][2]) ^ 2)
  end
  return s
end

describe("plot.decision_boundary with k classes", function()
  local path = os.tmpname() .. ".png"
  after_each(function() os.remove(path) end)
  local small = {width = 240, height = 180, resolution = 30}

  local function draw(model, X, y)
    local opts = {file = path}
    for k, v in pairs(small) do opts[k] = v end
    assert.are.equal(path, plot.decision_boundary(model, X, y, opts))
    return count_colours(path)
  end

  it("paints one colour per class", function()
    local X, y = clusters()
    local counts, coloured = draw(scores, X, y)
    -- the three regions are each a fair part of the picture ...
    for c = 1, 3 do
      assert.is_true(counts[c] > coloured / 8,
        ("class %d: %d of %d coloured pixels"):format(c, counts[c], coloured))
    end
    -- ... and no other colour of the palette appears
    for c = 4, 10 do
      assert.is_true(counts[c] < coloured / 200,
        ("colour %d: %d of %d pixels"):format(c, counts[c], coloured))
    end
  end)

  it("takes the scores as Elements, an array Element or a model's logits", function()
    local X, y = clusters()
    local as_elements = function(x)
      local s = scores(x)
      return {E(s[1]), E(s[2]), s[3]}
    end
    local as_array = function(x) return E({scores(x)}) end
    for _, model in ipairs({as_elements, as_array}) do
      local counts, coloured = draw(model, X, y)
      for c = 1, 3 do assert.is_true(counts[c] > coloured / 8) end
      for c = 4, 10 do assert.is_true(counts[c] < coloured / 200) end
    end
    -- an MLP trained on the clusters: each class gets its region
    torchlet.manual_seed(3)
    local model = torchlet.nn.MLP(2, {8, 3})
    local opt = torchlet.optim.Adam(model:parameters(), {lr = 0.05})
    for _ = 1, 100 do
      opt:zero_grad()
      torchlet.loss.cross_entropy(model(E(X)), y):backward()
      opt:step()
    end
    local counts, coloured = draw(model, X, y)
    for c = 1, 3 do assert.is_true(counts[c] > coloured / 10) end
    for c = 4, 10 do assert.is_true(counts[c] < coloured / 200) end
  end)

  it("still paints two classes by the sign of one score", function()
    local X, y = clusters()
    for i = 1, #y do y[i] = y[i] == 3 and 1 or -1 end
    local counts, coloured = draw(function(x) return x[2] - 1.5 end, X, y)
    assert.is_true(counts[1] > coloured / 4 and counts[2] > coloured / 4)
    for c = 3, 10 do assert.is_true(counts[c] < coloured / 200) end
  end)

  it("refuses classes outside 1..k and models that change their output", function()
    local X, y = clusters()
    y[5] = 4
    helpers.fails("bad argument #3 to 'decision_boundary' (class 5: 1..3 expected for a model of 3 scores, got 4)",
                  plot.decision_boundary, scores, X, y, small)
    y[5] = 2
    local calls = 0
    local fickle = function(x)
      calls = calls + 1
      if calls == 7 then return 1 end
      return scores(x)
    end
    helpers.fails("decision_boundary: the model returned 3 scores for the point (1, 1) but not at (7, 1)",
                  plot.decision_boundary, fickle, X, y, small)
    local eleven = function() local t = {} for i = 1, 11 do t[i] = i end return t end
    helpers.fails("decision_boundary: the model returned 11 scores (at most 10 classes are drawn)",
                  plot.decision_boundary, eleven, X, y, small)
    helpers.fails("decision_boundary: the model returned a table holding something other than numbers",
                  plot.decision_boundary, function() return {1, "2"} end, X, y, small)
    assert.is_true(torchlet.is_grad_enabled())
  end)
end)

describe("plot.line with log axes", function()
  local path = os.tmpname() .. ".png"
  after_each(function() os.remove(path) end)

  -- The mean row of the pixels of palette colour 1 (the first series) in
  -- each column that has some; the line is 2 points wide.
  local function line_rows(file)
    local w, h, pixel = png.read(file)
    local rows = {}
    for x = 1, w do
      local sum, n = 0, 0
      for y = 1, h do
        local r, g, b = pixel(x, y)
        if math.abs(r - 31) < 12 and math.abs(g - 119) < 12 and math.abs(b - 180) < 12 then
          sum, n = sum + y, n + 1
        end
      end
      if n > 0 then rows[#rows + 1] = {x, sum / n} end
    end
    return rows
  end

  -- Largest distance in pixels of the points from the straight line
  -- through the first and last.
  local function bend(rows)
    local a, b = rows[1], rows[#rows]
    local worst = 0
    for _, p in ipairs(rows) do
      local t = (p[1] - a[1]) / (b[1] - a[1])
      worst = math.max(worst, math.abs(p[2] - (a[2] + t * (b[2] - a[2]))))
    end
    return worst
  end

  it("draws exponential decay straight on a log y axis, 1/x on log-log", function()
    local decay = {}
    for i = 1, 100 do decay[i] = 3 * math.exp(-i / 15) end
    local opts = {ylog = true, width = 320, height = 240, file = path}
    plot.line(decay, opts)
    local rows = line_rows(path)
    assert.is_true(#rows > 400, "the line spans the plot")
    assert.is_true(bend(rows) < 3, "straight on the log axis: bend " .. bend(rows))
    opts.ylog = false
    plot.line(decay, opts)
    assert.is_true(bend(line_rows(path)) > 50, "curved on a linear axis")
    local xs, ys = {}, {}
    for i = 1, 40 do xs[i] = 1.2 ^ i; ys[i] = 1 / xs[i] end
    plot.line({{x = xs, y = ys}}, {xlog = true, ylog = true, width = 320, height = 240, file = path})
    assert.is_true(bend(line_rows(path)) < 3, "1/x straight on log-log")
  end)

  it("skips values <= 0 on a log axis and refuses a plot with none left", function()
    plot.line({1, 0, -1, 0.1, 0.01}, {ylog = true, file = path})
    helpers.fails("plot: no finite point with positive values on the log axes to draw",
                  plot.line, {0, -1}, {ylog = true, file = path})
    helpers.fails("bad argument #2 to 'line' (option 'ylog' must be a boolean",
                  plot.line, {1, 2}, {ylog = 1})
    helpers.fails("bad argument #2 to 'scatter' (unknown option 'xlog'",
                  plot.scatter, {{1, 2}}, {xlog = true})
  end)
end)
