-- spec/ops_extra_spec.lua -- softmax, log_softmax, logsumexp, min,
-- argmax/argmin, clamp, cat, stack, narrow/slice and the losses l1, huber
-- and nll (core/ops_extra.c, core/loss.c): values and gradients against
-- PyTorch 1.13 (float64, recorded below; gradients of sum(y * (1, 2, ...))),
-- gradients against central differences, float32 against float64, and
-- every bad input.
local t = require "torchlet"
local helpers = require "spec.helpers"

local E = t.Element
local near, flat, fails = helpers.near, helpers.flat, helpers.fails

-- Recorded with PyTorch 1.13 (torch.float64): for each op y = f(x), the
-- value and x's gradient of (y * w).sum(), w = 1, 2, ... in y's shape;
-- positions + 1 for argmax/argmin; the losses' values and gradients.
local torch_ref = {
  softmax1 = {value = {{7.484462255725388e-05, 0.0052153946951935684, 0.5617016314080712, 0.9206646937091587}, {2.1443343381843624e-05, 0.9938783056019722, 0.3406892610595999, 0.003762546174652858}, {0.9999037120340608, 0.0009062997028343186, 0.09760910753232893, 0.0755727601161885}}, grad = {{-0.0005987057470420579, -0.020771684256117338, -1.20408041449111, -0.5704735500468249}, {-8.575869490793867e-05, 0.01713086411873477, 0.6324453560900455, 0.012718789687880866}, {0.0006844644419507813, 0.0036408201373815136, 0.5716350584010648, 0.5577547603589438}}},
  softmax2 = {value = {{0.03884852967827135, 0.006750862199444865, 0.17410703085781265, 0.7802935772644711}, {0.007913989172717439, 0.9147327762844549, 0.0750858386825446, 0.002267395860283154}, {0.9998160690395972, 2.2599136624224013e-06, 5.828394153738243e-05, 0.00012338710520289078}}, grad = {{-0.1047296399638299, -0.01144842033321519, -0.12115162105071178, 0.23732968134775712}, {-0.00848147475502671, -0.06559241501071161, 0.06970168538665214, 0.004372204379085703}, {-0.0004888991721059037, 2.2588085892466416e-06, 0.00011653938286192865, 0.0003701009806576246}}},
  log_softmax1 = {value = {{-9.500096292601922, -5.25614050879246, -0.5767844750362334, -0.08265937664946181}, {-10.750096292601922, -0.006140508792460312, -1.0767844750362334, -5.582659376649461}, {-9.629260192296353e-05, -7.00614050879246, -2.3267844750362334, -2.582659376649462}}, grad = {{0.9988773306616412, 1.9061228954865157, -8.795734259569494, -18.095952649019807}, {4.9996783498492725, -11.8898095008355, -0.15447448225159793, 7.909698891808332}, {-5.998555680510912, 9.983686605348982, 8.950208741821092, 10.186253757211476}}},
  log_softmax2 = {value = {{-3.2480850490038047, -4.998085049003804, -1.7480850490038045, -0.24808504900380454}, {-4.839123304137424, -0.08912330413742449, -2.5891233041374244, -6.089123304137424}, {-0.00018394787777631507, -13.000183947877776, -9.750183947877776, -9.000183947877776}}, grad = {{0.6115147032172865, 1.9324913780055513, 1.2589296914218733, -3.8029357726447115}, {4.794236281509346, -17.783052183395828, 5.04776819425384, 7.941047707632638}, {-32.99227489966308, 9.999905083626178, 10.99755207445543, 11.994817741581478}}},
  logsumexp1 = {value = {10.000096292601922, 4.00614050879246, 2.5767844750362334, 3.582659376649462}, grad = {{7.484462255725392e-05, 0.010430789390387139, 1.6851048942242135, 3.682658774836635}, {2.1443343381843638e-05, 1.987756611203945, 1.0220677831787996, 0.015050184698611439}, {0.9999037120340615, 0.0018125994056686376, 0.2928273225969868, 0.30229104046475397}}},
  logsumexp2 = {value = {3.7480850490038047, 4.089123304137424, 10.000183947877776}, grad = {{0.03884852967827135, 0.0067508621994448615, 0.17410703085781262, 0.7802935772644711}, {0.015827978345434878, 1.82946555256891, 0.15017167736508924, 0.004534791720566308}, {2.9994482071187925, 6.779740987267207e-06, 0.00017485182461214735, 0.0003701613156086724}}},
  logsumexp_all = {value = 10.00480895433345, grad = {{7.449273498352993e-05, 1.2944896316496926e-05, 0.0003338532761952761, 0.0014962265790209243}, {2.134252590401622e-05, 0.0024668605866186837, 0.00020249224785794483, 6.114736048613512e-06}, {0.9952025901743564, 2.2494856804748123e-06, 5.801500033830375e-05, 0.00012281775667997337}}},
  min1 = {value = {-0.75, -3.0, 0.25, -2.0}, grad = {{0.0, 0.0, 0.0, 0.0}, {1.0, 0.0, 0.0, 4.0}, {0.0, 2.0, 3.0, 0.0}}},
  min2 = {value = {-1.25, -2.0, -3.0}, grad = {{0.0, 1.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 2.0}, {0.0, 3.0, 0.0, 0.0}}},
  min_all = {value = -3.0, grad = {{0.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0}, {0.0, 1.0, 0.0, 0.0}}},
  clamp = {value = {{0.5, -1.0, 2.0, 2.0}, {-0.75, 2.0, 1.5, -1.0}, {2.0, -1.0, 0.25, 1.0}}, grad = {{1.0, 0.0, 3.0, 0.0}, {5.0, 0.0, 7.0, 0.0}, {0.0, 0.0, 11.0, 12.0}}},
  clamp_lo = {value = {{0.5, 0.25, 2.0, 3.5}, {0.25, 4.0, 1.5, 0.25}, {10.0, 0.25, 0.25, 1.0}}, grad = {{1.0, 0.0, 3.0, 4.0}, {0.0, 6.0, 7.0, 0.0}, {9.0, 0.0, 11.0, 12.0}}},
  clamp_hi = {value = {{0.5, -1.25, 1.0, 1.0}, {-0.75, 1.0, 1.0, -2.0}, {1.0, -3.0, 0.25, 1.0}}, grad = {{1.0, 2.0, 0.0, 0.0}, {5.0, 0.0, 0.0, 8.0}, {0.0, 10.0, 11.0, 12.0}}},
  clamp_bounds = {value = {-1.0, -1.0, 0.0, 1.0, 1.0}, grad = {0.0, 2.0, 3.0, 4.0, 0.0}},
  clamp_point = {value = {1.0, 1.0, 1.0, 1.0, 1.0}, grad = {0.0, 0.0, 0.0, 4.0, 0.0}},
  softmax3d_axis2 = {value = {{{0.5922010701861591, 0.004176580992807663}, {0.3591881057825386, 0.6198595793903612}, {0.04861082403130227, 0.3759638396168312}}, {{0.8800902045129193, 0.19619870436465017}, {0.000802538385556517, 0.6848007660422947}, {0.11910725710152432, 0.11900052959305522}}}, grad = {{{-0.5405726893409905, -0.011458761181089657}, {0.3905023016764539, -0.4609117875067657}, {0.15007038766453662, 0.4723705486878547}}, {{-0.420713133389562, -0.36210504499029494}, {0.001221436052103161, 0.1057307384413099}, {0.4194916973374581, 0.25637430654898447}}}},
  log_softmax3d_axis3 = {value = {{{-0.048587351573741965, -3.048587351573742}, {-2.5788897342925496, -0.07888973429254957}, {-4.0181499279178094, -0.01814992791780978}}, {{-0.01814992791780978, -4.0181499279178094}, {-4.264163456931505, -0.014163456931505055}, {-0.07888973429254957, -2.5788897342925496}}}, grad = {{{-1.8577223804672998, 1.8577223804672998}, {2.468992739851295, -2.468992739851296}, {4.802151690416993, -4.802151690416993}}, {{-7.730206850568627, 7.730206850568627}, {8.732791086178336, -8.732791086178334}, {-10.2552618595114, 10.255261859511398}}}},
  logsumexp3d_axis2 = {value = {{1.5239090561799076, 3.478262311448824}, {4.127730871634859, 1.628627335518702}}, grad = {{{0.5922010701861592, 0.008353161985615325}, {0.3591881057825386, 1.2397191587807221}, {0.04861082403130227, 0.7519276792336623}}, {{2.640270613538758, 0.7847948174586008}, {0.002407615156669551, 2.7392030641691787}, {0.357321771304573, 0.47600211837222084}}}},
  narrow3d = {value = {{{0.5, 3.0}, {-1.5, 2.5}}, {{-3.0, 1.25}, {2.0, -0.5}}}, grad = {{{0.0, 0.0}, {1.0, 2.0}, {3.0, 4.0}}, {{0.0, 0.0}, {5.0, 6.0}, {7.0, 8.0}}}},
  cat3d_axis3 = {value = {{{1.0, -2.0, 2.0, -4.0}, {0.5, 3.0, 1.0, 6.0}, {-1.5, 2.5, -3.0, 5.0}}, {{4.0, 0.0, 8.0, 0.0}, {-3.0, 1.25, -6.0, 2.5}, {2.0, -0.5, 4.0, -1.0}}}, grad = {{{7.0, 10.0}, {19.0, 22.0}, {31.0, 34.0}}, {{43.0, 46.0}, {55.0, 58.0}, {67.0, 70.0}}}},
  stack3d_axis2 = {value = {{{{1.0, -2.0}, {0.5, 3.0}, {-1.5, 2.5}}, {{1.0, 4.0}, {0.25, 9.0}, {2.25, 6.25}}}, {{{4.0, 0.0}, {-3.0, 1.25}, {2.0, -0.5}}, {{16.0, 0.0}, {9.0, 1.5625}, {4.0, 0.25}}}}, grad = {{{15.0, -30.0}, {12.0, 64.0}, {-28.0, 66.0}}, {{165.0, 14.0}, {-111.0, 71.0}, {109.0, -6.0}}}},
  softmax_extreme = {value = {1.0, 0.0, 0.0}, grad = {0.0, 0.0, 0.0}},
  log_softmax_extreme = {value = {0.0, -1000.0, -2000.0}, grad = {-5.0, 2.0, 3.0}},
  logsumexp_extreme = {value = 1000.6931471805599, grad = {0.5000000000000275, 0.5000000000000275, 0.0}},
  argmax1 = {3, 2, 1, 1} ,
  argmax2 = {4, 2, 1} ,
  argmin1 = {2, 3, 3, 2} ,
  argmin2 = {2, 4, 2} ,
  argmax_all = 9 , argmin_all = 10 ,
  argmax3d_axis3 = {{1, 2, 2}, {1, 2, 1}} ,
  argmin3d_axis1 = {{1, 1}, {2, 2}, {1, 2}} ,
  lse_neg_inf = -math.huge ,
  lse_pos_inf = math.huge ,
  l1 = {value = 0.8333333333333334, grad = {0.16666666666666666, -0.16666666666666666, 0.16666666666666666, 0.16666666666666666, -0.16666666666666666, 0.0}},
  huber = {value = 0.4583333333333333, grad = {0.08333333333333333, -0.16666666666666666, 0.16666666666666666, 0.16666666666666666, -0.08333333333333333, 0.0}},
  huber_half = {value = 0.3125, grad = {0.08333333333333333, -0.08333333333333333, 0.08333333333333333, 0.08333333333333333, -0.08333333333333333, 0.0}},
  huber_2 = {value = 0.5416666666666666, grad = {0.08333333333333333, -0.16666666666666666, 0.3333333333333333, 0.16666666666666666, -0.08333333333333333, 0.0}},
  nll = {value = 0.11246410033966846, grad = {{0.0, 0.0, 0.0, -0.3333333333333333}, {0.0, -0.3333333333333333, 0.0, 0.0}, {-0.3333333333333333, 0.0, 0.0, 0.0}}},
  nll_logits = {value = 0.11246410033966846, grad = {{0.012949509892757116, 0.0022502873998149556, 0.058035676952604226, -0.07323547424517629}, {0.002637996390905813, -0.02842240790518169, 0.02502861289418154, 0.0007557986200943846}, {-6.131032013427054e-05, 7.533045541408007e-07, 1.9427980512460815e-05, 4.112903506763027e-05}}},
  nll_vector = {value = 2.25, grad = {0.0, 0.0, -1.0}},
  nll_neg_inf = {value = 0.15000000000000002, grad = {{-0.5, 0.0}, {0.0, -0.5}}},
}

