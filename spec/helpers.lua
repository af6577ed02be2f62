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

-- The numbers of a value (a number or nested tables, as x.data gives) in
-- row-major order, appended to 'out' when given.
function M.flat(v, out)
  out = out or {}
  if type(v) ~= "table" then out[#out + 1] = v return out end
  for i = 1, #v do M.flat(v[i], out) end
  return out
end

-- Collects until the core's live node count stops changing, and returns
-- it: what earlier code left is gone, even objects a finalizer kept for
-- one more cycle (a custom op's record, a model's Lua wrapper).
function M.settle()
  local t = require "torchlet"
  local n
  repeat
    n = t.memory().live_nodes
    collectgarbage("collect")
  until t.memory().live_nodes == n
  return n
end

-- Asserts that fn(...) raises an error whose message contains 'pattern'
-- (plain text, not a Lua pattern).
function M.fails(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing '" .. pattern .. "'")
  assert(tostring(err):find(pattern, 1, true),
         "expected '" .. pattern .. "' in: " .. tostring(err))
end

-- {== The same specs on every VM: Lua 5.4, 5.3, 5.1 and LuaJIT 2.1 ==========
-- Spec files keep to the Lua 5.1 subset (no //, bitwise operators, goto,
-- <close>, \u{} escapes) and reach what 5.1 spells differently through here.
-- io's "*a" is read as "a" from 5.3 on, so f:read("*a") needs no helper.

M.unpack = table.unpack or unpack

-- #t without __len: rawlen from 5.2 on; 5.1 tables have no __len.
M.rawlen = rawget(_G, "rawlen") or function(t) return #t end

-- -0, computed: Lua 5.1 keeps one constant for 0.0 and -0.0 in a chunk
-- (they are equal as table keys), so a literal -0.0 can read as 0.0 there.
M.neg_zero = -1 / math.huge

-- A maker of objects whose finalizer calls fn(): tables with __gc from 5.2
-- on; on 5.1 and LuaJIT, whose tables have no finalizers, userdata from
-- newproxy (the first is the prototype the others share a metatable with).
function M.finalized(fn)
  local newproxy, proto = rawget(_G, "newproxy"), nil
  local mt = {__gc = function() fn() end}
  return function()
    if not newproxy then return setmetatable({}, mt) end
    if proto then return newproxy(proto) end
    proto = newproxy(true)
    getmetatable(proto).__gc = mt.__gc
    return proto
  end
end

-- The tag of the specs that need Lua 5.3 or later (setup.sh runs Lua 5.1
-- and LuaJIT with --exclude-tags=lua53; doc/testing.md's "Specs on other Lua VMs" lists
-- each and why).
M.LUA53 = " #lua53"

-- load(string) is loadstring on 5.1 (LuaJIT's load takes strings too).
M.load = loadstring or load

-- Whether x is an integer: the integer subtype from 5.3 on, an integral
-- float where numbers are all floats.
function M.is_integer(x)
  if math.type then return math.type(x) == "integer" end
  return type(x) == "number" and x == math.floor(x)
end

-- The interpreter running the specs, for child processes.
M.lua = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")

-- 'path' (a package.path or cpath) with each relative template made
-- absolute from the current directory, for a child that runs elsewhere
-- (a plain `busted` gets relative ones from .busted).
function M.absolute_paths(path)
  local p = assert(io.popen("pwd"))
  local cwd = p:read("*l")
  p:close()
  return (path:gsub("[^;]+", function(t)
    return t:sub(1, 1) == "/" and t or cwd .. "/" .. t:gsub("^%./", "")
  end))
end

-- Runs a shell command; returns whether it exited 0, and its output
-- (stderr included).  5.1's popen close and os.execute give no exit status
-- as 5.2+ do, so the status is printed after the output and read back.
function M.run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit:$?\""))
  local out = p:read("*a")
  p:close()
  local body, status = out:match("^(.*)exit:(%d+)\n$")
  return status == "0", body, tonumber(status)
end

-- Two big-endian 32-bit unsigned integers at byte 'pos' of s (string.unpack
-- ">I4I4" from 5.3 on).
function M.be32x2(s, pos)
  local function be32(i)
    local a, b, c, d = s:byte(i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
  end
  return be32(pos), be32(pos + 4)
end

-- string.pack for the little-endian formats the model files use ("<", "I4",
-- "I8", "d"), in arithmetic where 5.1 has no string.pack.
local function le_bytes(x, n)
  local b = {}
  for i = 1, n do b[i] = x % 256; x = math.floor(x / 256) end
  return string.char(M.unpack(b))
end

local function double_bytes(x)
  local sign = (x < 0 or (x == 0 and 1 / x < 0)) and 128 or 0
  local e, m                                   -- biased exponent, 52-bit mantissa
  if x ~= x then e, m = 2047, 2 ^ 51
  elseif math.abs(x) == math.huge then e, m = 2047, 0
  elseif x == 0 then e, m = 0, 0
  else
    local f, ex = math.frexp(math.abs(x))      -- |x| = f * 2^ex, f in [0.5, 1)
    if ex - 1 + 1023 >= 1 then e, m = ex - 1 + 1023, (f * 2 - 1) * 2 ^ 52
    else e, m = 0, math.abs(x) * 2 ^ 1022 * 2 ^ 52 end   -- subnormal
  end
  local hi = sign * 2 ^ 24 + e * 2 ^ 20 + math.floor(m / 2 ^ 32)
  return le_bytes(m % 2 ^ 32, 4) .. le_bytes(hi, 4)
end

M.pack = string.pack or function(fmt, ...)
  local args, out, i = {...}, {}, 0
  for item in fmt:gmatch("[^<]%d*") do
    i = i + 1
    if item == "d" then out[i] = double_bytes(args[i])
    elseif item == "I4" then out[i] = le_bytes(args[i], 4)
    elseif item == "I8" then out[i] = le_bytes(args[i], 8)
    else error("pack: format item '" .. item .. "' not supported") end
  end
  return table.concat(out)
end

-- The little-endian 32-bit unsigned integer at byte 'pos' of s.
function M.u32le(s, pos)
  local a, b, c, d = s:byte(pos, pos + 3)
  return ((d * 256 + c) * 256 + b) * 256 + a
end

-- 64-bit FNV-1a of s (the model files' checksum) as its 8 little-endian
-- bytes, in byte arithmetic (no 64-bit integers on 5.1).
function M.fnv1a_le(s)
  local h = {0x25, 0x23, 0x22, 0x84, 0xe4, 0x9c, 0xf2, 0xcb}   -- 0xcbf29ce484222325
  for i = 1, #s do
    local a, c, x = h[1], s:byte(i), 0
    for bit = 0, 7 do                          -- h[1] xor c, bit by bit
      if (math.floor(a / 2 ^ bit) + math.floor(c / 2 ^ bit)) % 2 == 1 then x = x + 2 ^ bit end
    end
    h[1] = x
    -- h * 0x100000001b3 = h * 0x1b3 + h * 2^40, modulo 2^64
    local r, carry = {}, 0
    for k = 1, 8 do
      local v = h[k] * 0x1b3 + (k > 5 and h[k - 5] or 0) + carry
      r[k] = v % 256
      carry = math.floor(v / 256)
    end
    h = r
  end
  return string.char(M.unpack(h))
end

-- The code points of a UTF-8 string: an iterator of (byte position, code
-- point), as utf8.codes; raises on a malformed sequence.
function M.utf8_codes(s)
  local i = 1
  return function()
    if i > #s then return nil end
    local pos, c = i, s:byte(i)
    local n, cp
    if c < 0x80 then n, cp = 0, c
    elseif c >= 0xC2 and c < 0xE0 then n, cp = 1, c - 0xC0
    elseif c >= 0xE0 and c < 0xF0 then n, cp = 2, c - 0xE0
    elseif c >= 0xF0 and c < 0xF5 then n, cp = 3, c - 0xF0
    else error("invalid UTF-8 code at byte " .. pos) end
    for k = 1, n do
      local b = s:byte(i + k)
      if not b or b < 0x80 or b >= 0xC0 then error("invalid UTF-8 code at byte " .. pos) end
      cp = cp * 64 + (b - 0x80)
    end
    local min = ({[0] = 0, 0x80, 0x800, 0x10000})[n]
    if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp < 0xE000) then
      error("invalid UTF-8 code at byte " .. pos)
    end
    i = i + n + 1
    return pos, cp
  end
end

-- }===========================================================================

-- Files: the whole content, a whole write, and whether a path exists.
function M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
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
