-- examples/moons.lua -- micrograd's demo: a 2-16-16-1 MLP learns to separate
-- two interleaving half moons.
--
--   lua5.4 examples/moons.lua [--plain] [--steps N] [--batched] [--images DIR]
--
-- --images DIR draws DIR/loss_curve.png (loss and accuracy per step) and
-- DIR/moons_boundary.png (the trained model's decision regions); the demo
-- command passes --images images.
-- --batched trains on the whole data set as one (100 x 2) array Element:
-- one matmul per layer instead of one node per neuron and sample, the same
-- parameters and the same gradients.  Prints loss and accuracy as it trains (one line updated in place on a
-- terminal, a line every 10 steps otherwise or with --plain), then the time
-- per training step and the decision regions as text.  Loaded with
-- loadfile(...)("library") it only returns {train = train} (for the specs).
local torchlet = require "torchlet"
local nn, optim, loss, data = torchlet.nn, torchlet.optim, torchlet.loss, torchlet.data

-- Trains the demo's model; 'on_step(step, loss, accuracy)' is called after
-- every step.  Returns the model, the data and the seconds spent training.
local function train(opts)
  opts = opts or {}
  local steps = opts.steps or 100
  torchlet.manual_seed(opts.seed or 1)
  local X, y = data.make_moons(100, {noise = 0.1, seed = opts.seed or 1})
  local model = nn.MLP(2, {16, 16, 1})
  local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
  local clock = os.clock
  local elapsed = 0
  local batch = opts.batched and torchlet.Element(X)
  for step = 1, steps do
    local t0 = clock()
    local scores
    if batch then
      scores = model(batch)                     -- (100 x 1)
    else
      scores = {}
      for i = 1, #X do scores[i] = model(X[i]) end
    end
    -- micrograd's loss: SVM max-margin (hinge) plus a small L2 penalty
    local l = loss.hinge(scores, y) + 1e-4 * model:l2()
    opt:zero_grad()
    l:backward()
    opt:step()
    elapsed = elapsed + (clock() - t0)
    -- accuracy of the scores this step computed (before the update)
    local correct = 0
    local values = batch and scores.data
    for i = 1, #X do
      local s = batch and values[i][1] or scores[i].data
      if (s > 0) == (y[i] > 0) then correct = correct + 1 end
    end
    if opts.on_step then opts.on_step(step, l.data, correct / #X) end
  end
  return model, X, y, elapsed
end

if (...) == "library" then return {train = train} end

-- {======================================================================
-- The script
-- =======================================================================

local plain, steps, batched, images = false, 100, false, nil
local i = 1
while arg and arg[i] do
  if arg[i] == "--plain" then plain = true
  elseif arg[i] == "--batched" then batched = true
  elseif arg[i] == "--images" then images = assert(arg[i + 1], "--images needs a directory"); i = i + 1
  elseif arg[i] == "--steps" then steps = assert(math.tointeger(tonumber(arg[i + 1])),
                                                 "--steps needs an integer"); i = i + 1
  else error("usage: lua5.4 examples/moons.lua [--plain] [--steps N] [--batched] [--images DIR]") end
  i = i + 1
end
-- A progress line rewritten with \r only when stdout is a terminal: the
-- shell's `test -t 1` inherits our stdout.
local term = os.getenv("TERM")
if not plain and (term == nil or term == "dumb" or not os.execute("test -t 1")) then
  plain = true
end

local losses, accuracies = {}, {}
local model, X, y, elapsed = train{
  steps = steps,
  batched = batched,
  on_step = function(step, l, acc)
    losses[step], accuracies[step] = l, acc
    local line = ("step %3d/%d  loss %.4f  accuracy %5.1f%%"):format(step, steps, l, acc * 100)
    if not plain then
      io.write("\r", line)
      io.flush()
    elseif step % 10 == 0 or step == steps then
      print(line)
    end
  end,
}
if not plain then io.write("\n") end

-- Final accuracy with the trained parameters, without recording a graph.
local correct = torchlet.no_grad(function()
  local c = 0
  for k = 1, #X do
    if (model(X[k]).data > 0) == (y[k] > 0) then c = c + 1 end
  end
  return c
end)
print(("%s: %d parameters, %s path"):format("MLP(2, {16, 16, 1})",
  #model:parameters({scalar = true}), batched and "batched" or "scalar"))
print(("final training accuracy %.1f%%, %.3f ms per training step")
  :format(100 * correct / #X, elapsed / steps * 1e3))

-- Decision regions: '+' where the model says 1, '.' where it says -1, and
-- the training points as 'O' (label 1) and 'X' (label -1).
local W, H = 64, 20
local x0, x1, y0, y1 = -1.5, 2.5, -1.0, 1.5
local grid = {}
torchlet.no_grad(function()
  for r = 1, H do
    local row = {}
    local py = y1 - (r - 0.5) * (y1 - y0) / H
    for c = 1, W do
      local px = x0 + (c - 0.5) * (x1 - x0) / W
      row[c] = model({px, py}).data > 0 and "+" or "."
    end
    grid[r] = row
  end
end)
for k = 1, #X do
  local c = math.floor((X[k][1] - x0) / (x1 - x0) * W) + 1
  local r = math.floor((y1 - X[k][2]) / (y1 - y0) * H) + 1
  if grid[r] and grid[r][c] then grid[r][c] = y[k] > 0 and "O" or "X" end
end
for r = 1, H do print(table.concat(grid[r])) end

if images then
  local plot = torchlet.plot
  print(plot.line({{name = "loss", y = losses}, {name = "accuracy", y = accuracies}},
                  {title = "Training MLP(2, {16, 16, 1}) on 100 moons",
                   xlabel = "step", ylabel = "hinge loss + L2 / accuracy",
                   file = images .. "/loss_curve.png"}))
  print(plot.decision_boundary(model, X, y,
                               {title = "Decision boundary after training",
                                xlabel = "x1", ylabel = "x2",
                                file = images .. "/moons_boundary.png"}))
end

-- }======================================================================
