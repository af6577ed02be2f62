local torchlet = require "torchlet"
local helpers = require "spec.helpers"
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

describe("loss", function()
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
  end)
end)
