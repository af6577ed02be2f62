local torchlet = require "torchlet"

-- The demo's own training function (examples/moons.lua), not a copy.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local moons = assert(loadfile(here .. "../examples/moons.lua"))("library")

describe("the moons demo", function()
  it("reaches at least 97% training accuracy in 100 steps", function()
    local losses = {}
    local model, X, y = moons.train{
      on_step = function(step, l) losses[step] = l end,
    }
    assert.are.equal(100, #losses)
    assert.is_true(losses[100] < losses[1])
    local correct = torchlet.no_grad(function()
      local c = 0
      for i = 1, #X do
        if (model(X[i]).data > 0) == (y[i] > 0) then c = c + 1 end
      end
      return c
    end)
    assert.is_true(correct / #X >= 0.97, ("accuracy %d%%"):format(correct))
  end)

  it("is reproducible: the same seed gives the same losses", function()
    local a, b = {}, {}
    moons.train{steps = 5, on_step = function(s, l) a[s] = l end}
    moons.train{steps = 5, on_step = function(s, l) b[s] = l end}
    assert.are.same(a, b)
  end)
end)
