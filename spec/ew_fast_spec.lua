-- spec/ew_fast_spec.lua -- the typed, vectorized loops of the common
-- elementwise ops (core/ew_fast.c) give the same bits as the per-value
-- functions they replace.  The reference is the scalar path, which still
-- calls those functions: each array op is checked value by value against
-- the op on scalar Elements, forward and backward, float64 to the bit and
-- float32 as the float64 result of the widened values rounded once (a
-- float32 gradient that accumulates adds in float).  Lengths are odd and
-- run from 1 up, so the loops' leftover values after the vector part are
-- checked, with nan, infinities and signed zeros among the values.
local t = require "torchlet"
local helpers = require "spec.helpers"

local E = t.Element
local F32 = {dtype = "float32"}

-- x rounded to the nearest float32 (through a float32 array's store)
local function fround(x) return E({x}, F32).data[1] end

local function same(a, b)
  if a ~= a then return b ~= b end
  return a == b and 1 / a == 1 / b     -- +0 and -0 differ
end

-- A fixed pseudo-random sequence in [-4, 4), the same on every VM.
local function sequence(seed)
  return function()
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648 * 8 - 4
  end
end

local SPECIAL = {0 / 0, 1 / 0, -1 / 0, helpers.neg_zero, 0.0, 1e-30, -1e30, 2.5}

-- n values (specials spread among them when 'special'), float-exact in
-- float32 runs
local function values(n, seed, special, f32)
  local rnd, v = sequence(seed), {}
  for i = 1, n do v[i] = rnd() end
  if special then for j, s in ipairs(SPECIAL) do if j * 3 <= n then v[j * 3] = s end end end
  if f32 then for i = 1, n do v[i] = fround(v[i]) end end
  return v
end

-- The ops: what they do to Elements (array or scalar) x, y.
local K = 0.3                             -- not a float: read as a double
local unary = {
  neg = function(x) return -x end,
  relu = function(x) return x:relu() end,
  sqrt = function(x) return x:sqrt() end,
  abs = function(x) return x:abs() end,
  exp = function(x) return x:exp() end,
  log = function(x) return x:log() end,
  tanh = function(x) return x:tanh() end,
  sigmoid = function(x) return x:sigmoid() end,
  leaky_relu = function(x) return x:leaky_relu(0.1) end,
  ["x + k"] = function(x) return x + K end,
  ["x - k"] = function(x) return x - K end,
  ["x * k"] = function(x) return x * K end,
  ["x / k"] = function(x) return x / K end,
  ["k - x"] = function(x) return K - x end,
  ["k / x"] = function(x) return K / x end,
  ["x * x"] = function(x) return x * x end,
  ["x + x"] = function(x) return x + x end,
}
local binary = {
  ["x + y"] = function(x, y) return x + y end,
  ["x - y"] = function(x, y) return x - y end,
  ["x * y"] = function(x, y) return x * y end,
  ["x / y"] = function(x, y) return x / y end,
}

-- What x (and y) receive given the value 'out' and the gradient g, as
-- core/ops.c writes it: float32's reference, where 'out' is the rounded
-- value the backward pass reads (a scalar Element would hold the double).
local function sign(x) return (x > 0 and 1.0 or 0.0) - (x < 0 and 1.0 or 0.0) end
local GRAD = {
  neg = function(_, _, _, g) return -g end,
  relu = function(_, _, out, g) return out <= 0 and 0.0 or g end,
  sqrt = function(_, _, out, g) return g / (2 * out) end,
  abs = function(x, _, _, g) return g * sign(x) end,
  exp = function(_, _, out, g) return g * out end,
  log = function(x, _, _, g) return g / x end,
  tanh = function(_, _, out, g) return g * (1 - out * out) end,
  sigmoid = function(_, _, out, g) return g * (1 - out) * out end,
  leaky_relu = function(x, _, _, g) if x > 0 then return g end return g * 0.1 end,
  ["x + k"] = function(_, _, _, g) return g end,
  ["x - k"] = function(_, _, _, g) return g end,
  ["x * k"] = function(_, _, _, g) return g * K end,
  ["x / k"] = function(_, _, _, g) return g / K end,
  ["k - x"] = function(_, _, _, g) return -g end,
  ["k / x"] = function(x, _, out, g) return -g * (out / x) end,
  ["x * x"] = function(x, _, _, g) return g * x, g * x end,
  ["x + x"] = function(_, _, _, g) return g, g end,
  ["x + y"] = function(_, _, _, g) return g, g end,
  ["x - y"] = function(_, _, _, g) return g, -g end,
  ["x * y"] = function(x, y, _, g) return g * y, g * x end,
  ["x / y"] = function(_, y, out, g) return g / y, -g * (out / y) end,
}

local function sorted_keys(tab)
  local k = {}
  for name in pairs(tab) do k[#k + 1] = name end
  table.sort(k)
  return k
end

local LENGTHS = {1, 2, 3, 5, 7, 9, 15, 17, 37}

-- The array op over xs (and ys) against the scalar op value by value: the
-- values, and the gradients of sum(op(X, Y) * W) (the op's incoming
-- gradient is W).  float64: the scalar path's own values and gradients;
-- float32: the scalar value rounded, gradients by GRAD, rounded.
local function check(name, op, n, f32, special, two)
  local opts = f32 and F32 or nil
  local xs, ws = values(n, 1, special, f32), values(n, 2, false, f32)
  local ys = two and values(n, 3, special, f32) or nil
  local X, W = E(xs, opts), E(ws, opts)
  local Y = two and E(ys, opts) or nil
  local out = op(X, Y)
  local root = (out * W):sum()
  root:backward()
  local got, gx, gy = out.data, X.grad, Y and Y.grad
  for i = 1, n do
    local what = ("%s %s n=%d [%d]"):format(f32 and "float32" or "float64", name, n, i)
    local x, y = E(xs[i]), two and E(ys[i]) or nil
    local o = op(x, y)
    local wx, wy
    if f32 then
      local dx, dy = GRAD[name](xs[i], ys and ys[i], got[i], ws[i])
      wx, wy = fround(dx), dy and fround(dy)
      -- x * x, x + x: the second contribution is added in float
      if not two and dy then wx = fround(wx + wy) end
      assert(same(got[i], fround(o.data)), what .. (": value %.17g, scalar %.17g")
             :format(got[i], fround(o.data)))
    else
      local root = (o * ws[i])
      root:backward()
      wx, wy = x.grad, y and y.grad
      assert(same(got[i], o.data), what .. (": value %.17g, scalar %.17g"):format(got[i], o.data))
    end
    assert(same(gx[i], wx), what .. (": x grad %.17g, want %.17g"):format(gx[i], wx))
    if two then
      assert(same(gy[i], wy), what .. (": y grad %.17g, want %.17g"):format(gy[i], wy))
    end
  end
end

describe("vectorized elementwise ops equal the per-value path", function()
  for _, f32 in ipairs{false, true} do
    local dt = f32 and "float32" or "float64"
    for _, name in ipairs(sorted_keys(unary)) do
      it(("%s %s: values and gradients, odd lengths, nan, inf and -0"):format(dt, name), function()
        for _, n in ipairs(LENGTHS) do
          check(name, unary[name], n, f32, false, false)
          check(name, unary[name], n, f32, true, false)
        end
      end)
    end
    for _, name in ipairs(sorted_keys(binary)) do
      it(("%s %s: both gradients, odd lengths, nan, inf and -0"):format(dt, name), function()
        for _, n in ipairs(LENGTHS) do
          check(name, binary[name], n, f32, false, true)
          check(name, binary[name], n, f32, true, true)
        end
      end)
    end
  end
end)

describe("vectorized elementwise ops with a single second value", function()
  -- the array's gradient comes from the typed loop; the single value's is
  -- a sum, added in order of position, from +0 (float: in float)
  for _, f32 in ipairs{false, true} do
    local dt = f32 and "float32" or "float64"
    local opts = f32 and F32 or nil
    local r = f32 and fround or function(v) return v end
    for _, single in ipairs{"scalar Element", "one-value array"} do
      it(("%s: array * %s, array / %s"):format(dt, single, single), function()
        for _, n in ipairs{1, 7, 37} do
          local xs, ws = values(n, 4, true, f32), values(n, 5, false, f32)
          local c = f32 and fround(1.7) or 1.7
          for _, kind in ipairs{"mul", "div"} do
            local X, W = E(xs, opts), E(ws, opts)
            local S = single == "scalar Element" and E(c) or E({c}, opts)
            local out = kind == "mul" and X * S or X / S
            local root = (out * W):sum()
            root:backward()
            local acc = 0.0
            for i = 1, n do
              local xi, si = E(xs[i]), E(c)
              local o = kind == "mul" and xi * si or xi / si
              local what = ("%s x %s %s n=%d [%d]"):format(dt, kind, single, n, i)
              assert(same(out.data[i], r(o.data)), what .. " value")
              local g, v = ws[i], out.data[i]
              local dx = kind == "mul" and g * c or g / c
              local ds = kind == "mul" and g * xs[i] or -g * (v / c)
              assert(same(X.grad[i], r(dx)), what .. " x grad")
              -- a scalar Element's gradient is a double: no rounding
              if single == "scalar Element" then acc = acc + ds
              else acc = r(acc + r(ds)) end
            end
            local sg = single == "scalar Element" and S.grad or S.grad[1]
            assert(same(sg, acc), ("%s %s %s n=%d: sum %.17g, want %.17g"):format(
              dt, kind, single, n, sg, acc))
          end
        end
      end)
    end

    it(dt .. ": broadcasting a row over a matrix keeps the generic path's results", function()
      local ms, rs = values(15, 6, true, f32), values(5, 7, false, f32)
      local rows = {}
      for i = 1, 3 do rows[i] = {helpers.unpack(ms, i * 5 - 4, i * 5)} end
      local M, R = E(rows, opts), E(rs, opts)
      local out = M * R
      out:sum():backward()
      local acc = {0.0, 0.0, 0.0, 0.0, 0.0}
      for i = 1, 3 do
        for j = 1, 5 do
          local v = ms[(i - 1) * 5 + j]
          assert(same(out.data[i][j], r(v * rs[j])), ("%s [%d][%d] value"):format(dt, i, j))
          assert(same(M.grad[i][j], r(rs[j])), ("%s [%d][%d] grad"):format(dt, i, j))
          acc[j] = r(acc[j] + v)
        end
      end
      for j = 1, 5 do assert(same(R.grad[j], acc[j]), ("%s row grad [%d]"):format(dt, j)) end
    end)
  end
end)

describe("reductions' loops", function()
  -- float32 along a contiguous run: 8 partial sums in double, value i into
  -- sum i mod 8, combined as ((s1 + s5) + (s3 + s7)) + ((s2 + s6) + (s4 + s8))
  local function lanes_sum(v, first, n)
    local s = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}
    for i = 0, n - 1 do
      local l = i % 8 + 1
      s[l] = s[l] + v[first + i]
    end
    return ((s[1] + s[5]) + (s[3] + s[7])) + ((s[2] + s[6]) + (s[4] + s[8]))
  end
  local function seq_sum(v, first, n, step)
    local acc = 0.0
    for j = 0, n - 1 do acc = acc + v[first + j * step] end
    return acc
  end
  local function matrix(v, rows, cols, opts)
    local m = {}
    for i = 1, rows do m[i] = {helpers.unpack(v, (i - 1) * cols + 1, i * cols)} end
    return E(m, opts)
  end

  it("float32 sum and mean over everything and along the last axis: 8 partial sums in double", function()
    for _, n in ipairs{1, 7, 8, 9, 37, 1000} do
      -- values of very different sizes, so that the order shows
      local v = values(n, 8, false, true)
      for i = 1, n, 4 do v[i] = fround(v[i] * 1e7) end
      local X = E(v, F32)
      assert.are.equal(lanes_sum(v, 1, n), X:sum().data)
      assert.are.equal(lanes_sum(v, 1, n) / n, X:mean().data)
      local M = matrix(v, 1, n, F32)
      assert.are.equal(fround(lanes_sum(v, 1, n)), M:sum(2).data[1])
    end
    local v = values(3 * 37, 9, true, true)
    local M = matrix(v, 3, 37, F32)
    for r = 1, 3 do
      assert(same(fround(lanes_sum(v, (r - 1) * 37 + 1, 37)), M:sum(2).data[r]))
      assert(same(fround(lanes_sum(v, (r - 1) * 37 + 1, 37) / 37), M:mean(2).data[r]))
    end
  end)

  it("float64 sums stay one value at a time, in order", function()
    local v = values(3 * 37, 10, true, false)
    for i = 1, #v, 4 do v[i] = v[i] * 1e12 end
    local M = matrix(v, 3, 37)
    for r = 1, 3 do assert(same(seq_sum(v, (r - 1) * 37 + 1, 37, 1), M:sum(2).data[r])) end
    assert(same(seq_sum(v, 1, #v, 1), E(v):sum().data))
  end)

  it("along an axis with values after it: in order, blocks of positions at once, both dtypes", function()
    -- 70 columns: a block of 64 positions and 6 more
    for _, f32 in ipairs{false, true} do
      local opts = f32 and F32 or nil
      local r = f32 and fround or function(x) return x end
      local v = values(5 * 70, 11, true, f32)
      for i = 1, #v, 3 do v[i] = r(v[i] * 1e7) end
      local M = matrix(v, 5, 70, opts)
      local s, m, mx = M:sum(1).data, M:mean(1).data, M:max(1).data
      for j = 1, 70 do
        local acc = seq_sum(v, j, 5, 70)
        assert(same(r(acc), s[j]), ("sum column %d"):format(j))
        assert(same(r(acc / 5), m[j]), ("mean column %d"):format(j))
        local best = v[j]
        for i = 0, 4 do
          local x = v[i * 70 + j]
          if x > best or x ~= x then best = x end
        end
        assert(same(best, mx[j]), ("max column %d"):format(j))
      end
    end
  end)
end)
