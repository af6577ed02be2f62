--[[
torchlet.data -- toy data sets for classification, made in memory.

    X, y = data.make_moons(n [, {noise = 0, seed = 0, shuffle = true, binary = false}])
    X, y = data.make_circles(n [, {noise = 0, factor = 0.8, seed = 0, shuffle = true, binary = false}])
    X, y = data.make_blobs(n [, {centers = 3, cluster_std = 1, seed = 0, box = {-10, 10}, shuffle = true}])

X[i] is a point {x1, x2}; n is at most 10,000,000.  make_moons and make_circles follow scikit-learn's
constructions and label the first shape -1 and the second 1, as micrograd's
demo does (binary = true gives sklearn's 0 and 1).  make_blobs labels its
clusters 1..k, ready for loss.cross_entropy.

Every set is deterministic for its seed, the same on every VM: the numbers
come from a core.Generator seeded for the set (the C generator models use:
xoshiro256** seeded through splitmix64, Box-Muller normals), so making data
never disturbs the stream that initialises models (manual_seed).
]]
local core = require "torchlet.core"
local compat = require "torchlet.compat"
local math = math
local type, error, tostring, next, rawget = type, error, tostring, next, rawget
local to_integer = compat.to_integer

local M = {}

-- A typo such as 2^40 samples fails with a message instead of exhausting
-- memory (a Lua point costs about 100 bytes).
local MAX_SAMPLES = 10000000

-- {======================================================================
-- Arguments
-- =======================================================================

local function check_n(fname, n, min)
  local count = to_integer(n)
  if count == nil then
    error(("bad argument #1 to '%s' (number of samples must be an integer, got %s)")
      :format(fname, tostring(n)), 3)
  end
  if count < min or count > MAX_SAMPLES then
    error(("bad argument #1 to '%s' (number of samples must be in %d..%d, got %s)")
      :format(fname, min, MAX_SAMPLES, tostring(n)), 3)
  end
  return count
end

-- Checks the options and returns a plain copy of them: read raw (no
-- __index or __pairs runs), as the C functions read theirs.
local function check_opts(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("bad argument #2 to '%s' (options table expected, got %s)"):format(fname, type(opts)), 3)
  end
  local copy = {}
  for k, v in next, opts do
    local want = allowed[k]
    if want == nil then
      local known = {}
      for name in pairs(allowed) do known[#known + 1] = name end
      table.sort(known)
      error(("bad argument #2 to '%s' (unknown option '%s'; known: %s)")
        :format(fname, tostring(k), table.concat(known, ", ")), 3)
    end
    if type(v) ~= want then
      error(("bad argument #2 to '%s' (option '%s' must be a %s, got %s)")
        :format(fname, k, want, type(v)), 3)
    end
    copy[k] = v
  end
  return copy
end

local function check_seed(fname, opts)
  local seed = to_integer(opts.seed or 0)
  if seed == nil then
    error(("bad argument #2 to '%s' (option 'seed' must be an integer, got %s)")
      :format(fname, tostring(opts.seed)), 3)
  end
  return seed
end

local function check_nonneg(fname, opts, key, default)
  local v = opts[key] or default
  if not (v >= 0) then
    error(("bad argument #2 to '%s' (option '%s' must be >= 0, got %s)")
      :format(fname, key, tostring(v)), 3)
  end
  return v
end

-- }======================================================================

-- Adds noise, then shuffles X and y together (Fisher-Yates), in place.
local function finish(rng, X, y, noise, shuffle)
  if noise > 0 then
    for i = 1, #X do
      X[i][1] = X[i][1] + noise * rng:normal()
      X[i][2] = X[i][2] + noise * rng:normal()
    end
  end
  if shuffle then
    for i = #X, 2, -1 do
      local j = rng:integer(i)
      X[i], X[j] = X[j], X[i]
      y[i], y[j] = y[j], y[i]
    end
  end
  return X, y
end

-- sklearn's linspace(0, stop, count) (endpoint included) or, with
-- 'open', without the endpoint.
local function linspace(stop, count, i, open)
  if open then return stop * (i - 1) / count end
  if count == 1 then return 0 end
  return stop * (i - 1) / (count - 1)
end

local moons_opts = {noise = "number", seed = "number", shuffle = "boolean", binary = "boolean"}

-- Two interleaving half circles: the upper one (label -1) centred at 0,
-- the lower one (label 1) at (1, 0.5) and turned over.
function M.make_moons(n, opts)
  n = check_n("make_moons", n, 2)
  opts = check_opts("make_moons", opts, moons_opts)
  local seed = check_seed("make_moons", opts)
  local noise = check_nonneg("make_moons", opts, "noise", 0)
  local lo = opts.binary and 0 or -1
  local n_out = math.floor(n / 2)
  local n_in = n - n_out
  local X, y = {}, {}
  for i = 1, n_out do
    local t = linspace(math.pi, n_out, i)
    X[#X + 1] = {math.cos(t), math.sin(t)}
    y[#y + 1] = lo
  end
  for i = 1, n_in do
    local t = linspace(math.pi, n_in, i)
    X[#X + 1] = {1 - math.cos(t), 1 - math.sin(t) - 0.5}
    y[#y + 1] = 1
  end
  return finish(core.Generator(seed), X, y, noise, opts.shuffle ~= false)
end

local circles_opts = {noise = "number", seed = "number", shuffle = "boolean",
                      binary = "boolean", factor = "number"}

-- A large circle (label -1) around a small one of radius 'factor' (label 1).
function M.make_circles(n, opts)
  n = check_n("make_circles", n, 2)
  opts = check_opts("make_circles", opts, circles_opts)
  local seed = check_seed("make_circles", opts)
  local noise = check_nonneg("make_circles", opts, "noise", 0)
  local factor = opts.factor or 0.8
  if not (factor >= 0 and factor < 1) then
    error(("bad argument #2 to 'make_circles' (option 'factor' must be in [0, 1), got %s)")
      :format(tostring(factor)), 2)
  end
  local lo = opts.binary and 0 or -1
  local n_out = math.floor(n / 2)
  local n_in = n - n_out
  local X, y = {}, {}
  for i = 1, n_out do
    local t = linspace(2 * math.pi, n_out, i, true)
    X[#X + 1] = {math.cos(t), math.sin(t)}
    y[#y + 1] = lo
  end
  for i = 1, n_in do
    local t = linspace(2 * math.pi, n_in, i, true)
    X[#X + 1] = {factor * math.cos(t), factor * math.sin(t)}
    y[#y + 1] = 1
  end
  return finish(core.Generator(seed), X, y, noise, opts.shuffle ~= false)
end

local blobs_opts = {centers = "number", cluster_std = "number", seed = "number",
                    box = "table", shuffle = "boolean"}

-- k Gaussian clusters (labels 1..k) around centres drawn uniformly from
-- the square box^2; sample i goes to cluster (i - 1) % k + 1 before the
-- shuffle, so the classes are balanced.
function M.make_blobs(n, opts)
  n = check_n("make_blobs", n, 1)
  opts = check_opts("make_blobs", opts, blobs_opts)
  local seed = check_seed("make_blobs", opts)
  local k = to_integer(opts.centers or 3)
  if k == nil or k < 1 then
    error(("bad argument #2 to 'make_blobs' (option 'centers' must be a positive integer, got %s)")
      :format(tostring(opts.centers)), 2)
  end
  -- Every centre is drawn, but only the first n get a sample: more centres
  -- than samples is a mistake (1e12 of them would run until memory is
  -- exhausted), so it is refused.
  if k > n then
    error(("bad argument #2 to 'make_blobs' (option 'centers' must be at most the "
           .. "number of samples (%d), got %s)"):format(n, tostring(k)), 2)
  end
  local std = check_nonneg("make_blobs", opts, "cluster_std", 1)
  local box = opts.box or {-10, 10}
  box = {rawget(box, 1), rawget(box, 2)}
  if type(box[1]) ~= "number" or type(box[2]) ~= "number" or not (box[1] < box[2]) then
    error("bad argument #2 to 'make_blobs' (option 'box' must be {lo, hi} with lo < hi)", 2)
  end
  local rng = core.Generator(seed)
  local centres = {}
  for c = 1, k do
    centres[c] = {box[1] + (box[2] - box[1]) * rng:uniform(),
                  box[1] + (box[2] - box[1]) * rng:uniform()}
  end
  local X, y = {}, {}
  for i = 1, n do
    local c = (i - 1) % k + 1
    X[i] = {centres[c][1] + std * rng:normal(), centres[c][2] + std * rng:normal()}
    y[i] = c
  end
  return finish(rng, X, y, 0, opts.shuffle ~= false)
end

return M
