-- matmul against a plain Lua reference that sums in the kernel's documented
-- order (p ascending from 0 in blocks of 256, each block's sum then added
-- to the result), for odd, thin and transposed shapes: the products must
-- agree bit for bit, whichever path (packed or thin) the kernel takes.
-- (The native kernel's order: a core built with --blas sums in OpenBLAS's.)
local torchlet = require "torchlet"
local E = torchlet.Element

local KC = 256

local function reference(a, b)         -- a: n x k rows, b: k x m rows
  local n, k, m = #a, #b, #b[1]
  local c = {}
  for i = 1, n do
    c[i] = {}
    for j = 1, m do
      local s = 0.0
      for p0 = 1, k, KC do
        local acc = 0.0
        for p = p0, math.min(p0 + KC - 1, k) do acc = acc + a[i][p] * b[p][j] end
        s = s + acc
      end
      c[i][j] = s
    end
  end
  return c
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

  it("matches the reference bit for bit on odd and thin shapes", function()
    for _, n in ipairs{1, 2, 5, 6, 7, 13} do
      for _, k in ipairs{1, 3, 255, 257} do
        for _, m in ipairs{1, 7, 8, 9, 33} do
          local a, b = random_rows(n, k), random_rows(k, m)
          local got = E(a):matmul(E(b)).data
          assert.are.same(reference(a, b), got, ("n %d k %d m %d"):format(n, k, m))
        end
      end
    end
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

  it("gives the backward products bit for bit too", function()
    -- dA = G B^T and dB = A^T G, with transposed operands read in place
    for _, shape in ipairs{{1, 300, 9}, {7, 33, 5}, {64, 40, 3}} do
      local n, k, m = shape[1], shape[2], shape[3]
      local a, b, g = random_rows(n, k), random_rows(k, m), random_rows(n, m)
      local A, B = E(a), E(b)
      A:matmul(B):backward(E(g))
      assert.are.same(reference(g, transpose(b)), A.grad)
      assert.are.same(reference(transpose(a), g), B.grad)
    end
  end)
end)
