local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local data = torchlet.data

local function count(y, label)
  local c = 0
  for _, v in ipairs(y) do if v == label then c = c + 1 end end
  return c
end

describe("data", function()
  describe("make_moons", function()
    it("makes sklearn's two half circles, labelled -1 and 1", function()
      local X, y = data.make_moons(101, {shuffle = false})
      assert.are.equal(101, #X)
      assert.are.equal(101, #y)
      assert.are.equal(50, count(y, -1))            -- n // 2 in the outer moon
      assert.are.equal(51, count(y, 1))
      for i = 1, #X do
        local x1, x2 = X[i][1], X[i][2]
        if y[i] == -1 then   -- (cos t, sin t), t in [0, pi]
          assert.is_true(math.abs(x1 * x1 + x2 * x2 - 1) < 1e-12)
          assert.is_true(x2 >= -1e-12)
        else                 -- (1 - cos t, 1 - sin t - 0.5)
          assert.is_true(math.abs((x1 - 1) ^ 2 + (x2 - 0.5) ^ 2 - 1) < 1e-12)
          assert.is_true(x2 <= 0.5 + 1e-12)
        end
      end
      -- the ends of sklearn's linspace: t = 0 and t = pi
      assert.are.same({1, 0}, X[1])
      assert.is_true(math.abs(X[50][1] + 1) < 1e-12)
      assert.are.same({0, 0.5}, X[51])
    end)

    it("is deterministic for a seed and differs between seeds", function()
      local X1, y1 = data.make_moons(100, {noise = 0.1, seed = 1})
      local X2, y2 = data.make_moons(100, {noise = 0.1, seed = 1})
      local X3 = data.make_moons(100, {noise = 0.1, seed = 2})
      assert.are.same(X1, X2)
      assert.are.same(y1, y2)
      assert.are_not.same(X1, X3)
    end)

    it("does not disturb the model generator", function()
      torchlet.manual_seed(4)
      local a = torchlet.nn.Neuron(2):parameters({scalar = true})[1].data
      torchlet.manual_seed(4)
      data.make_moons(10, {noise = 0.2, seed = 9})
      assert.are.equal(a, torchlet.nn.Neuron(2):parameters({scalar = true})[1].data)
    end)

    it("adds Gaussian noise of the given deviation", function()
      local clean = data.make_moons(2000, {shuffle = false})
      local noisy = data.make_moons(2000, {shuffle = false, noise = 0.1, seed = 3})
      local sum, sumsq, n = 0, 0, 0
      for i = 1, #clean do
        for j = 1, 2 do
          local d = noisy[i][j] - clean[i][j]
          sum, sumsq, n = sum + d, sumsq + d * d, n + 1
        end
      end
      local mean = sum / n
      local sd = math.sqrt(sumsq / n - mean * mean)
      assert.is_true(math.abs(mean) < 0.01)
      assert.is_true(math.abs(sd - 0.1) < 0.005)
    end)

    it("shuffles points and labels together", function()
      local X, y = data.make_moons(60, {seed = 5})
      local ordered = true
      for i = 1, #X do
        local x1, x2 = X[i][1], X[i][2]
        local on_outer = math.abs(x1 * x1 + x2 * x2 - 1) < 1e-12
        assert.are.equal(on_outer and -1 or 1, y[i])
        if i <= 30 and y[i] ~= -1 then ordered = false end
      end
      assert.is_false(ordered)
    end)

    it("gives 0/1 labels with binary = true", function()
      local _, y = data.make_moons(10, {binary = true})
      assert.are.equal(5, count(y, 0))
      assert.are.equal(5, count(y, 1))
    end)
  end)

  describe("make_circles", function()
    it("makes two circles of radius 1 and factor", function()
      local X, y = data.make_circles(40, {factor = 0.5, seed = 2})
      assert.are.equal(20, count(y, -1))
      assert.are.equal(20, count(y, 1))
      for i = 1, #X do
        local r = math.sqrt(X[i][1] ^ 2 + X[i][2] ^ 2)
        assert.is_true(math.abs(r - (y[i] == -1 and 1 or 0.5)) < 1e-12)
      end
    end)
  end)

  describe("make_blobs", function()
    it("makes k balanced clusters labelled 1..k", function()
      local X, y = data.make_blobs(90, {centers = 3, cluster_std = 0.5, seed = 7})
      assert.are.equal(90, #X)
      local means = {}
      for c = 1, 3 do
        assert.are.equal(30, count(y, c))
        means[c] = {0, 0}
      end
      for i = 1, #X do
        assert.is_true(helpers.is_integer(y[i]))
        local m = means[y[i]]
        m[1], m[2] = m[1] + X[i][1] / 30, m[2] + X[i][2] / 30
      end
      -- every point lies nearer its own cluster's mean than any other's
      for i = 1, #X do
        local best, bestd = nil, math.huge
        for c = 1, 3 do
          local d = (X[i][1] - means[c][1]) ^ 2 + (X[i][2] - means[c][2]) ^ 2
          if d < bestd then best, bestd = c, d end
        end
        assert.are.equal(y[i], best)
      end
    end)
  end)

  -- issue 19: the data sets had a Lua copy of the C generator, written with
  -- 5.3 integer operators, so torchlet.data did not load on 5.1 or LuaJIT
  describe("Generator", function()
    it("is xoshiro256** seeded through splitmix64", function()
      -- the top 53 bits of the first draws for seed 0, computed in Python
      local g = torchlet.Generator(0)
      assert.are.equal(5415695640260286 + 1, g:integer(2^53))
      assert.are.equal(6735350249106120 + 1, g:integer(2^53))
      assert.are.equal(927921571702396 * 2^-53, g:uniform())
      local h = torchlet.Generator(-1)     -- a seed is taken modulo 2^64
      assert.are.equal(0.5598927040505212, h:uniform())
      assert.are.equal(0.7674350796247662, h:uniform())
    end)

    it("draws what the model generator draws after manual_seed", function()
      torchlet.manual_seed(7)
      local u, n = torchlet.rand(5).data, torchlet.randn(5).data
      local g = torchlet.Generator(7)
      for i = 1, 5 do assert.are.equal(u[i], g:uniform()) end
      for i = 1, 5 do assert.are.equal(n[i], g:normal()) end
    end)

    it("keeps its own state", function()
      local a, b = torchlet.Generator(3), torchlet.Generator(3)
      local first = a:normal()
      torchlet.manual_seed(3)
      torchlet.randn(3)
      assert.are.equal(first, b:normal())
      assert.are.equal(a:normal(), b:normal())
      for _ = 1, 1000 do
        local k = a:integer(3)
        assert.is_true(k == 1 or k == 2 or k == 3)
      end
    end)

    it("refuses bad arguments", function()
      local fails = helpers.fails
      fails("bad argument #1 to 'Generator' (integer expected, got string)",
            torchlet.Generator, "1")
      fails("bad argument #1 to 'Generator' (integer expected, got number)",
            torchlet.Generator, 1.5)
      local g = torchlet.Generator(1)
      -- not tail calls (return g:f()): LuaJIT's would lose the method name
      fails("bad argument #1 to 'integer' (n must be in 1..2^53, got 0)", function() local _ = g:integer(0) end)
      fails("bad argument #1 to 'integer' (integer expected, got no value)",
            function() local _ = g:integer() end)
      fails("bad argument #1 to 'integer' (integer expected, got number)",
            function() local _ = g:integer(2.5) end)
      fails("bad argument #1 to 'uniform' (Generator expected, got table)", g.uniform, {})
    end)
  end)

  it("sets no globals when loaded", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    package.loaded["torchlet.data"] = nil
    local fresh = require "torchlet.data"
    package.loaded["torchlet.data"] = data
    assert.are.equal("function", type(fresh.make_moons))
    for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
  end)

  describe("bad input", function()
    local fails = helpers.fails

    it("rejects bad sizes and options", function()
      fails("bad argument #1 to 'make_moons' (number of samples must be an integer, got 2.5)",
            data.make_moons, 2.5)
      fails("number of samples must be in 2..10000000, got 1", data.make_moons, 1)
      fails("number of samples must be in 1..10000000, got 1099511627776", data.make_blobs, 2^40)
      fails("unknown option 'nosie'; known: binary, noise, seed, shuffle", data.make_moons, 10, {nosie = 0.1})
      fails("option 'noise' must be a number, got string", data.make_moons, 10, {noise = "x"})
      fails("option 'noise' must be >= 0, got -1", data.make_moons, 10, {noise = -1})
      fails("option 'seed' must be an integer, got 1.5", data.make_circles, 10, {seed = 1.5})
      fails("option 'factor' must be in [0, 1)", data.make_circles, 10, {factor = 1})
      fails("option 'centers' must be a positive integer", data.make_blobs, 10, {centers = 0})
      fails("options table expected, got string", data.make_blobs, 10, "x")
    end)

    -- issue 12: 1e12 centres used to be drawn one by one until memory ran out
    it("refuses more centres than samples", function()
      fails("bad argument #2 to 'make_blobs' (option 'centers' must be at most the "
            .. "number of samples (10), got 1000000000000", data.make_blobs, 10, {centers = 1e12})
      fails("must be at most the number of samples (10), got 11", data.make_blobs, 10,
            {centers = 11})
      local _, y = data.make_blobs(10, {centers = 10, shuffle = false})
      for i = 1, 10 do assert.are.equal(i, y[i]) end
    end)

    it("reads options raw, as the C functions do", function()
      -- an __index is not an option: noise stays 0, so the points are exact
      local opts = setmetatable({}, {__index = {noise = "x", centers = 1e12}})
      local X = data.make_moons(4, opts)
      assert.are.same(data.make_moons(4), X)
      local _, y = data.make_blobs(6, opts)           -- 3 centres, not 1e12
      table.sort(y)
      assert.are.same({1, 1, 2, 2, 3, 3}, y)
    end)
  end)
end)
