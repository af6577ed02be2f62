local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local unpack = require("spec.helpers").unpack   -- a global on 5.1
local load_string = require("spec.helpers").load
local loss, Element = torchlet.loss, torchlet.Element

local function close(a, b, tol)
  return math.abs(a - b) <= (tol or 1e-14) * math.max(1, math.abs(a), math.abs(b))
end

local function elements(values)
  local out = {}
  for i, v in ipairs(values) do out[i] = Element(v) end
  return out
end

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end

-- A table whose raw length (#) is 'len' while it holds only about
-- 2 log2(len) entries, all 'v': the keys Lua's border search visits when
-- everything is in the hash part (doubling from 1, then bisecting), which a
-- constructor with explicit keys puts there.
local function sparse(len, v)
  local keys, i, j = {}, 0, 1
  while j <= len do keys[#keys + 1] = j; i = j; j = j * 2 end
  while j - i > 1 do
    local m = math.floor((i + j) / 2)
    if m <= len then keys[#keys + 1] = m; i = m else j = m end
  end
  for k = 1, #keys do keys[k] = ("[%d] = v"):format(keys[k]) end
  local t = load_string("local v = ...; return {" .. table.concat(keys, ", ") .. "}")(v)
  assert(helpers.rawlen(t) == len)
  return t
end

-- The directory of this file, so the reference loads from any working dir.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
-- Values and gradients printed by PyTorch 1.13 (float64) from
-- spec/reference/loss_torch.py, which states each case.
local reference = dofile(here .. "reference/loss_torch.lua")

describe("loss", function()
  describe("matches PyTorch's values and gradients", function()
    for _, case in ipairs(reference) do
      local name, scores, targets, value, grad = unpack(case)
      for _, form in ipairs({"list", "array"}) do
        it(name .. " (" .. form .. ")", function()
          local s, got_grad
          if form == "array" then
            s = Element(scores)
          elseif name == "cross_entropy" then
            s = {}
            for i, row in ipairs(scores) do s[i] = elements(row) end
          else
            s = elements(scores)
          end
          local l = loss[name](s, targets)
          assert.is_true(close(value, l.data), ("value %.17g, PyTorch %.17g"):format(l.data, value))
          l:backward()
          for i, g in ipairs(grad) do
            for j, gj in ipairs(type(g) == "table" and g or {g}) do
              local got
              if form == "array" then got = type(g) == "table" and s.grad[i][j] or s.grad[i]
              elseif type(g) == "table" then got = s[i][j].grad
              else got = s[i].grad end
              assert.is_true(close(gj, got), ("grad %d,%d: %.17g, PyTorch %.17g"):format(i, j, got, gj))
            end
          end
        end)
      end
    end
  end)

  it("mse is mean((s - y)^2) with gradient 2(s - y)/n", function()
    local s = elements{1, 2.5, -1}
    local y = {0, 2, 1}
    local l = loss.mse(s, y)
    assert.is_true(close((1 + 0.25 + 4) / 3, l.data))
    l:backward()
    for i = 1, 3 do assert.is_true(close(2 * (s[i].data - y[i]) / 3, s[i].grad)) end
  end)

  it("hinge is mean(relu(1 - y*s)), gradient -y/n where the margin is short", function()
    local s = elements{0.5, -2, 3, 4}
    local y = {1, 1, -1, 1}
    local l = loss.hinge(s, y)
    -- margins: 0.5, 3, 4, 0 (relu(1 - 4) = 0)
    assert.is_true(close((0.5 + 3 + 4 + 0) / 4, l.data))
    l:backward()
    local want = {-1 / 4, -1 / 4, 1 / 4, 0}
    for i = 1, 4 do assert.is_true(close(want[i], s[i].grad), "score " .. i) end
  end)

  it("bce on logits is mean(log(1 + e^s) - y*s), gradient (sigmoid(s) - y)/n", function()
    local s = elements{0.3, -1.2, 2}
    local y = {1, 0, 0.25}
    local l = loss.bce(s, y)
    local want = 0
    for i = 1, 3 do
      local x = s[i].data
      want = want + math.log(1 + math.exp(x)) - y[i] * x
    end
    assert.is_true(close(want / 3, l.data))
    l:backward()
    for i = 1, 3 do assert.is_true(close((sigmoid(s[i].data) - y[i]) / 3, s[i].grad)) end
  end)

  it("bce stays finite for huge logits", function()
    local s = elements{1000, -1000}
    local l = loss.bce(s, {0, 1})
    assert.is_true(close(1000, l.data))        -- each sample costs 1000
    l:backward()
    assert.is_true(close(0.5, s[1].grad))
    assert.is_true(close(-0.5, s[2].grad))
  end)

  it("cross_entropy of one row is logsumexp(row) - row[class]", function()
    local row = elements{1, 2, 3}
    local l = loss.cross_entropy(row, 2)
    local z = math.exp(1) + math.exp(2) + math.exp(3)
    assert.is_true(close(math.log(z) - 2, l.data))
    l:backward()
    for j = 1, 3 do
      local p = math.exp(row[j].data) / z
      assert.is_true(close(p - (j == 2 and 1 or 0), row[j].grad), "logit " .. j)
    end
  end)

  it("cross_entropy of a batch is the mean over rows, and stable", function()
    local rows = {elements{0, 0}, elements{1000, -1000}}
    local l = loss.cross_entropy(rows, {1, 2})
    assert.is_true(close((math.log(2) + 2000) / 2, l.data))
    l:backward()
    assert.is_true(close(-0.25, rows[1][1].grad))
    assert.is_true(close(0.25, rows[1][2].grad))
    assert.is_true(close(0.5, rows[2][1].grad))
    assert.is_true(close(-0.5, rows[2][2].grad))
  end)

  it("takes numbers among the scores and a single score", function()
    local a = Element(2)
    local l = loss.mse({a, 3}, {0, 1})
    assert.is_true(close((4 + 4) / 2, l.data))
    l:backward()
    assert.are.equal(2, a.grad)
    assert.are.equal(0.25, loss.mse(Element(1.5), 1).data)
    assert.are.equal(2, loss.hinge(-1, 1).data)
  end)

  -- issue 13: one form of each loss, over arrays; a list comes in through
  -- one stacking node, and cross-entropy is one node whatever the batch
  it("builds a handful of nodes, not several per sample", function()
    local function count(e, seen)
      seen = seen or {}
      local n = 0
      for _, c in ipairs(e:children()) do
        if not seen[c] then seen[c] = true; n = n + 1 + count(c, seen) end
      end
      return n
    end
    local s = {}
    for i = 1, 50 do s[i] = Element(i / 10) end
    local y = {}
    for i = 1, 50 do y[i] = i % 2 == 0 and 1 or -1 end
    -- 50 scores, the stack, the targets, mul, 1 - ., relu (the mean is the root)
    assert.are.equal(50 + 5, count(loss.hinge(s, y)))
    local logits, classes = torchlet.randn(1000, 10), {}
    for i = 1, 1000 do classes[i] = i % 10 + 1 end
    local ce = loss.cross_entropy(logits, classes)
    assert.are.equal("cross_entropy", ce.op)
    assert.are.equal(1, count(ce))                     -- the logits alone
    local rows = {elements{1, 2}, elements{3, 4}}
    local l = loss.cross_entropy(rows, {1, 2})
    assert.are.equal("stack", l:children()[1].op)      -- 4 logits, one stack
    assert.are.equal(5, count(l))
  end)

  it("frees its graph when the result is collected", function()
    collectgarbage("collect")
    local before = torchlet.memory().live_nodes
    do
      local s = elements{1, 2, 3}
      local l = loss.hinge(s, {1, -1, 1}) + loss.cross_entropy(s, 3)
      l:backward()
    end
    collectgarbage("collect")
    assert.are.equal(before, torchlet.memory().live_nodes)
  end)

  describe("bad input", function()
    local fails = helpers.fails

    it("rejects tables of different lengths", function()
      fails("bad argument #2 to 'mse' (2 targets for 3 scores (lengths must match))",
            loss.mse, {1, 2, 3}, {1, 2})
      fails("bad argument #2 to 'hinge' (4 targets for 3 scores", loss.hinge, {1, 2, 3}, {1, 1, 1, 1})
      fails("bad argument #2 to 'cross_entropy' (1 classes for 2 rows", loss.cross_entropy,
            {{1, 2}, {3, 4}}, {1})
      fails("row 2 must be a table of 2 logits", loss.cross_entropy, {{1, 2}, {3}}, {1, 1})
    end)

    it("rejects scores and targets of the wrong type", function()
      fails("score 2 must be an Element or a number, got string", loss.bce, {1, "2"}, {0, 1})
      fails("target 1 must be a number, got table", loss.mse, {1}, {{}})
      fails("bad argument #2 to 'hinge' (table of targets expected, got number)",
            loss.hinge, {1}, 1)
      fails("no scores given", loss.mse, {}, {})
      fails("bad argument #1 to 'mse' (table of scores, Element or number expected, got nil)",
            loss.mse, nil, {})
    end)

    it("rejects classes out of range", function()
      fails("class of sample 1 must be an integer in 1..3, got 4", loss.cross_entropy,
            {1, 2, 3}, 4)
      fails("class of sample 2 must be an integer in 1..2, got 0", loss.cross_entropy,
            {{1, 2}, {3, 4}}, {1, 0})
      fails("must be an integer in 1..3, got 1.5", loss.cross_entropy, {1, 2, 3}, 1.5)
    end)

    -- issue 11: the two most common label mix-ups
    it("rejects hinge targets other than -1 and 1, in every form", function()
      local want = "bad argument #2 to 'hinge' (target 2 must be -1 or 1, got 0)"
      fails(want, loss.hinge, {1, 2}, {1, 0})
      fails(want, loss.hinge, elements({1, 2}), {1, 0})
      fails(want, loss.hinge, Element({1, 2}), {1, 0})            -- batched
      fails(want, loss.hinge, Element({1, 2}), Element({1, 0}))
      fails("bad argument #2 to 'hinge' (target 1 must be -1 or 1, got 0.5)",
            loss.hinge, Element(1), 0.5)
      fails("target 1 must be -1 or 1, got nan", loss.hinge, {1}, {0 / 0})
      fails("target 3 must be -1 or 1, got 2", loss.hinge, Element({{1}, {2}, {3}}), {1, -1, 2})
      assert.are.equal(1, loss.hinge({Element(0), 0}, {-1, 1}).data)
      assert.are.equal(1, loss.hinge(Element({0, 0}), {-1, 1}).data)
    end)

    it("rejects bce targets outside [0, 1], in every form", function()
      local want = "bad argument #2 to 'bce' (target 1 must be in [0, 1], got -1)"
      fails(want, loss.bce, {1, 2}, {-1, 1})
      fails(want, loss.bce, Element({1, 2}), {-1, 1})
      fails(want, loss.bce, Element({1, 2}), Element({-1, 1}))
      fails("bad argument #2 to 'bce' (target 1 must be in [0, 1], got 1.5)",
            loss.bce, Element(0), 1.5)
      fails("target 2 must be in [0, 1], got nan", loss.bce, {1, 2}, {0, 0 / 0})
      fails("target 1 must be in [0, 1], got inf", loss.bce, {Element(1)}, {1 / 0})
      -- soft labels are targets too: log 2 - 0.25 * 0 at s = 0
      assert.is_true(close(math.log(2), loss.bce({0}, {0.25}).data))
      assert.is_true(close(math.log(2), loss.bce(Element({0, 0}), {0, 1}).data))
    end)

    -- issue 12 finding 1: 2^31 rows of 2^30 - 1 logits made the scratch size
    -- n*k*8 + n*8 wrap to 0, and the classes were written far outside it.
    -- Not on 5.1 and LuaJIT: their # finds no border past 2^30 in a hash
    -- part, so no table there is long enough to wrap the size.
    it("refuses sparse tables whose sizes would overflow, without writing" .. helpers.LUA53, function()
      local row = sparse(2 ^ 30 - 1, 1)
      local ok, err = pcall(loss.cross_entropy, sparse(2 ^ 31, row), sparse(2 ^ 31, 1))
      assert.is_false(ok)
      assert.matches("^bad argument #1 to 'cross_entropy' %(", err)
      -- n*k*8 itself wraps with 2^30 logits a row: refused before any read
      fails("bad argument #1 to 'cross_entropy' (2147483648 rows of 1073741824 "
            .. "logits do not fit in memory)", loss.cross_entropy,
            sparse(2 ^ 31, sparse(2 ^ 30, 1)), sparse(2 ^ 31, 1))
      -- and the other losses, whose scratch is n*16 bytes
      local scores = sparse(2 ^ 31, 1)
      for _, f in ipairs({"mse", "hinge", "bce"}) do
        fails("bad argument #1 to '" .. f .. "' (score 3 must be an Element or a number, got nil)",
              loss[f], scores, sparse(2 ^ 31, 1))
      end
    end)
  end)
end)
