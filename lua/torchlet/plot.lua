--[[
torchlet.plot -- plots for training, drawn by the C core with cairo.

  plot.line(series, opts)        loss curves: a list of numbers, or a list
                                 of {y = {...}, x = {...}?, name = "..."?};
                                 opts.xlog, opts.ylog: log10 axes
  plot.scatter(points, opts)     points {{x, y [, class]}, ...}
  plot.decision_boundary(model, X, y, opts)
                                 the regions a 2-D classifier gives each
                                 class, with the data on top

Common opts: title, xlabel, ylabel, width and height (points, default
640 x 420), file (format from its extension) or format ("png", "svg",
"pdf").  Each returns the path written; without opts.file that is
"plot.png", "scatter.png" or "decision_boundary.png" in the current
directory.  Numbers may be Elements: their data is plotted.
]]
local core = require "torchlet.core"
local to_integer = require("torchlet.compat").to_integer

local M = {}

M.line = core.plot_line
M.scatter = core.plot_scatter

local function argerror(i, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(i, fname, msg), 3)
end

-- What decision_boundary takes: the common options (checked again by the
-- C part) and its own two, which it takes out before calling it.
local boundary_opts = {"title", "xlabel", "ylabel", "width", "height", "file",
                       "format", "resolution", "margin"}
local own_opts = {resolution = true, margin = true}

-- A copy of the options without decision_boundary's own, after checking
-- every key, reading raw (no __index or __pairs runs), as the C part does;
-- or nil and what is wrong.
local function common_opts(opts)
  local known = {}
  for _, k in ipairs(boundary_opts) do known[k] = true end
  local copy = {}
  for k, v in next, opts do
    if type(k) ~= "string" then
      return nil, "option names must be strings, got a " .. type(k)
    end
    if not known[k] then
      return nil, ("unknown option '%s'; known: %s")
        :format(k, table.concat(boundary_opts, ", "))
    end
    if not own_opts[k] then copy[k] = v end
  end
  return copy
end

local function value(v)
  if type(v) == "number" then return v end
  if core.is_element(v) then return v.data end
  return nil
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

-- The k scores of one model output for k classes: a table of k numbers
-- or Elements, or an array Element of k values (a vector, or one row);
-- nil for a single score (a number or a scalar Element).
local function class_scores(r)
  local t = r
  if core.is_element(r) then
    t = r.data
    if type(t) ~= "table" then return nil end
    if #t == 1 and type(t[1]) == "table" then t = t[1] end
  elseif type(r) ~= "table" then
    return nil
  end
  local out = {}
  for c = 1, #t do
    out[c] = value(t[c])
    if out[c] == nil then return false end
  end
  return out
end

