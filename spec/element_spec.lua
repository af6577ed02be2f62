local torchlet = require "torchlet"
local Element = torchlet.Element

describe("Element", function()
  it("computes the a/b/c/d example", function()
    local a, b = Element(2.0, "a"), Element(3.0, "b")
    local d = a * b + a
    d:backward()
    assert.are.equal(8.0, d.data)
    assert.are.equal(4.0, a.grad)
    assert.are.equal(2.0, b.grad)
  end)
end)
