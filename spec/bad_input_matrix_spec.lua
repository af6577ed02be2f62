-- spec/bad_input_matrix_spec.lua -- every public function and method, with
-- each awkward value in every argument position: the call must return or
-- raise a Lua error with a message, never crash, and leave the objects it
-- was given usable.  The number of calls is printed.
local torchlet = require "torchlet"
local E = torchlet.Element

local co = coroutine.create(function() end)
local awkward = {
  {"nil", nil}, {"true", true}, {"0", 0}, {"-1", -1}, {"nan", 0 / 0},
  {"inf", math.huge}, {"-inf", -math.huge}, {"2^53", 2 ^ 53}, {"''", ""},
  {"'1'", "1"}, {"a table", {}}, {"a function", function() end},
  {"a coroutine", co}, {"a FILE*", io.stdout},
}

-- Files a call might write into the current directory with a valid
-- receiver and default or awkward names; removed afterwards unless they
-- were there before.
local maybe_written = {"1", "graph.png", "Digraph.gv.png", "plot.png"}

local exists = require("spec.helpers").exists
local unpack = require("spec.helpers").unpack   -- a global on 5.1

-- The callables: {name, function, receiver maker or nil, positions}.
local function callables()
  local list = {}
  local function add(name, fn, receiver, positions)
    list[#list + 1] = {name, fn, receiver, positions or 3}
  end
  local tables = {
    [""] = torchlet, ["nn."] = torchlet.nn, ["optim."] = torchlet.optim,
    ["loss."] = torchlet.loss, ["data."] = torchlet.data, ["plot."] = torchlet.plot,
    ["optim.schedule."] = torchlet.optim.schedule,
    ["_autograd."] = torchlet._autograd,
  }
  for prefix, t in pairs(tables) do
    for k, v in pairs(t) do
      if type(v) == "function" then add(prefix .. k, v, nil, 4) end
    end
  end
  local scalar = function() return E(1.5, "s") end
  local array = function() return E({{1, 2}, {3, 4}}) end
  for k, v in pairs(torchlet.Element_methods) do
    add("scalar:" .. k, v, scalar)
    add("array:" .. k, v, array)
    add("E." .. k, v, nil)
  end
  local emeta = getmetatable(E(1))
  for _, k in ipairs({"__add", "__sub", "__mul", "__div", "__pow", "__unm",
                      "__lt", "__le", "__len", "__index", "__newindex", "__tostring"}) do
    add("scalar " .. k, emeta[k], scalar)
    add("array " .. k, emeta[k], array)
    add(k, emeta[k], nil)
  end
  local fobj = function()
    return torchlet.Function{name = "f", forward = function(ctx, x, k) return x end,
                             backward = function(ctx, g) return g, nil end}
  end
  add("Function __call", getmetatable(fobj()).__call, fobj)
  local model = function() return torchlet.nn.MLP(2, {3, 1}) end
  local mmeta = getmetatable(model())
  for k, v in pairs(torchlet.nn.Module_methods) do add("model:" .. k, v, model) end
  add("model __index", mmeta.__index, model)
  add("model __len", mmeta.__len, model)
  add("model __call", mmeta.__call, model)
  add("model __tostring", mmeta.__tostring, nil)
  local param = function() return torchlet.nn.MLP(2, {3, 1}):parameters({scalar = true})[2] end
  local pmeta = getmetatable(param())
  for _, k in ipairs({"__index", "__newindex", "__tostring"}) do add("parameter " .. k, pmeta[k], param) end
  add("parameter __tostring", pmeta.__tostring, nil)
  local opt = function() return torchlet.optim.Adam({E(1), E({1, 2})}) end
  local o = opt()
  local ometa = getmetatable(o)
  add("optimizer:step", o.step, opt)
  add("optimizer:zero_grad", o.zero_grad, opt)
  add("optimizer:dump", o.dump, opt)
  add("optimizer:load_string", o.load_string, opt)
  add("optimizer __index", ometa.__index, opt)
  add("optimizer __newindex", ometa.__newindex, opt)
  add("optimizer __tostring", ometa.__tostring, nil)
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

describe("the bad-input matrix", function()
  it("gets a result or a Lua error from every call, never a crash", function()
    local before = {}
    for _, f in ipairs(maybe_written) do before[f] = exists(f) end
    local grad_was, calls, errors = torchlet.is_grad_enabled(), 0, 0
    for _, c in ipairs(callables()) do
      local name, fn, receiver, positions = c[1], c[2], c[3], c[4]
      for pos = 1, positions do
        for _, v in ipairs(awkward) do
          local args, n = {}, pos
          if receiver then
            args[1] = receiver()
            args[pos + 1] = v[2]
            n = pos + 1
          else
            args[pos] = v[2]
          end
          local ok, err = pcall(fn, unpack(args, 1, n))
          calls = calls + 1
          if not ok then
            errors = errors + 1
            assert(type(err) == "string" and #err > 0,
                   ("%s with %s at #%d raised a non-message: %s"):format(name, v[1], pos, tostring(err)))
          end
          -- the receiver still works after whatever the call did
          if receiver and torchlet.is_element(args[1]) then
            assert(type(tostring(args[1])) == "string")
          end
          torchlet.set_grad_enabled(grad_was)
          torchlet.check_numerics(false)
        end
      end
    end
    for _, f in ipairs(maybe_written) do
      if not before[f] then os.remove(f) end
    end
    print(("\nbad-input matrix: %d calls, %d raised errors"):format(calls, errors))
    assert.is_true(calls > 5000)
  end)
end)
