--[[
bench/impls.lua -- the implementations the rows run on, behind one small
interface, so that every implementation runs the very same row code:

  impl.name         "torchlet", "plain", "floor" or "floor_gc"
  impl.scalar(x)    a scalar value supporting + and * (all three)
  impl.seed(n)      seeds the generator that initialises weights
  impl.mlp(nin, nouts)       a callable model with :zero_grad()  [mlp]
  impl.moons_step(X, y)      a function doing one training step  [moons]
  impl.moons_step_batched(X, y)  the same over one array Element  [batched]
  impl.node_bytes()          memory retained per scalar graph node [graph]
  impl.missing[need] the reason a capability ("graph", "mlp", "moons")
                    is absent (also "batched"), for the "n/a (...)" of the table
]]
local plain = require "bench.plain"

local M = {}

local REG = 1e-4                     -- the L2 coefficient of the moons loss
local SGD_OPTS = {lr = 0.1, momentum = 0.9}
local MEMORY_NODES = 100000

-- Bytes of Lua heap (plus 'extra_bytes()' outside it) retained per node by
-- a chain of MEMORY_NODES additions, all reachable from its last node.
local function chain_bytes(scalar, extra_bytes)
  collectgarbage("collect"); collectgarbage("collect")
  local heap0, extra0 = collectgarbage("count"), extra_bytes()
  local a = scalar(1)
  local x = a
  for _ = 1, MEMORY_NODES do x = x + a end
  collectgarbage("collect"); collectgarbage("collect")
  local bytes = (collectgarbage("count") - heap0) * 1024 + extra_bytes() - extra0
  assert(x ~= nil)  -- keeps the chain alive up to here
  return bytes / MEMORY_NODES
end

function M.torchlet()
  local ok, torchlet = pcall(require, "torchlet")
  if not ok then return nil, "torchlet not built: " .. tostring(torchlet) end
  local impl = {name = "torchlet", scalar = torchlet.Element,
                seed = torchlet.manual_seed, missing = {}}
  -- Core memory is outside Lua's heap: live nodes times the node size.
  impl.node_bytes = function()
    return chain_bytes(torchlet.Element, function()
      local mem = torchlet.memory()
      return mem.live_nodes * mem.node_size
    end)
  end
  local nn, loss, optim = torchlet.nn, torchlet.loss, torchlet.optim
  if nn == nil then
    impl.missing.mlp = "torchlet.nn not built"
    impl.missing.moons = "torchlet.nn not built"
    impl.missing.batched = "torchlet.nn not built"
    return impl
  end
  impl.mlp = function(nin, nouts) return nn.MLP(nin, nouts) end
  if loss == nil or optim == nil then
    impl.missing.moons = "torchlet.loss or torchlet.optim not built"
    impl.missing.batched = impl.missing.moons
    return impl
  end
  impl.moons_step = function(X, y)
    local model = nn.MLP(2, {16, 16, 1})
    local opt = optim.SGD(model:parameters(), SGD_OPTS)
    return function()
      local scores = {}
      for i = 1, #X do scores[i] = model(X[i]) end
      local l = loss.hinge(scores, y) + REG * model:l2()
      opt:zero_grad(); l:backward(); opt:step()
      return l
    end
  end
  -- The batched path: the points as one (N x 2) array Element.
  if not pcall(torchlet.Element, {{1, 2}}) then
    impl.missing.batched = "array Elements not built"
    return impl
  end
  impl.moons_step_batched = function(X, y)
    local model = nn.MLP(2, {16, 16, 1})
    local opt = optim.SGD(model:parameters(), SGD_OPTS)
    local batch = torchlet.Element(X)
    return function()
      local l = loss.hinge(model(batch), y) + REG * model:l2()
      opt:zero_grad(); l:backward(); opt:step()
      return l
    end
  end
  return impl
end

function M.plain()
  local impl = {name = "plain", scalar = plain.Value, seed = math.randomseed,
                mlp = plain.MLP, missing = {batched = "plain Lua has no arrays"}}
  impl.node_bytes = function()
    return chain_bytes(plain.Value, function() return 0 end)
  end
  -- micrograd's demo loss: mean of relu(1 - y*score) plus REG * sum(p*p).
  impl.moons_step = function(X, y)
    local model = plain.MLP(2, {16, 16, 1})
    local opt = plain.SGD(model:parameters(), SGD_OPTS)
    return function()
      local data_loss = 0
      for i = 1, #X do data_loss = data_loss + (1 + -y[i] * model(X[i])):relu() end
      local reg = 0
      for _, p in ipairs(model:parameters()) do reg = reg + p * p end
      local l = data_loss * (1 / #X) + REG * reg
      opt.zero_grad(); l:backward(); opt.step()
      return l
    end
  end
  return impl
end

-- The floor, and with 'with_gc' the floor whose values have an empty
-- __gc (what a finalizer per handle costs by itself).
function M.floor(with_gc)
  local ok, floor = pcall(require, "bench.floor")
  if not ok then return nil, "bench.floor not built: " .. tostring(floor) end
  local why = "the floor only allocates; it has no graph"
  return {name = with_gc and "floor_gc" or "floor",
          scalar = with_gc and floor.new_gc or floor.new, seed = function() end,
          missing = {graph = why, mlp = why, moons = why, batched = why}}
end

return M
