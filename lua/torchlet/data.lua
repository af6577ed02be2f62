--[[
torchlet.data -- toy data sets for classification, made in memory.

    X, y = data.make_moons(n [, {noise = 0, seed = 0, shuffle = true, binary = false}])
    X, y = data.make_circles(n [, {noise = 0, factor = 0.8, seed = 0, shuffle = true, binary = false}])
    X, y = data.make_blobs(n [, {centers = 3, cluster_std = 1, seed = 0, box = {-10, 10}, shuffle = true}])
    for Xb, yb in data.batches(X, y, size [, {shuffle = false, seed = 0, generator = g,
                                             drop_last = false}]) do ... end

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
local args = require "torchlet.args"
local math = math
local type, error, tostring, rawget = type, error, tostring, rawget
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

-- The integer option 'seed' of the options at argument 'arg' (2 if nil).
local function check_seed(fname, opts, arg)
  local seed = to_integer(opts.seed or 0)
  if seed == nil then
    error(("bad argument #%d to '%s' (option 'seed' must be an integer, got %s)")
      :format(arg or 2, fname, tostring(opts.seed)), 3)
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
  opts = args.check_opts("make_moons", 2, opts, moons_opts)
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
  opts = args.check_opts("make_circles", 2, opts, circles_opts)
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
  opts = args.check_opts("make_blobs", 2, opts, blobs_opts)
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

-- {======================================================================
-- Minibatches
-- =======================================================================

local batches_opts = {shuffle = "boolean", seed = "number", drop_last = "boolean",
                      generator = "userdata"}
local generator_meta = getmetatable(core.Generator(0))

-- The rows of X (argument 1): a nested table of rows (each a number or a
-- table of numbers, all of one length), or an array Element, whose values
-- are read once.  Returns the list of rows.
local function sample_rows(X)
  local fname = "batches"
  if core.is_element(X) then
    local rows = X.data
    if type(rows) ~= "table" then
      args.argerror(fname, 1, "X must be an array Element or a table of rows, got a scalar Element", 4)
    end
    return rows
  end
  if type(X) ~= "table" then
    args.argerror(fname, 1, "X must be an array Element or a table of rows, got " .. type(X), 4)
  end
  local n = #X
  if n == 0 then args.argerror(fname, 1, "X has no rows", 4) end
  local first = rawget(X, 1)
  local width = type(first) == "table" and #first or nil
  for i = 1, n do
    local row = rawget(X, i)
    if width == nil then
      if type(row) ~= "number" then
        args.argerror(fname, 1, ("row %d must be a number like row 1, got %s"):format(i, type(row)), 4)
      end
    else
      if type(row) ~= "table" then
        args.argerror(fname, 1, ("row %d must be a table like row 1, got %s"):format(i, type(row)), 4)
      end
      if #row ~= width or width == 0 then
        args.argerror(fname, 1, ("row %d has %d values, row 1 has %d"):format(i, #row, width), 4)
      end
      for j = 1, width do
        if type(rawget(row, j)) ~= "number" then
          args.argerror(fname, 1, ("value %d of row %d must be a number, got %s")
            :format(j, i, type(rawget(row, j))), 4)
        end
      end
    end
  end
  return X
end

--[[ batches(X, y, size [, opts]): an iterator over minibatches, for
  for Xb, yb in data.batches(X, y, 32, {shuffle = true, seed = 1}) do ... end
X is a table of rows or an array Element (its values are read once, when
batches is called); y is a table of one label or target per row (yb is then
a table, as the losses take), or an array Element with as many rows (yb is
then an array Element).  Xb is an array Element made with
{requires_grad = false}: data, whose gradient backward never computes.
opts: shuffle (false): a random order, drawn before the first batch by
Fisher-Yates from torchlet.Generator(seed) (seed 0 by default), so a seed
gives the same batches on every VM, or from opts.generator, whose stream
goes on from one call to the next (a new order each epoch); drop_last
(false): leave out a last batch smaller than 'size'.
]]
function M.batches(X, y, size, opts)
  local fname = "batches"
  local rows = sample_rows(X)
  local n = #rows
  local labels, y_is_array = y, core.is_element(y)
  if y_is_array then
    labels = y.data
    if type(labels) ~= "table" then
      args.argerror(fname, 2, "y must be an array Element or a table, got a scalar Element")
    end
  elseif type(y) ~= "table" then
    args.argerror(fname, 2, "y must be a table of labels or an array Element, got " .. type(y))
  end
  if #labels ~= n then
    args.argerror(fname, 2, ("y has %d rows, X has %d"):format(#labels, n))
  end
  local bs = to_integer(size)
  if bs == nil or bs < 1 then
    args.argerror(fname, 3, "batch size must be a positive integer, got " .. tostring(size))
  end
  opts = args.check_opts(fname, 4, opts, batches_opts)
  local seed = check_seed(fname, opts, 4)
  local rng = opts.generator
  if rng ~= nil and getmetatable(rng) ~= generator_meta then
    args.argerror(fname, 4, "option 'generator' must be a torchlet.Generator")
  end
  if rng ~= nil and opts.seed ~= nil then
    args.argerror(fname, 4, "options 'seed' and 'generator' exclude each other")
  end
  local order = {}
  for i = 1, n do order[i] = i end
  if opts.shuffle then
    if rng == nil then rng = core.Generator(seed) end
    for i = n, 2, -1 do
      local j = rng:integer(i)
      order[i], order[j] = order[j], order[i]
    end
  end
  local count = opts.drop_last and math.floor(n / bs) or math.ceil(n / bs)
  local data_only = {requires_grad = false}
  local k = 0
  return function()
    if k >= count then return nil end
    local first = k * bs
    k = k + 1
    local xb, yb = {}, {}
    for i = 1, math.min(bs, n - first) do
      local src = order[first + i]
      xb[i], yb[i] = rows[src], labels[src]
    end
    if y_is_array then yb = core.Element(yb, data_only) end
    return core.Element(xb, data_only), yb
  end
end

-- }======================================================================

return M
