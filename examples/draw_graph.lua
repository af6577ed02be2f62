-- examples/draw_graph.lua -- draws the a/b/c/d example of the README after
-- backward, in both views:
--   images/Digraph.gv.png    graphviz (records and op ellipses)
--   images/example_cairo.png cairo (the quick view; edges show gradients)
--   images/backward_step2.png, backward_step3.png, backward_mlp.png
--                            the step-by-step backward view
--   images/backward_html.png the interactive page at step 2, as headless
--                            chromium shows it (when chromium is installed)
--   images/mlp_collapsed.png the demo's MLP on one sample, a box per layer
--   images/mlp_collapsed_cairo.png  the same in the cairo view
-- Run from anywhere after ./setup.sh build:  lua5.4 examples/draw_graph.lua
local root = (arg and arg[0] or ""):match("^(.*)/examples/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/?.so;" .. package.cpath

local torchlet = require "torchlet"
local Element = torchlet.Element

local a = Element(2.0, "a")
local b = Element(3.0, "b")
local c = a * b
c.label = "c"
local d = c + a
d.label = "d"
d:backward()

print(d:visualize("graphviz", {file = root .. "/images/Digraph.gv.png"}))
print(d:visualize("cairo", {file = root .. "/images/example_cairo.png"}))

-- The step-by-step backward view (README, Watching backward): frames of
-- the same pass, and one step of a small MLP's, into images/.
local function copy(from, to)
  local f = assert(io.open(from, "rb"))
  local data = f:read("a")
  f:close()
  f = assert(io.open(to, "wb"))
  f:write(data)
  f:close()
  print(to)
end

local function frames_of(e, keep, params)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir '" .. dir .. "'"))
  e:visualize("cairo", {frames = dir, params = params})
  for step, name in pairs(keep) do
    copy(("%s/step-%03d.png"):format(dir, step), root .. "/images/" .. name)
  end
  os.execute("rm -rf '" .. dir .. "'")
end

frames_of(d, {[2] = "backward_step2.png", [3] = "backward_step3.png"})

torchlet.manual_seed(5)
local model = torchlet.nn.MLP(2, {2, 1}, {activation = "tanh"})
local loss = (model({Element(0.5, "x1"), Element(-1.5, "x2")}) - 1) ^ 2
loss.label = "loss"
frames_of(loss, {[5] = "backward_mlp.png"}, model:parameters())

-- The interactive page (README, Watching backward): step 2 of the a/b/c/d
-- pass with c clicked, screenshot by headless chromium when it is there.
local base = os.tmpname()
local page = base .. ".html"
d:visualize("html", {file = page})
if os.execute("command -v chromium >/dev/null") then
  local profile = base .. "-profile"
  local shot = root .. "/images/backward_html.png"
  assert(os.execute(("chromium --headless --no-sandbox --disable-gpu "
    .. "--disable-background-networking --disable-component-update "
    .. "--disable-sync --no-first-run --hide-scrollbars --user-data-dir='%s' "
    .. "--virtual-time-budget=2000 --window-size=1280,400 --screenshot='%s' "
    .. "'file://%s#step=2&node=3' 2>/dev/null"):format(profile, shot, page)))
  os.execute("rm -rf '" .. profile .. "'")
  print(shot)
else
  print("(no chromium: images/backward_html.png not redrawn)")
end
os.remove(page)
os.remove(base)

-- A model graph collapsed to one box per layer (README, Visualization):
-- the demo's MLP(2, {16, 16, 1}) on one sample, 1,000-odd values drawn as
-- three boxes.
torchlet.manual_seed(1)
local mlp = torchlet.nn.MLP(2, {16, 16, 1})
local mse = (mlp({Element(0.5, "x1"), Element(-1.5, "x2")}) - 1) ^ 2
mse.label = "loss"
mse:backward()
print(mse:visualize("graphviz", {file = root .. "/images/mlp_collapsed.png",
                                 collapse = "layer"}))
print(mse:visualize("cairo", {file = root .. "/images/mlp_collapsed_cairo.png",
                              collapse = "layer"}))
