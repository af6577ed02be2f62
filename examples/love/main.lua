-- main.lua -- Torchlet inside LÖVE 11 (LuaJIT 2.1): an agent learns, frame
-- by frame, to track a target that moves on a Lissajous curve.
--
--   TORCHLET_ROOT=/path/to/torchlet love examples/love [frames]
--
-- Each frame the agent sees the target's last two positions, predicts where
-- it is now and moves there; then the true position arrives, the new
-- (seen, true) pair joins a buffer of the last 32, and the network trains a
-- few steps on that buffer in love.update.  A naive follower that stays on
-- the last seen position is the yardstick.  After the last frame the game
-- quits itself: status 0 when the agent's error over the last 100 frames is
-- under a tenth of the follower's, 1 otherwise (or on an error).
-- Torchlet is found from TORCHLET_ROOT (a built source tree) or
-- TORCHLET_PREFIX (an install), as in examples/neovim.

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

local FRAMES = 600          -- frames to play (argument 1 overrides)
local STEPS_PER_FRAME = 4   -- training steps in each love.update
local BUFFER = 32           -- the last transitions trained on
local FRAME_DT = 1 / 30     -- the target moves by simulated time, so every
                            -- run is the same whatever the real frame rate
local WINDOW = 100          -- frames the final verdict averages over
local SCALE = 30            -- moves are about 1/30: seen and predicted x30

local torchlet, model, opt
local frame, t = 0, 0
local seen = {}             -- the target's positions, oldest first
local inputs, targets = {}, {}
local agent_err, follower_err = {}, {}

local function target_at(time)
  return 0.8 * math.sin(1.3 * time), 0.8 * math.sin(0.7 * time + 0.5)
end

local function mean_of_last(list, n)
  local s, k = 0, 0
  for i = math.max(1, #list - n + 1), #list do s, k = s + list[i], k + 1 end
  return s / k
end

local function quit(status, message)
  print(message)
  io.stdout:flush()
  love.event.quit(status)
end

function love.load(arg)
  FRAMES = tonumber(arg and arg[1]) or FRAMES
  use_torchlet_paths()
  torchlet = require "torchlet"
  torchlet.manual_seed(3)
  model = torchlet.nn.MLP(4, {16, 2}, {activation = "tanh"})
  opt = torchlet.optim.Adam(model:parameters(), {lr = 0.01})
  for i = 1, 2 do
    seen[i] = {target_at(t)}
    t = t + FRAME_DT
  end
  local major, minor = love.getVersion()
  print(string.format("love example: LÖVE %d.%d, %s, %d frames",
    major, minor, jit and jit.version or _VERSION, FRAMES))
end

local function update()
  frame = frame + 1
  local a, b = seen[#seen - 1], seen[#seen]
  -- what the agent sees: where the target was and how it moved in the last
  -- frame; what it predicts: the target's next move (both scaled up to about
  -- 1, a scale the network's initial weights suit)
  local x = {b[1], b[2], (b[1] - a[1]) * SCALE, (b[2] - a[2]) * SCALE}
  -- the agent moves to where it predicts the target is
  local guess = torchlet.no_grad(function() return model(x) end)
  local gx, gy = b[1] + guess[1].data / SCALE, b[2] + guess[2].data / SCALE
  -- the frame shows where the target really is
  local tx, ty = target_at(t)
  t = t + FRAME_DT
  seen[#seen + 1] = {tx, ty}
  table.remove(seen, 1)
  agent_err[frame] = math.sqrt((gx - tx) ^ 2 + (gy - ty) ^ 2)
  follower_err[frame] = math.sqrt((b[1] - tx) ^ 2 + (b[2] - ty) ^ 2)

  inputs[#inputs + 1] = x
  targets[#targets + 1] = {(tx - b[1]) * SCALE, (ty - b[2]) * SCALE}
  if #inputs > BUFFER then table.remove(inputs, 1); table.remove(targets, 1) end
  local X = torchlet.Element(inputs, {requires_grad = false})
  local Y = torchlet.Element(targets, {requires_grad = false})
  for _ = 1, STEPS_PER_FRAME do
    opt:zero_grad()
    local l = ((model(X) - Y) ^ 2):mean()   -- both coordinates
    l:backward()
    opt:step()
  end

  if frame % 100 == 0 then
    print(string.format("frame %4d  agent error %.4f  follower error %.4f",
      frame, mean_of_last(agent_err, WINDOW), mean_of_last(follower_err, WINDOW)))
  end
  if frame >= FRAMES then
    local agent = mean_of_last(agent_err, WINDOW)
    local follower = mean_of_last(follower_err, WINDOW)
    local passed = agent < follower / 10
    quit(passed and 0 or 1, string.format(
      "love example: %s: agent error %.4f, follower error %.4f over the last %d frames (bound: a tenth)",
      passed and "passed" or "FAILED", agent, follower, WINDOW))
  end
end

function love.update()
  local ok, err = pcall(update)
  if not ok then quit(1, "love example: error: " .. tostring(err)) end
end
