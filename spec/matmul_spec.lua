-- matmul: against a plain Lua reference for odd, thin and transposed
-- shapes, and the kernel's promise that each C[i][j] is summed in one
-- order (products added one at a time as fused multiply-adds, p ascending
-- in blocks of 256), so the same product gives the same bits whichever
-- path computes it: packed or thin, alone or in a batch, an operand read
-- transposed in place or transposed first.  (The native kernel's order: a
-- core built with --blas sums in OpenBLAS's.)
local torchlet = require "torchlet"
local E = torchlet.Element

local function reference(a, b)         -- a: n x k rows, b: k x m rows
  local n, k, m = #a, #b, #b[1]
  local c, scale = {}, {}
  for i = 1, n do
    c[i], scale[i] = {}, {}
    for j = 1, m do
      local s, mag = 0.0, 0.0
      for p = 1, k do
        s = s + a[i][p] * b[p][j]
        mag = mag + math.abs(a[i][p] * b[p][j])
      end
      c[i][j], scale[i][j] = s, mag
    end
  end
  return c, scale
end

-- Within the rounding of k products: 2k ulps of their magnitudes' sum.
local function assert_close(want, scale, got, what)
  for i = 1, #want do
    for j = 1, #want[i] do
      local tol = 2 * #scale * 2.3e-16 * scale[i][j] + 1e-300
      if math.abs(want[i][j] - got[i][j]) > tol * 64 then
        error(("%s: [%d][%d] is %.17g, want %.17g"):format(what, i, j, got[i][j], want[i][j]))
      end
    end
  end
end

local function random_rows(n, m)
  return torchlet.randn(n, m).data
end

local function transpose(rows)
  local t = {}
  for j = 1, #rows[1] do
    t[j] = {}
    for i = 1, #rows do t[j][i] = rows[i][j] end
  end
  return t
end

describe("matmul", function()
  torchlet.manual_seed(11)

  it("matches the reference on odd and thin shapes", function()
    for _, n in ipairs{1, 2, 5, 6, 7, 13} do
      for _, k in ipairs{1, 3, 255, 257} do
        for _, m in ipairs{1, 7, 8, 9, 33} do
          local a, b = random_rows(n, k), random_rows(k, m)
          local want, scale = reference(a, b)
          assert_close(want, scale, E(a):matmul(E(b)).data, ("n %d k %d m %d"):format(n, k, m))
        end
      end
    end
  end)

  it("sums exactly where every partial sum is exact", function()
    -- small integers: no rounding anywhere, so any order must give these
    local a, b = {}, {}
    for i = 1, 7 do a[i] = {} for p = 1, 300 do a[i][p] = (i * p) % 7 - 3 end end
    for p = 1, 300 do b[p] = {} for j = 1, 9 do b[p][j] = (p + 2 * j) % 5 - 2 end end
    assert.are.same((reference(a, b)), E(a):matmul(E(b)).data)
  end)

  it("gives each row the same bits whatever the batch size", function()
    -- X W^T through nn's fused linear node reads W transposed in place:
    -- 40 rows go through the packed kernel, each row alone through the thin one
    local model = torchlet.nn.MLP(300, {70, 9})
    local X = random_rows(40, 300)
    local all = model(E(X)).data
    for i = 1, 40, 3 do
      assert.are.same(all[i], model(E({X[i]})).data[1])
    end
  end)

  it("gives the backward products, read transposed in place, the bits of transposing first", function()
    -- dA = G B^T and dB = A^T G
    for _, shape in ipairs{{1, 300, 9}, {7, 33, 5}, {64, 40, 3}, {30, 300, 70}} do
      local n, k, m = shape[1], shape[2], shape[3]
      local a, b, g = random_rows(n, k), random_rows(k, m), random_rows(n, m)
      local A, B = E(a), E(b)
      A:matmul(B):backward(E(g))
      assert.are.same(E(g):matmul(E(transpose(b))).data, A.grad)
      assert.are.same(E(transpose(a)):matmul(E(g)).data, B.grad)
      local want, scale = reference(g, transpose(b))
      assert_close(want, scale, A.grad, "dA")
    end
  end)

  -- The packing of row-major A and of a B read transposed goes through
  -- AVX2 transposes, 8 steps (float32) or 4 (float64) at a time, the rest
  -- value by value; whole tiles are written straight into C, and a last
  -- panel of at most one vector of columns takes a half-width kernel.
  -- None of it may change a bit: these shapes cross each of those edges
  -- (k = 300: a block of 256 and 44 more, not a multiple of 8; widths 100
  -- and 70 leave 4 and 6 columns in the last panel) in both dtypes.  With
  -- 20 inputs, A (40 x 20) is small enough to be read in place, unpacked,
  -- its last 4 rows one by one.
  for _, dtype in ipairs{"float64", "float32"} do
    local opts = {dtype = dtype}
    it(dtype .. ": each row the same bits alone as in a batch, at widths 100 and 70", function()
      for _, nin in ipairs{300, 20} do
        for _, sizes in ipairs{{100, 10}, {70, 9}, {16, 8}} do
          torchlet.manual_seed(5)
          local model = torchlet.nn.MLP(nin, sizes, opts)
          local X = random_rows(40, nin)
          local all = model(E(X, opts)).data
          for i = 1, 40, 3 do
            assert.are.same(all[i], model(E({X[i]}, opts)).data[1])
          end
        end
      end
    end)

    it(dtype .. ": products read transposed in place give the bits of transposing first", function()
      for _, shape in ipairs{{13, 300, 100}, {40, 37, 70}, {64, 64, 64}, {6, 9, 17}} do
        local n, k, m = shape[1], shape[2], shape[3]
        local a, b, g = random_rows(n, k), random_rows(k, m), random_rows(n, m)
        local A, B = E(a, opts), E(b, opts)
        local C = A:matmul(B)
        C:backward(E(g, opts))
        local at, bt = E(transpose(a), opts), E(transpose(b), opts)
        -- dA = G B^T reads B transposed in place (packed column by column),
        -- G B^T from a copy reads rows; dB = A^T G likewise with A
        assert.are.same(E(g, opts):matmul(bt).data, A.grad)
        assert.are.same(at:matmul(E(g, opts)).data, B.grad)
        local want, scale = reference(a, b)
        if dtype == "float64" then assert_close(want, scale, C.data, "C") end
      end
    end)
  end

  it("float32: whole tiles added into C equal the sums added one by one", function()
    -- k = 600 is three blocks of at most 256 steps: the second and third
    -- blocks' sums are added into C, in the kernel's vectors for whole
    -- tiles; small integers keep every partial sum exact, so the result is
    -- the exact product in any case
    local a, b = {}, {}
    for i = 1, 12 do a[i] = {} for p = 1, 600 do a[i][p] = (i * p) % 7 - 3 end end
    for p = 1, 600 do b[p] = {} for j = 1, 32 do b[p][j] = (p + 2 * j) % 5 - 2 end end
    assert.are.same((reference(a, b)), E(a, {dtype = "float32"}):matmul(E(b, {dtype = "float32"})).data)
  end)
end)
