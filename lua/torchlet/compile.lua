--[[
torchlet.compile(fn [, opts]) -- a step recorded once and replayed (issue 15).

    local step = torchlet.compile(function(X) return loss.mse(model(X), y) end)
    local l = step(X1)       -- records: runs fn eagerly on copies of X1
    l = step(X2)             -- replays on X2's values: the same Element l
    opt:zero_grad(); l:backward(); opt:step()   -- over the stored order

The arguments are Elements bound by position; the first call records fn
over leaf copies of them (never the caller's own Elements, which later
calls would overwrite), later calls copy their values into those copies
and recompute every recorded op in place (bindings/compile.c, the core's
tl_compile.h), returning the same output Element: no allocation in the
core or in Lua.  Parameters are read by reference.  Options:

    grad = false    forward only (also when the first call runs under
                    torchlet.no_grad): no gradient buffers, no backward
    check = n       the n calls after the first record again and raise if
                    the op sequence differs from the first recording (fn
                    branched on data, or read a Lua value that changed)
]]
local core = require "torchlet.core"
local C = core._compile
local type, pcall, error, select = type, pcall, error, select
local unpack = table.unpack or unpack

local M = {}

-- A message raised in here, reraised at the caller's line instead.
local function where_stripped(msg)
  if type(msg) ~= "string" then return msg end
  return (msg:gsub("^[^\n]-compile%.lua:%d+: ", ""))
end

local OPTS = {grad = "boolean", check = "number"}

local function check_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error("bad argument #2 to 'compile' (table of options expected, got " .. type(opts) .. ")", 3)
  end
  for k, v in pairs(opts) do
    local want = OPTS[k]
    if want == nil then
      error("bad argument #2 to 'compile' (unknown option '" .. tostring(k) .. "')", 3)
    end
    if type(v) ~= want then
      error(("bad argument #2 to 'compile' (option '%s': %s expected, got %s)")
            :format(k, want, type(v)), 3)
    end
  end
  local n = opts.check
  if n ~= nil and (n < 0 or n ~= math.floor(n)) then
    error("bad argument #2 to 'compile' (option 'check': a whole number >= 0 expected)", 3)
  end
  return opts
end

-- Runs fn over copies of the arguments while the core records every op;
-- returns the Graph and the output Element.  On any error nothing stays
-- recorded (the capture is ended, the partial graph left to the collector).
local function record(fn, forward_only, ...)
  local ins = {C.begin(...)}
  local n = select("#", ...)
  local ok, out
  if forward_only then
    ok, out = pcall(core.no_grad, fn, unpack(ins, 1, n))
  else
    ok, out = pcall(fn, unpack(ins, 1, n))
  end
  if not ok then
    C.abort()
    error(out, 0)
  end
  -- finish ends the capture itself, unless a memory error comes first
  local done, g = pcall(C.finish, out, unpack(ins, 1, n))
  if not done then
    C.abort()
    error(g, 0)
  end
  return g, out
end

function M.compile(fn, opts)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'compile' (function expected, got " .. type(fn) .. ")", 2)
  end
  opts = check_opts(opts)
  local checks = opts.check or 0
  local graph, out, forward_only
  return function(...)
    if graph == nil then
      forward_only = opts.grad == false or not core.is_grad_enabled()
      graph, out = record(fn, forward_only, ...)
      return out
    end
    if checks > 0 then
      checks = checks - 1
      local again = record(fn, forward_only, ...)
      local diff = graph:diff(again)
      again:free()
      if diff then
        error("compiled step: the function recorded other ops than at its first "
              .. "call (it branches on data?): " .. diff, 2)
      end
    end
    local ok, err = pcall(graph.replay, graph, ...)
    if not ok then error(where_stripped(err), 2) end
    return out
  end
end

return M
