-- spec/helpers.lua -- shared by the specs: numerical gradients and tolerances.
local M = {}

-- Central difference of f at x: (f(x+h) - f(x-h)) / 2h.  'f' maps a Lua
-- array of numbers to a number; returns the gradient as an array.
function M.numeric_grad(f, xs, h)
  h = h or 1e-6
  local g = {}
  for i = 1, #xs do
    local saved = xs[i]
    xs[i] = saved + h
    local up = f(xs)
    xs[i] = saved - h
    local down = f(xs)
    xs[i] = saved
    g[i] = (up - down) / (2 * h)
  end
  return g
end

-- Asserts |a - b| <= tol * max(1, |b|).
function M.near(expected, actual, tol, what)
  tol = tol or 1e-6
  local scale = math.max(1, math.abs(expected))
  if not (math.abs(expected - actual) <= tol * scale) then
    error(string.format("%s: expected %.17g, got %.17g (tol %g)",
      what or "value", expected, actual, tol), 2)
  end
end

function M.is_nan(x) return x ~= x end

-- Asserts that fn(...) raises an error whose message contains 'pattern'
-- (plain text, not a Lua pattern).
function M.fails(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing '" .. pattern .. "'")
  assert(tostring(err):find(pattern, 1, true),
         "expected '" .. pattern .. "' in: " .. tostring(err))
end

-- Files: the whole content, a whole write, and whether a path exists.
function M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The temporary files a write of 'path' could leave beside it: names in
-- its directory that start with its own name followed by ".tmp" (the
-- writer's are "<name>.tmp-" and 16 hex digits).  Sorted.
function M.temporaries(path)
  local dir, name = path:match("^(.*)/([^/]*)$")
  if not dir then dir, name = ".", path end
  local found, p = {}, assert(io.popen("ls -A '" .. dir .. "'"))
  for line in p:lines() do
    if line:sub(1, #name + 4) == name .. ".tmp" then found[#found + 1] = line end
  end
  p:close()
  table.sort(found)
  return found
end

-- Three functions: tmppath(ext), a fresh temporary path ending in 'ext';
-- track(path), to remove 'path' too; and cleanup(), which removes every
-- path given or tracked so far.
function M.temp_paths()
  local made = {}
  local function tmppath(ext)
    local base = os.tmpname()
    os.remove(base)
    local p = base .. ext
    made[#made + 1] = p
    return p
  end
  local function track(p) made[#made + 1] = p end
  local function cleanup()
    for _, p in ipairs(made) do os.remove(p) end
    made = {}
  end
  return tmppath, cleanup, track
end

return M