--[[ decision_boundary(model, X, y, opts)
  model  any callable taking {x1, x2} and returning either one score (an
         Element or a number: > 0 means the larger class of y), or k scores
         for k classes 1..k (2 to 10; a table of numbers or Elements, or an
         array Element of k values, e.g. the logits of MLP(2, {16, k})):
         each point of the plane takes the colour of its highest score
  X      list of points {x1, x2}
  y      list of their classes (numbers, e.g. -1 and 1; 1..k for k scores),
         as many as X
  opts   the common options, plus
           resolution  grid cells per axis (default 60; 2 to 400)
           margin      space around the data (default 10% of its range)
  The model is called resolution^2 times with graph recording off.
]]
function M.decision_boundary(model, X, y, opts)
  local fname = "decision_boundary"
  if not callable(model) then
    argerror(1, fname, "callable model expected, got " .. type(model))
  end
  if type(X) ~= "table" then argerror(2, fname, "table expected, got " .. type(X)) end
  if type(y) ~= "table" then argerror(3, fname, "table expected, got " .. type(y)) end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(4, fname, "table or nil expected, got " .. type(opts))
  end
  opts = opts or {}
  local common, why = common_opts(opts)
  if not common then argerror(4, fname, why) end
  -- checked before the model runs res^2 times; the C side says the same
  local file = rawget(opts, "file")
  if type(file) == "string" and file:find("\0", 1, true) then
    argerror(4, fname, "option 'file' contains a NUL byte")
  end
  if #X == 0 then argerror(2, fname, "no points") end
  if #y ~= #X then
    argerror(3, fname, ("%d classes for %d points"):format(#y, #X))
  end
  -- 20.0 is 20, as everywhere in Torchlet and on VMs without integers
  local res = to_integer(rawget(opts, "resolution") or 60)
  if res == nil or res < 2 or res > 400 then
    argerror(4, fname, "field 'resolution': integer from 2 to 400 expected")
  end
  local points = {}
  local x0, x1, y0, y1 = math.huge, -math.huge, math.huge, -math.huge
  for i = 1, #X do
    local p = X[i]
    local a = type(p) == "table" and value(p[1])
    local b = type(p) == "table" and value(p[2])
    local c = value(y[i])
    if not a or not b then argerror(2, fname, ("point %d: {x1, x2} expected"):format(i)) end
    if not c then argerror(3, fname, ("class %d: number expected"):format(i)) end
    points[i] = {a, b, c}
    x0, x1 = math.min(x0, a), math.max(x1, a)
    y0, y1 = math.min(y0, b), math.max(y1, b)
  end
  local margin = rawget(opts, "margin")
  local mx = margin or math.max((x1 - x0) * 0.1, 1e-3)
  local my = margin or math.max((y1 - y0) * 0.1, 1e-3)
  if type(mx) ~= "number" or mx < 0 then
    argerror(4, fname, "field 'margin': non-negative number expected")
  end
  x0, x1, y0, y1 = x0 - mx, x1 + mx, y0 - my, y1 + my
  -- scores at the cell centres, row 1 at y0 (k planes of them for k
  -- classes); no graph is recorded
  local z, k = {}, nil
  local cells = res * res
  core.no_grad(function()
    for j = 0, res - 1 do
      local yy = y0 + (j + 0.5) * (y1 - y0) / res
      for i = 0, res - 1 do
        local xx = x0 + (i + 0.5) * (x1 - x0) / res
        local r = model({xx, yy})
        local s = value(r)
        if type(s) ~= "number" then s = nil end   -- an array's data is a table
        local many = not s and class_scores(r)
        if k == nil then k = many and #many or 0 end
        -- raised through no_grad: no position is meaningful
        if k == 0 and not s then
          if many == false then
            error("decision_boundary: the model returned a table holding "
                  .. "something other than numbers and Elements", 0)
          end
          error(("decision_boundary: the model returned %s, not an Element or "
                 .. "a number"):format(type(r)), 0)
        elseif k > 0 and not (many and #many == k) then
          error(("decision_boundary: the model returned %d scores for the "
                 .. "point (1, 1) but not at (%d, %d)"):format(k, i + 1, j + 1), 0)
        elseif k == 1 then
          z[#z + 1] = many[1]
        elseif k > 0 then
          if k > 10 then
            error(("decision_boundary: the model returned %d scores (at most "
                   .. "10 classes are drawn)"):format(k), 0)
          end
          for c = 1, k do z[(c - 1) * cells + j * res + i + 1] = many[c] end
        else
          z[#z + 1] = s
        end
      end
    end
  end)
  local grid = {nx = res, ny = res, x0 = x0, x1 = x1, y0 = y0, y1 = y1, z = z}
  if k > 1 then
    grid.nclass = k
    for i = 1, #points do
      local c = points[i][3]
      if c ~= math.floor(c) or c < 1 or c > k then
        argerror(3, fname, ("class %d: 1..%d expected for a model of %d scores, got %s")
          :format(i, k, k, tostring(c)))
      end
    end
  end
  return core.plot_boundary(grid, points, common)
end

return M