local X = {{0.5, -1.25, 2.0, 3.5}, {-0.75, 4.0, 1.5, -2.0}, {10.0, -3.0, 0.25, 1.0}}
local T3 = {{{1.0, -2.0}, {0.5, 3.0}, {-1.5, 2.5}}, {{4.0, 0.0}, {-3.0, 1.25}, {2.0, -0.5}}}
local P = {0.5, -1.0, 3.0, 2.5, -0.25, 1.75}     -- scores of the losses
local Y = {0.0, 0.0, 1.0, 1.5, 0.25, 1.75}       -- their targets

-- sum(y * (1, 2, ...)) of any Element (a scalar is taken as it is)
local function weigh(y)
  if #y.shape == 0 then return y end
  local n, w = 1, {}
  for _, d in ipairs(y.shape) do n = n * d end
  for i = 1, n do w[i] = i end
  return (y * E(w, {dtype = y.dtype}):reshape(y.shape)):sum()
end

local function same(want, got, tol, what)
  local a, b = flat(want), flat(got)
  assert.are.equal(#a, #b, what .. ": count")
  for i = 1, #a do
    if a[i] ~= a[i] then assert.is_true(b[i] ~= b[i], what .. " nan at " .. i)
    elseif a[i] == math.huge or a[i] == -math.huge then assert.are.equal(a[i], b[i], what)
    else near(a[i], b[i], tol, what .. " at " .. i) end
  end
end

-- f(x) for x = E(data): value and weighed gradient against a record
local function against(ref, f, data, what)
  local x = E(data)
  local y = f(x)
  same(ref.value, y.data, 1e-12, what .. " value")
  weigh(y):backward()
  same(ref.grad, x.grad, 1e-12, what .. " gradient")
end

-- The gradient of weigh(f(x)) against central differences, x of 'shape'
-- made from the flat values xs through one reshape.
local function shape_of(data)
  local s, v = {}, data
  while type(v) == "table" do s[#s + 1] = #v v = v[1] end
  return s
end
local function gradcheck(f, data, what, h)
  local xs, shape = flat(data), shape_of(data)
  local function value(v) return weigh(f(E(v):reshape(shape))).data end
  local leaf = E(xs)
  weigh(f(leaf:reshape(shape))):backward()
  local got = flat(leaf.grad)
  local want = helpers.numeric_grad(value, xs, h)
  for i = 1, #want do near(want[i], got[i], 1e-6, what .. " gradient " .. i) end
end

describe("softmax, log_softmax, logsumexp", function()
  it("match PyTorch along each axis of a matrix", function()
    against(torch_ref.softmax1, function(x) return x:softmax(1) end, X, "softmax(1)")
    against(torch_ref.softmax2, function(x) return x:softmax(2) end, X, "softmax(2)")
    against(torch_ref.log_softmax1, function(x) return x:log_softmax(1) end, X, "log_softmax(1)")
    against(torch_ref.log_softmax2, function(x) return x:log_softmax(2) end, X, "log_softmax(2)")
    against(torch_ref.logsumexp1, function(x) return x:logsumexp(1) end, X, "logsumexp(1)")
    against(torch_ref.logsumexp2, function(x) return x:logsumexp(2) end, X, "logsumexp(2)")
    against(torch_ref.logsumexp_all, function(x) return x:logsumexp() end, X, "logsumexp()")
  end)

  it("match PyTorch along an inner axis of a 3-d array", function()
    against(torch_ref.softmax3d_axis2, function(x) return x:softmax(2) end, T3, "softmax 3-d")
    against(torch_ref.log_softmax3d_axis3, function(x) return x:log_softmax(3) end, T3, "log_softmax 3-d")
    against(torch_ref.logsumexp3d_axis2, function(x) return x:logsumexp(2) end, T3, "logsumexp 3-d")
  end)

  it("keep the shape (softmax) or drop the axis (logsumexp, as x:sum(axis))", function()
    assert.are.same({3, 4}, E(X):softmax(1).shape)
    assert.are.same({3}, E(X):logsumexp(2).shape)
    assert.are.same({3}, E(X):sum(2).shape)
    assert.are.same({}, E(X):logsumexp().shape)
  end)

  it("take a vector without an axis", function()
    local v = E({1, 2, 3})
    same(v:softmax(1).data, v:softmax().data, 0, "softmax()")
    same(v:log_softmax(1).data, v:log_softmax().data, 0, "log_softmax()")
  end)

  it("are stable at extreme values, as PyTorch", function()
    local big = {1000.0, 0.0, -1000.0}
    against(torch_ref.softmax_extreme, function(x) return x:softmax(1) end, big, "softmax extreme")
    against(torch_ref.log_softmax_extreme, function(x) return x:log_softmax(1) end, big, "log_softmax extreme")
    against(torch_ref.logsumexp_extreme, function(x) return x:logsumexp() end,
            {1000.0, 1000.0, -50.0}, "logsumexp extreme")
    assert.are.equal(torch_ref.lse_neg_inf, E({-math.huge, -math.huge}):logsumexp().data)
    assert.are.equal(torch_ref.lse_pos_inf, E({math.huge, 1}):logsumexp().data)
    assert.is_true(helpers.is_nan(E({1, 0 / 0, 3}):logsumexp().data))
    for _, v in ipairs(E({1, 0 / 0, 3}):softmax().data) do assert.is_true(helpers.is_nan(v)) end
  end)

  it("have gradients matching central differences", function()
    gradcheck(function(x) return x:softmax(1) end, X, "softmax(1)")
    gradcheck(function(x) return x:softmax(2) end, T3, "softmax 3-d")
    gradcheck(function(x) return x:log_softmax(2) end, X, "log_softmax(2)")
    gradcheck(function(x) return x:log_softmax(1) end, T3, "log_softmax 3-d")
    gradcheck(function(x) return x:logsumexp(1) end, X, "logsumexp(1)")
    gradcheck(function(x) return x:logsumexp(3) end, T3, "logsumexp 3-d")
    gradcheck(function(x) return x:logsumexp() end, X, "logsumexp()")
  end)
end)

describe("min, argmax, argmin", function()
  it("min matches PyTorch (values and the gradient's position)", function()
    against(torch_ref.min1, function(x) return x:min(1) end, X, "min(1)")
    against(torch_ref.min2, function(x) return x:min(2) end, X, "min(2)")
    against(torch_ref.min_all, function(x) return x:min() end, X, "min()")
    gradcheck(function(x) return x:min(2) end, T3, "min 3-d")
  end)

  it("min mirrors max on ties and nan: first position along an axis, split evenly over all", function()
    local x = E({{1, -2, -2}, {3, 3, 0}})
    x:min(2):sum():backward()
    assert.are.same({{0, 1, 0}, {0, 0, 1}}, x.grad)
    local y = E({{1, -2, -2}, {3, 3, 0}})
    y:min():backward()
    assert.are.same({{0, 0.5, 0.5}, {0, 0, 0}}, y.grad)
    assert.is_true(helpers.is_nan(E({1, 0 / 0, 3}):min().data))
  end)

  it("argmax and argmin give 1-based positions as PyTorch (plain integers)", function()
    local x = E(X)
    assert.are.same(torch_ref.argmax1, x:argmax(1))
    assert.are.same(torch_ref.argmax2, x:argmax(2))
    assert.are.same(torch_ref.argmin1, x:argmin(1))
    assert.are.same(torch_ref.argmin2, x:argmin(2))
    assert.are.equal(torch_ref.argmax_all, x:argmax())
    assert.are.equal(torch_ref.argmin_all, x:argmin())
    assert.is_true(helpers.is_integer(x:argmax()))
    assert.is_true(helpers.is_integer(x:argmax(2)[1]))
    assert.are.same(torch_ref.argmax3d_axis3, E(T3):argmax(3))
    assert.are.same(torch_ref.argmin3d_axis1, E(T3):argmin(1))
  end)

  it("argmax takes the first of ties and nan as the extreme; a vector's gives one integer", function()
    assert.are.same({2, 1}, E({{2, 5, 5}, {7, 7, 1}}):argmax(2))
    assert.are.equal(2, E({1, 0 / 0, 3, 0 / 0}):argmax())
    assert.are.equal(2, E({1, 0 / 0, 3, 0 / 0}):argmin(1))
    assert.are.equal(1, E(4.5):argmax())
  end)

  it("argmax records nothing: its result is data", function()
    local x = E(X)
    local before = t.memory().live_nodes
    local i = x:argmax(2)
    assert.are.equal("table", type(i))
    assert.are.equal(before, t.memory().live_nodes)
  end)
end)

describe("clamp", function()
  it("matches PyTorch, gradients passing at the bounds included", function()
    against(torch_ref.clamp, function(x) return x:clamp(-1, 2) end, X, "clamp(-1, 2)")
    against(torch_ref.clamp_lo, function(x) return x:clamp(0.25) end, X, "clamp(0.25)")
    against(torch_ref.clamp_hi, function(x) return x:clamp(nil, 1) end, X, "clamp(nil, 1)")
    local B = {-2.0, -1.0, 0.0, 1.0, 2.0}
    against(torch_ref.clamp_bounds, function(x) return x:clamp(-1, 1) end, B, "at the bounds")
    against(torch_ref.clamp_point, function(x) return x:clamp(1, 1) end, B, "lo == hi")
    gradcheck(function(x) return x:clamp(-1, 1.75) end, X, "clamp")   -- no value at a bound
  end)

  it("works on scalars, leaving nan as nan with no gradient", function()
    local a = E(3.5)
    local c = a:clamp(-1, 2)
    assert.are.equal(2, c.data)
    c:backward()
    assert.are.equal(0, a.grad)
    local b = E(0.5)
    b:clamp(0, 1):backward()
    assert.are.equal(1, b.grad)
    local n = E(0 / 0)
    local r = n:clamp(0, 1)
    assert.is_true(helpers.is_nan(r.data))
    r:backward()
    assert.are.equal(0, n.grad)
  end)
end)

describe("cat, stack, narrow, slice", function()
  it("cat and stack match PyTorch", function()
    against(torch_ref.cat3d_axis3, function(x) return t.cat({x, x * 2}, 3) end, T3, "cat")
    against(torch_ref.stack3d_axis2, function(x) return t.stack({x, x * x}, 2) end, T3, "stack")
  end)

  it("cat joins arrays of different lengths along the axis (1 by default)", function()
    local a, b = E({{1, 2}, {3, 4}}), E({{5, 6}})
    local c = t.cat({a, b})
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, c.data)
    weigh(c):backward()
    assert.are.same({{1, 2}, {3, 4}}, a.grad)
    assert.are.same({{5, 6}}, b.grad)
    local d = t.cat({E({{1}, {2}}), E({{3, 4}, {5, 6}})}, 2)
    assert.are.same({{1, 3, 4}, {2, 5, 6}}, d.data)
    assert.are.same({1, 2, 3}, t.cat({E({1}), E({2, 3})}).data)
    gradcheck(function(x) return t.cat({x, x:narrow(1, 1, 1)}, 1) end, X, "cat")
  end)

  it("stack makes a new axis (1 by default, up to ndim + 1) and still gathers scalars", function()
    local a, b = E({1, 2}), E({3, 4})
    assert.are.same({{1, 2}, {3, 4}}, t.stack({a, b}).data)
    assert.are.same({{1, 3}, {2, 4}}, t.stack({a, b}, 2).data)
    local s1, s2 = E(2), E(-1)
    local v = t.stack({s1, s2})
    assert.are.same({2, -1}, v.data)
    assert.are.equal("stack", v.op)
    weigh(v):backward()
    assert.are.equal(1, s1.grad)
    assert.are.equal(2, s2.grad)
    gradcheck(function(x) return t.stack({x, x * x}, 3) end, X, "stack")
  end)

  it("narrow and slice match PyTorch's narrow; gradients flow into the slice", function()
    against(torch_ref.narrow3d, function(x) return x:narrow(2, 2, 2) end, T3, "narrow")
    against(torch_ref.narrow3d, function(x) return x:slice(2, 2, 3) end, T3, "slice")
    against(torch_ref.narrow3d, function(x) return x:slice(2, -2) end, T3, "slice from the end")
    against(torch_ref.narrow3d, function(x) return x:slice(2, 2, -1) end, T3, "slice to -1")
    gradcheck(function(x) return x:narrow(2, 3, 2) end, X, "narrow")
    gradcheck(function(x) return x:slice(1, 2, 2) * x:slice(1, 3) end, X, "slice twice")
    assert.are.same({{2, 3.5}}, E(X):slice(1, 1, 1):narrow(2, 3, 2).data)
  end)
end)

describe("losses l1, huber, nll", function()
  local function loss_against(ref, f, data, what)
    local x = E(data)
    local l = f(x)
    near(ref.value, l.data, 1e-12, what .. " value")
    l:backward()
    same(ref.grad, x.grad, 1e-12, what .. " gradient")
  end

  it("l1 and huber match PyTorch (mean), huber at |d| = delta too", function()
    loss_against(torch_ref.l1, function(x) return t.loss.l1(x, Y) end, P, "l1")
    loss_against(torch_ref.huber, function(x) return t.loss.huber(x, Y) end, P, "huber")
    loss_against(torch_ref.huber_half, function(x) return t.loss.huber(x, Y, {delta = 0.5}) end, P, "huber 0.5")
    loss_against(torch_ref.huber_2, function(x) return t.loss.huber(x, Y, {delta = 2}) end, P, "huber 2")
  end)

  it("l1 and huber take what mse takes: a Lua list of scores, a column, one number", function()
    local s = {E(0.5), E(-1)}
    near(0.75, t.loss.l1(s, {0, 0}).data, 1e-15)
    near((0.125 + 0.5) / 2, t.loss.huber(s, {0, 0}).data, 1e-15)
    near(0.75, t.loss.l1(E({{0.5}, {-1}}), {0, 0}).data, 1e-15)
    near(2, t.loss.huber(3, 0.5, {delta = 1}).data, 1e-15)
  end)

  it("l1 and huber gradients match central differences", function()
    local y = {0.25, -0.5, 1.0, 0.0, 2.0, -1.0}
    local function l1(x) return t.loss.l1(x:reshape(6), y) end
    local function huber(x) return t.loss.huber(x:reshape(6), y, {delta = 1.5}) end
    local D = {{0.5, -1.0, 3.0}, {2.5, -0.25, 1.75}}
    gradcheck(l1, D, "l1")
    gradcheck(huber, D, "huber")
  end)

  it("nll matches PyTorch, on log_softmax output and through it", function()
    local lp = E(X):log_softmax(2)
    loss_against(torch_ref.nll, function(x) return t.loss.nll(x, {4, 2, 1}) end, lp.data, "nll")
    loss_against(torch_ref.nll_logits, function(x) return t.loss.nll(x:log_softmax(2), {4, 2, 1}) end,
                 X, "nll of log_softmax")
    loss_against(torch_ref.nll_vector, function(x) return t.loss.nll(x, 3) end, {-0.5, -1.5, -2.25}, "nll vector")
    loss_against(torch_ref.nll_neg_inf, function(x) return t.loss.nll(x, {1, 2}) end,
                 {{-0.1, -math.huge}, {-math.huge, -0.2}}, "nll with -inf elsewhere")
    -- nll(log_softmax) is cross_entropy
    near(t.loss.cross_entropy(E(X), {4, 2, 1}).data,
         t.loss.nll(E(X):log_softmax(2), {4, 2, 1}).data, 1e-14, "cross_entropy")
    gradcheck(function(x) return t.loss.nll(x:log_softmax(2), {2, 4, 3}) end, X, "nll")
  end)
end)

describe("recording", function()
  it("records nothing in no-grad, n-ary cat included; gives the values all the same", function()
    local a, b, c = E({1, 2}), E({3}), E({4, 5})
    local r = t.no_grad(function() return t.cat({a, b, c}) end)
    assert.are.equal("", r.op)
    assert.are.same({1, 2, 3, 4, 5}, r.data)
    local s = t.no_grad(function() return E(X):softmax(2):narrow(2, 1, 2):logsumexp(1) end)
    assert.are.equal("", s.op)
    same(E(X):softmax(2):narrow(2, 1, 2):logsumexp(1).data, s.data, 0, "no-grad values")
  end)

  it("names the ops in the graph and explains them", function()
    local x = E(X)
    local y = t.cat({x:softmax(2), x:clamp(0, 1)}, 2):narrow(2, 2, 4):min(1):logsumexp()
    assert.are.equal("logsumexp", y.op)
    local text = y:explain()
    for _, name in ipairs({"logsumexp", "min", "narrow", "cat", "softmax", "clamp_min", "clamp_max"}) do
      assert.truthy(text:find(name, 1, true), name)
    end
    assert.is_nil(text:find("$", 1, true))
  end)

  it("is checked for numerics as every op: a nan from non-finite data is named", function()
    t.check_numerics(true)
    local ok1, err1 = pcall(function() return E({math.huge, 1}):softmax() end)
    local ok2, err2 = pcall(function() return t.cat({E({0 / 0}), E({1})}) end)
    local ok3 = pcall(function() return E({1e308, 1e308}):logsumexp() end)   -- finite
    t.check_numerics(false)
    assert.is_false(ok1)
    assert.truthy(tostring(err1):find("softmax produced nan from a non-finite input", 1, true))
    assert.is_false(ok2)
    assert.truthy(tostring(err2):find("cat produced nan from a non-finite input", 1, true))
    assert.is_true(ok3)
  end)
end)

describe("float32", function()
  local function f32_vs_f64(f, data, what)
    local a, b = E(data), E(data, {dtype = "float32"})
    local ya, yb = f(a), f(b)
    if #yb.shape > 0 then assert.are.equal("float32", yb.dtype, what) end
    same(ya.data, yb.data, 1e-6, what .. " value")
    weigh(ya):backward()
    weigh(yb):backward()
    same(a.grad, b.grad, 1e-5, what .. " gradient")
  end

  it("every op gives float32 results within float32 rounding of float64", function()
    f32_vs_f64(function(x) return x:softmax(2) end, X, "softmax")
    f32_vs_f64(function(x) return x:log_softmax(1) end, X, "log_softmax")
    f32_vs_f64(function(x) return x:logsumexp(2) end, X, "logsumexp")
    f32_vs_f64(function(x) return x:logsumexp() end, X, "logsumexp()")
    f32_vs_f64(function(x) return x:min(1) end, X, "min")
    f32_vs_f64(function(x) return x:min() end, X, "min()")
    f32_vs_f64(function(x) return x:clamp(-1, 2) end, X, "clamp")
    f32_vs_f64(function(x) return t.cat({x, x}, 2) end, T3, "cat")
    f32_vs_f64(function(x) return t.stack({x, x}, 1) end, T3, "stack")
    f32_vs_f64(function(x) return x:narrow(3, 2, 1) end, T3, "narrow")
    f32_vs_f64(function(x) return t.loss.l1(x:reshape(12), flat(X)) end, X, "l1")
    f32_vs_f64(function(x) return t.loss.huber(x:reshape(12), flat(X)) end, X, "huber")
    f32_vs_f64(function(x) return t.loss.nll(x:log_softmax(2), {1, 2, 3}) end, X, "nll")
    assert.are.same(E(X):argmax(2), E(X, {dtype = "float32"}):argmax(2))
  end)

  it("computes in double and rounds once: a float32 softmax is the float64 one rounded", function()
    local x64 = E(X):softmax(2)
    local x32 = E(X, {dtype = "float32"}):softmax(2)
    local back = x64:float():double().data
    assert.are.same(back, x32:double().data)
  end)
end)

-- In a method call the receiver is not counted (x:narrow(2, 0, 1): the 0
-- is #2), as in Lua's own messages.  The calls below are in parentheses,
-- not tail calls: LuaJIT keeps no name for a tail-called function, and
-- then counts the receiver, as it does for its own library.
describe("bad input", function()
  local x = E(X)

  it("softmax and log_softmax: scalars, axes", function()
    fails("bad argument #1 to 'softmax' (array expected, got a scalar Element)", function() return (E(1):softmax()) end)
    fails("bad argument #1 to 'softmax' (axis 0 out of range for 2 dimensions)", function() return (x:softmax(0)) end)
    fails("bad argument #1 to 'log_softmax' (axis 3 out of range for 2 dimensions)", function() return (x:log_softmax(3)) end)
    fails("bad argument #1 to 'softmax' (integer axis expected, got number)", function() return (x:softmax(1.5)) end)
    fails("bad argument #1 to 'softmax' (integer axis expected, got string)", function() return (x:softmax("1")) end)
    fails("bad argument #1 to 'log_softmax' (axis expected for an array of 2 dimensions", function() return (x:log_softmax()) end)
  end)

  it("logsumexp, min, argmax, argmin: axes", function()
    fails("bad argument #1 to 'logsumexp' (axis 3 out of range for 2 dimensions)", function() return (x:logsumexp(3)) end)
    fails("bad argument #1 to 'min' (axis 0 out of range for 2 dimensions)", function() return (x:min(0)) end)
    fails("bad argument #1 to 'argmax' (axis -1 out of range for 2 dimensions)", function() return (x:argmax(-1)) end)
    fails("bad argument #1 to 'argmin' (integer axis expected, got table)", function() return (x:argmin({})) end)
    fails("bad argument #1 to 'argmax' (axis 1 out of range for 0 dimensions)", function() return (E(2):argmax(1)) end)
  end)

  it("clamp: bounds", function()
    fails("bad argument #2 to 'clamp' (upper bound 1 below lower bound 2)", function() return (x:clamp(2, 1)) end)
    fails("bad argument #1 to 'clamp' (at least one bound expected, got two nils)", function() return (x:clamp()) end)
    fails("bad argument #1 to 'clamp' (bound is nan)", function() return (x:clamp(0 / 0, 1)) end)
    fails("bad argument #2 to 'clamp' (bound is nan)", function() return (x:clamp(nil, 0 / 0)) end)
    fails("bad argument #1 to 'clamp' (number or nil expected, got string)", function() return (x:clamp("0", 1)) end)
  end)

  it("cat: lists, shapes, dtypes, axes", function()
    fails("bad argument #1 to 'cat' (table of Elements expected", function() return t.cat(x) end)
    fails("bad argument #1 to 'cat' (no Elements given)", function() return t.cat({}) end)
    fails("bad argument #1 to 'cat' (entry 2 is a number, Element expected)", function() return t.cat({x, 3}) end)
    fails("bad argument #1 to 'cat' (arrays expected, got scalar Elements", function() return t.cat({E(1), E(2)}) end)
    fails("bad argument #1 to 'cat' (entry 2 is a scalar, entry 1 an array: scalars and arrays do not mix)",
          function() return t.cat({x, E(2)}) end)
    fails("bad argument #1 to 'cat' (entry 2 has shape (3, 3), entry 1 (3, 4): only dimension 1 may differ)",
          function() return t.cat({x, x:narrow(2, 1, 3)}) end)
    fails("bad argument #1 to 'cat' (entry 2 has shape (12), entry 1 (3, 4): only dimension 1 may differ)",
          function() return t.cat({x, x:reshape(12)}) end)
    fails("bad argument #1 to 'cat' (entry 2 is float32, entry 1 float64: convert one",
          function() return t.cat({x, x:float()}) end)
    fails("bad argument #2 to 'cat' (axis 3 out of range for 2 dimensions)", function() return t.cat({x, x}, 3) end)
  end)

  it("stack: shapes, mixes, axes", function()
    fails("bad argument #1 to 'stack' (entry 2 has shape (4, 3), entry 1 (3, 4): one shape expected)",
          function() return t.stack({x, x:transpose()}) end)
    fails("bad argument #1 to 'stack' (entry 2 is an array, entry 1 a scalar: scalars and arrays do not mix)",
          function() return t.stack({E(1), x}) end)
    fails("bad argument #2 to 'stack' (axis 4 out of range for 3 dimensions)", function() return t.stack({x, x}, 4) end)
    fails("bad argument #2 to 'stack' (axis 2 out of range for 1 dimensions)", function() return t.stack({E(1), E(2)}, 2) end)
    fails("bad argument #1 to 'stack' (arrays of 4 dimensions: the result would have more than 4)",
          function() return t.stack({t.zeros(1, 1, 1, 1)}) end)
    fails("bad argument #1 to 'stack' (no Elements given)", function() return t.stack({}) end)
  end)

  it("narrow and slice: positions out of range", function()
    fails("bad argument #1 to 'narrow' (array expected, got a scalar Element)", function() return (E(1):narrow(1, 1, 1)) end)
    fails("bad argument #1 to 'narrow' (axis 3 out of range for 2 dimensions)", function() return (x:narrow(3, 1, 1)) end)
    fails("bad argument #2 to 'narrow' (start 0 out of range 1..4)", function() return (x:narrow(2, 0, 1)) end)
    fails("bad argument #2 to 'narrow' (start 5 out of range 1..4)", function() return (x:narrow(2, 5, 1)) end)
    fails("bad argument #3 to 'narrow' (length 0 out of range 1..2 (from 3 in a dimension of 4))",
          function() return (x:narrow(2, 3, 0)) end)
    fails("bad argument #3 to 'narrow' (length 3 out of range 1..2", function() return (x:narrow(2, 3, 3)) end)
    fails("bad argument #3 to 'narrow' (integer length expected, got no value)", function() return (x:narrow(2, 3)) end)
    fails("bad argument #2 to 'slice' (integer first 0 out of range 1..3 (or -3..-1 from the end))",
          function() return (x:slice(1, 0)) end)
    fails("bad argument #3 to 'slice' (integer last 4 out of range 1..3", function() return (x:slice(1, 1, 4)) end)
    fails("bad argument #2 to 'slice' (integer first -4 out of range", function() return (x:slice(1, -4)) end)
    fails("bad argument #3 to 'slice' (last (position 1) before first (position 2)", function() return (x:slice(1, 2, 1)) end)
  end)

  it("losses: lengths, delta, classes", function()
    fails("bad argument #2 to 'l1' (2 targets for 3 scores (lengths must match))",
          function() return t.loss.l1(E({1, 2, 3}), {1, 2}) end)
    fails("bad argument #3 to 'huber' (option 'delta' must be a positive finite number)",
          function() return t.loss.huber(E({1, 2}), {1, 2}, {delta = 0}) end)
    fails("bad argument #3 to 'huber' (option 'delta' must be a positive finite number)",
          function() return t.loss.huber(E({1, 2}), {1, 2}, {delta = math.huge}) end)
    fails("bad argument #3 to 'huber' (unknown option 'dleta'", function() return t.loss.huber(E({1, 2}), {1, 2}, {dleta = 1}) end)
    fails("huber", function() return t.loss.huber(E({1, 2}), {1, 2}, {delta = "1"}) end)
    local lp = x:log_softmax(2)
    fails("bad argument #2 to 'nll' (class of sample 2 must be an integer in 1..4, got 5)",
          function() return t.loss.nll(lp, {1, 5, 1}) end)
    fails("bad argument #2 to 'nll' (class of sample 1 must be an integer in 1..4, got 0)",
          function() return t.loss.nll(lp, {0, 1, 1}) end)
    fails("bad argument #2 to 'nll' (class of sample 3 must be an integer in 1..4, got 1.5)",
          function() return t.loss.nll(lp, {1, 1, 1.5}) end)
    fails("bad argument #2 to 'nll' (2 classes for 3 rows of log-probabilities (lengths must match))",
          function() return t.loss.nll(lp, {1, 1}) end)
    fails("bad argument #2 to 'nll' (table of classes expected, got number)", function() return t.loss.nll(lp, 1) end)
    fails("bad argument #2 to 'nll' (class number (log-probabilities of one sample) expected, got table)",
          function() return t.loss.nll(E({-1, -2}), {1}) end)
    fails("bad argument #1 to 'nll' (log-probabilities of shape (N, K) or (K) expected, got 3 dimensions)",
          function() return t.loss.nll(E(T3), {1, 1}) end)
    fails("bad argument #1 to 'nll' (array Element of log-probabilities expected, got", function() return t.loss.nll(E(1), 1) end)
  end)

  it("leaves nothing behind after errors", function()
    local before = helpers.settle()
    for _ = 1, 3 do
      pcall(t.cat, {x, x:float()})
      pcall(function() return t.loss.nll(x, {9, 1, 1}) end)
      pcall(function() return x:narrow(2, 9, 1) end)
    end
    assert.are.equal(before, helpers.settle())
  end)
end)
