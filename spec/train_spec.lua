-- spec/train_spec.lua -- training utilities: data.batches,
-- optim.clip_grad_norm and the learning-rate schedules, the last two
-- against PyTorch 1.13's values (spec/reference/train_torch.py).
-- Kept to the Lua 5.1 subset: setup.sh runs it on every VM.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local reference = require "spec.reference.train_torch"
local E, data, optim = torchlet.Element, torchlet.data, torchlet.optim
local fails = helpers.fails

local function is_nan(x) return x ~= x end

-- Bit-for-bit equality of nested tables of numbers: nan equals nan, and
-- 0 and -0 differ.
local function same(expected, actual, where)
  if type(expected) == "table" then
    assert(type(actual) == "table", where .. ": table expected")
    assert.are.equal(#expected, #actual, where .. ": length")
    for i = 1, #expected do same(expected[i], actual[i], where .. "[" .. i .. "]") end
    return
  end
  local ok = (is_nan(expected) and is_nan(actual)) or
    (expected == actual and (expected ~= 0 or 1 / expected == 1 / actual))
  assert(ok, ("%s: expected %.17g, got %.17g"):format(where, expected, actual))
end

-- The labels of every batch, as one string ("1,2|3,4|5").
local function label_runs(X, y, size, opts)
  local runs = {}
  for _, yb in data.batches(X, y, size, opts) do runs[#runs + 1] = table.concat(yb, ",") end
  return table.concat(runs, "|")
end

describe("data.batches", function()
  local X, y = {}, {}
  for i = 1, 10 do X[i], y[i] = {i, -i, i / 4}, i end

  it("cuts the rows in order into data Elements of 'size' rows", function()
    local seen = 0
    for Xb, yb in data.batches(X, y, 4) do
      assert.is_true(torchlet.is_element(Xb))
      assert.is_false(Xb.requires_grad)
      assert.are.equal(3, Xb.shape[2])
      assert.are.equal(#yb, Xb.shape[1])
      local rows = Xb.data
      for i = 1, #yb do
        seen = seen + 1
        assert.are.equal(seen, yb[i])
        same(X[seen], rows[i], "row " .. seen)
      end
    end
    assert.are.equal(10, seen)
    assert.are.equal("1,2,3,4|5,6,7,8|9,10", label_runs(X, y, 4))
    assert.are.equal("1,2,3,4|5,6,7,8", label_runs(X, y, 4, {drop_last = true}))
    assert.are.equal("1,2,3,4,5,6,7,8,9,10", label_runs(X, y, 64))
    assert.are.equal("", label_runs(X, y, 64, {drop_last = true}))
    assert.are.equal("1,2,3,4,5|6,7,8,9,10", label_runs(X, y, 5, {drop_last = true}))
  end)

  it("shuffles the same way for a seed, on every VM", function()
    -- recorded on Lua 5.4: Fisher-Yates from torchlet.Generator(seed)
    assert.are.equal("8,4,2,9|6,3,5,10|7,1", label_runs(X, y, 4, {shuffle = true, seed = 1}))
    assert.are.equal("3,2,6,1|4,5,9,10|8,7", label_runs(X, y, 4, {shuffle = true, seed = 2}))
    assert.are.equal(label_runs(X, y, 3, {shuffle = true}),
                     label_runs(X, y, 3, {shuffle = true, seed = 0}))
    -- every row once, rows and labels kept together
    local count = 0
    for Xb, yb in data.batches(X, y, 3, {shuffle = true, seed = 5}) do
      local rows = Xb.data
      for i = 1, #yb do
        count = count + 1
        same(X[yb[i]], rows[i], "row of label " .. yb[i])
      end
    end
    assert.are.equal(10, count)
  end)

  it("draws a new order each epoch from a generator", function()
    local g = torchlet.Generator(1)
    local first = label_runs(X, y, 4, {shuffle = true, generator = g})
    local second = label_runs(X, y, 4, {shuffle = true, generator = g})
    assert.are.equal(label_runs(X, y, 4, {shuffle = true, seed = 1}), first)
    assert.are_not.equal(first, second)
  end)

  it("takes array Elements, and gives y back as one when it was", function()
    local XA, yA = E(X), E(y)
    local n = 0
    for Xb, yb in data.batches(XA, yA, 4, {shuffle = true, seed = 3}) do
      assert.is_true(torchlet.is_element(yb))
      assert.is_false(yb.requires_grad)
      local rows, labels = Xb.data, yb.data
      for i = 1, #labels do
        n = n + 1
        same(X[labels[i]], rows[i], "row")
      end
    end
    assert.are.equal(10, n)
    -- the same order as from tables
    assert.are.equal(label_runs(X, y, 4, {shuffle = true, seed = 3}), label_runs(XA, y, 4, {shuffle = true, seed = 3}))
    -- a vector of samples gives vector batches
    local runs = {}
    for Xb in data.batches({5, 6, 7}, {1, 2, 3}, 2) do runs[#runs + 1] = Xb.data end
    same({{5, 6}, {7}}, runs, "vector batches")
  end)

  it("trains a classifier on minibatches", function()
    torchlet.manual_seed(1)
    local Xs, ys = data.make_blobs(120, {centers = 3, cluster_std = 0.5, seed = 4})
    local model = torchlet.nn.MLP(2, {16, 3})
    local opt = optim.Adam(model:parameters(), {lr = 0.05})
    local function full_loss()
      return torchlet.loss.cross_entropy(model(E(Xs, {requires_grad = false})), ys).data
    end
    local before = full_loss()
    for epoch = 1, 10 do
      for Xb, yb in data.batches(Xs, ys, 16, {shuffle = true, seed = epoch}) do
        opt:zero_grad()
        torchlet.loss.cross_entropy(model(Xb), yb):backward()
        opt:step()
      end
    end
    local after = full_loss()
    assert.is_true(after < before / 10, ("loss %g -> %g"):format(before, after))
  end)

  it("refuses bad arguments", function()
    fails("bad argument #1 to 'batches' (X must be an array Element or a table of rows, got number)",
          data.batches, 1, y, 2)
    fails("X must be an array Element or a table of rows, got a scalar Element", data.batches, E(1), {1}, 1)
    fails("bad argument #1 to 'batches' (X has no rows)", data.batches, {}, {}, 1)
    fails("bad argument #1 to 'batches' (row 2 has 1 values, row 1 has 2)", data.batches, {{1, 2}, {3}}, {1, 2}, 1)
    fails("row 2 must be a table like row 1, got number", data.batches, {{1, 2}, 3}, {1, 2}, 1)
    fails("row 2 must be a number like row 1, got table", data.batches, {1, {2}}, {1, 2}, 1)
    fails("value 2 of row 1 must be a number, got string", data.batches, {{1, "2"}}, {1}, 1)
    fails("bad argument #2 to 'batches' (y has 9 rows, X has 10)", data.batches, X, {1, 2, 3, 4, 5, 6, 7, 8, 9}, 2)
    fails("bad argument #2 to 'batches' (y must be a table of labels or an array Element, got nil)",
          data.batches, X)
    fails("bad argument #3 to 'batches' (batch size must be a positive integer, got 0)", data.batches, X, y, 0)
    fails("batch size must be a positive integer, got 1.5", data.batches, X, y, 1.5)
    fails("batch size must be a positive integer, got nil", data.batches, X, y)
    fails("bad argument #4 to 'batches' (unknown option 'shufle'; known: drop_last, generator, seed, shuffle)",
          data.batches, X, y, 2, {shufle = true})
    fails("bad argument #4 to 'batches' (option 'shuffle' must be a boolean, got number)",
          data.batches, X, y, 2, {shuffle = 1})
    fails("bad argument #4 to 'batches' (option 'seed' must be an integer, got 0.5)",
          data.batches, X, y, 2, {seed = 0.5})
    fails("option 'generator' must be a torchlet.Generator", data.batches, X, y, 2, {generator = io.stdout})
    fails("options 'seed' and 'generator' exclude each other",
          data.batches, X, y, 2, {seed = 1, generator = torchlet.Generator(1)})
    fails("bad argument #4 to 'batches' (options table expected, got string)", data.batches, X, y, 2, "x")
  end)
end)

describe("optim.clip_grad_norm", function()
  -- Parameters holding the given gradients (a number gives a scalar).
  local function params_with(grads)
    local ps = {}
    for i, g in ipairs(grads) do
      local p
      if type(g) == "table" then
        p = E(g)
        p.grad = g
      else
        p = E(0)
        p.grad = g
      end
      ps[i] = p
    end
    return ps
  end

  it("gives PyTorch's total norm and scaled gradients", function()
    for _, c in ipairs(reference.clips) do
      local name, grads, max_norm, norm_type, total, after = c[1], c[2], c[3], c[4], c[5], c[6]
      local ps = params_with(grads)
      local got = optim.clip_grad_norm(ps, max_norm, {norm_type = norm_type})
      local ok = (is_nan(total) and is_nan(got)) or math.abs(got - total) <= 1e-14 * math.abs(total)
        or got == total
      assert(ok, ("%s: total %.17g, PyTorch %.17g"):format(name, got, total))
      for i, p in ipairs(ps) do
        local g = p.grad
        -- within 2 ulp: PyTorch sums the squares in another order
        local function close(e, a, where)
          if type(e) == "table" then
            for j = 1, #e do close(e[j], a[j], where .. "[" .. j .. "]") end
          elseif is_nan(e) or e == 0 or e == math.huge or e == -math.huge then
            same(e, a, where)
          else
            assert(math.abs(a - e) <= 4.5e-16 * math.abs(e), ("%s: %.17g, PyTorch %.17g"):format(where, a, e))
          end
        end
        close(after[i], g, name .. ": grad " .. i)
      end
    end
  end)

  it("takes a model's parameters, both views, and one Element", function()
    torchlet.manual_seed(2)
    local model = torchlet.nn.MLP(3, {4, 2})
    local out = model(E({{1, 2, 3}, {-1, 0.5, 2}}))
    ;(out * out):sum():backward()
    local params = model:parameters()
    local grads, sq = {}, 0
    for i, p in ipairs(params) do
      grads[i] = p.grad
      for _, row in ipairs(type(grads[i][1]) == "table" and grads[i] or {grads[i]}) do
        for _, v in ipairs(row) do sq = sq + v * v end
      end
    end
    local total = optim.clip_grad_norm(params, 0.5)
    helpers.near(math.sqrt(sq), total, 1e-13, "total")
    -- the scalar view now sees gradients of norm 0.5 (less 1e-6 relative)
    local sq2 = 0
    for _, p in ipairs(model:parameters({scalar = true})) do sq2 = sq2 + p.grad * p.grad end
    helpers.near(0.5, math.sqrt(sq2), 1e-6, "clipped norm")
    helpers.near(0.5, optim.clip_grad_norm(model:parameters({scalar = true}), 0.25), 1e-6, "scalar view")
    local x = E({3, 4})
    x.grad = {3, 4}
    assert.are.equal(5, optim.clip_grad_norm(x, 1))
    helpers.near(0.6, x.grad[1], 1e-6, "one Element")
    assert.are.equal(0, optim.clip_grad_norm({}, 1))
  end)

  it("leaves an absent gradient absent", function()
    -- with weight decay SGD moves a parameter that has a gradient, even a
    -- zero one, and leaves one without alone (PyTorch's grad is None)
    local p, q = E({1, 2}), E({3, 4})
    local opt = optim.SGD({p, q}, {lr = 0.1, weight_decay = 1})
    q.grad = {3, 4}
    p:zero_grad()
    assert.are.equal(5, optim.clip_grad_norm({p, q}, 0))   -- scales by 0
    opt:step()
    same({1, 2}, p.data, "p")
    same({2.7, 3.6}, q.data, "q")
  end)

  it("refuses bad arguments", function()
    local ps = {E({1, 2})}
    fails("bad argument #1 to 'clip_grad_norm' (table of Elements expected, got number)", optim.clip_grad_norm, 1, 1)
    fails("bad argument #1 to 'clip_grad_norm' (parameter 2 must be an Element, got number)",
          optim.clip_grad_norm, {E(1), 2}, 1)
    fails("bad argument #2 to 'clip_grad_norm' (max_norm must be a number >= 0, got -1)",
          optim.clip_grad_norm, ps, -1)
    fails("max_norm must be a number >= 0, got nil", optim.clip_grad_norm, ps)
    fails("max_norm must be a number >= 0, got nan", optim.clip_grad_norm, ps, 0 / 0)
    fails("bad argument #3 to 'clip_grad_norm' (unknown option 'norm'; known: norm_type)",
          optim.clip_grad_norm, ps, 1, {norm = 2})
    fails("bad argument #3 to 'clip_grad_norm' (option 'norm_type' must be > 0", optim.clip_grad_norm, ps, 1, {norm_type = 0})
    fails("option 'norm_type' must be a number, got string", optim.clip_grad_norm, ps, 1, {norm_type = "inf"})
  end)
end)

describe("optim.schedule", function()
  it("gives PyTorch's learning rates for 30 steps", function()
    for _, c in ipairs(reference.schedules) do
      local kind, opts, lrs = c[1], c[2], c[3]
      local opt = optim.SGD({E({1, 2})}, {lr = 0.1})
      local s = optim.schedule[kind](opt, opts)
      local where = kind .. " " .. #lrs
      same(lrs[1], s:get_lr(), where .. " at 0")
      same(lrs[1], opt.lr, where .. " at 0")
      for i = 2, #lrs do
        s:step()
        same(lrs[i], opt.lr, ("%s step %d"):format(kind, i - 1))
        same(lrs[i], s:get_lr(), ("%s step %d"):format(kind, i - 1))
      end
      assert.are.equal(30, s.last_epoch)
    end
  end)

  it("goes on from an lr set by hand, as PyTorch's chainable forms", function()
    local opt = optim.Adam({E(1)}, {lr = 1})
    local s = optim.schedule.exponential(opt, {gamma = 0.5})
    s:step()
    assert.are.equal(0.5, opt.lr)
    opt.lr = 8
    s:step()
    assert.are.equal(4, opt.lr)
    assert.are.equal("ExponentialLR(epoch 2, lr=4)", tostring(s))
  end)

  it("refuses bad arguments", function()
    local opt = optim.SGD({E(1)}, {lr = 0.1})
    local S = optim.schedule
    fails("bad argument #1 to 'schedule.step' (optimizer expected (a value with a number 'lr'), got number)",
          S.step, 1, {step_size = 2})
    fails("bad argument #2 to 'schedule.step' (option 'step_size' is required)", S.step, opt, {})
    fails("bad argument #2 to 'schedule.step' (option 'step_size' is required)", S.step, opt)
    fails("option 'step_size' must be a positive integer, got 0", S.step, opt, {step_size = 0})
    fails("bad argument #2 to 'schedule.step' (unknown option 'gama'; known: gamma, step_size)",
          S.step, opt, {step_size = 1, gama = 0.5})
    fails("bad argument #2 to 'schedule.exponential' (option 'gamma' is required)", S.exponential, opt)
    fails("option 'gamma' must be a finite number >= 0, got -0.5", S.exponential, opt, {gamma = -0.5})
    fails("option 'gamma' must be a finite number >= 0, got nan", S.exponential, opt, {gamma = 0 / 0})
    fails("bad argument #2 to 'schedule.cosine' (option 'T_max' must be a positive integer, got 2.5)",
          S.cosine, opt, {T_max = 2.5})
    fails("option 'eta_min' must be a number, got string", S.cosine, opt, {T_max = 2, eta_min = "0"})
    fails("bad argument #2 to 'schedule.linear' (option 'start_factor' must be in (0, 1], got 0)",
          S.linear, opt, {start_factor = 0})
    fails("option 'end_factor' must be in [0, 1], got 2", S.linear, opt, {end_factor = 2})
    fails("bad argument #1 to 'step' (schedule expected, got table)", S.step(opt, {step_size = 1}).step, {})
    fails("bad argument #1 to 'get_lr' (schedule expected, got nil)", S.step(opt, {step_size = 1}).get_lr)
    assert.are.equal(0.1, opt.lr)   -- none of the refused calls touched it
  end)
end)
