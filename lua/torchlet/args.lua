--[[
torchlet.args -- argument checks shared by the pure-Lua modules (data,
optim's Lua part), so their messages read as the C functions' do:
"bad argument #N to 'fname' (...)".  Errors are raised at level 3: the
caller of the public function that called the check.
]]
local type, error, tostring, next, pairs = type, error, tostring, next, pairs
local sort, concat = table.sort, table.concat

local M = {}

-- Raises "bad argument #'arg' to 'fname' ('msg')" where the public
-- function that calls this was called (or 'level' levels up from here).
function M.argerror(fname, arg, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(arg, fname, msg), level or 3)
end

-- 'v' for a message: as tostring, but nan reads "nan" everywhere (C
-- libraries print "-nan" for some).
function M.show(v)
  if v ~= v then return "nan" end
  return tostring(v)
end

-- Checks the options table at argument 'arg' (nil means none) against
-- 'allowed' (key -> the type its value must have) and returns a plain copy
-- of it: read raw (no __index or __pairs runs), as the C functions read
-- theirs.  An unknown key is an error that lists the known ones.  Called
-- by the public function itself (its errors point at that one's caller).
function M.check_opts(fname, arg, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    M.argerror(fname, arg, "options table expected, got " .. type(opts), 4)
  end
  local copy = {}
  for k, v in next, opts do
    local want = allowed[k]
    if want == nil then
      local known = {}
      for name in pairs(allowed) do known[#known + 1] = name end
      sort(known)
      M.argerror(fname, arg, ("unknown option '%s'; known: %s")
        :format(tostring(k), concat(known, ", ")), 4)
    end
    if type(v) ~= want then
      M.argerror(fname, arg, ("option '%s' must be a %s, got %s"):format(k, want, type(v)), 4)
    end
    copy[k] = v
  end
  return copy
end

return M
