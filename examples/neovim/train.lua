-- examples/neovim/train.lua -- Torchlet inside Neovim (LuaJIT 2.1): trains
-- a small network on sin(x) and prints its predictions.
--
--   TORCHLET_ROOT=/path/to/torchlet nvim --headless -u NONE \
--     -c 'luafile examples/neovim/train.lua'
--
-- The script quits Neovim itself: status 0 when the trained network's mean
-- squared error is below the bound, 1 on a failure or an error (Neovim 0.7
-- has no `-l`, and an error in `-c luafile` would not change the status).
-- Torchlet is found from TORCHLET_ROOT (a built source tree: lua/ and the
-- LuaJIT module build/luajit/) or TORCHLET_PREFIX (an install:
-- share/lua/5.1, lib/lua/5.1); with neither, from Neovim's own paths.

local function use_torchlet_paths()
  local root, prefix = os.getenv("TORCHLET_ROOT"), os.getenv("TORCHLET_PREFIX")
  if root and root ~= "" then
    package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
    package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
  elseif prefix and prefix ~= "" then
    package.path = prefix .. "/share/lua/5.1/?.lua;" .. prefix ..
      "/share/lua/5.1/?/init.lua;" .. package.path
    package.cpath = prefix .. "/lib/lua/5.1/?.so;" .. package.cpath
  end
end

local MSE_BOUND = 0.01

local function main()
  use_torchlet_paths()
  local torchlet = require "torchlet"
  local nn, optim, loss = torchlet.nn, torchlet.optim, torchlet.loss

  -- 32 points of sin(x) on [-pi, pi], as one (32 x 1) batch
  local xs, ys = {}, {}
  for i = 1, 32 do
    local x = -math.pi + 2 * math.pi * (i - 1) / 31
    xs[i], ys[i] = {x}, {math.sin(x)}
  end
  local X = torchlet.Element(xs, {requires_grad = false})
  local Y = torchlet.Element(ys, {requires_grad = false})

  torchlet.manual_seed(7)
  local model = nn.MLP(1, {32, 32, 1}, {activation = "tanh"})
  local opt = optim.Adam(model:parameters(), {lr = 0.01})
  local err
  for step = 1, 600 do
    opt:zero_grad()
    local l = loss.mse(model(X), Y)
    l:backward()
    opt:step()
    err = l.data
    if step % 150 == 0 then print(string.format("step %d  mse %.5f", step, err)) end
  end

  print(string.format("%8s %10s %10s", "x", "sin(x)", "predicted"))
  for _, x in ipairs { -2.5, -1, 0, 0.5, 2 } do
    local p = model({x}).data
    print(string.format("%8.3f %10.4f %10.4f", x, math.sin(x), p))
  end
  print(string.format("neovim example (%s, Torchlet %s): final mse %.5f, bound %g",
    jit and jit.version or _VERSION, torchlet.core._VERSION, err, MSE_BOUND))
  return err < MSE_BOUND
end

local ok, passed = pcall(main)
if not ok then print("neovim example: error: " .. tostring(passed)) end
-- print() in headless Neovim writes to stderr, without a final newline
io.stderr:write("\n")
if ok and passed then vim.cmd("qall!") else vim.cmd("cquit 1") end
