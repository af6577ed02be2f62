-- Checkpoints (issue 16, item 5): optimizer state, models and checkpoints
-- to and from strings and files, exact resume, and bad checkpoints.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local nn, optim, E = torchlet.nn, torchlet.optim, torchlet.Element

local read, write = helpers.read_file, helpers.write_file
local function bits(x) return helpers.pack("<d", x) end
local function with_checksum(body) return body .. helpers.fnv1a_le(body) end

-- The bit patterns of every parameter value, W1, b1, W2, b2, ...
local function param_bits(m)
  local out = {}
  for _, p in ipairs(m:parameters({scalar = true})) do out[#out + 1] = bits(p.data) end
  return table.concat(out)
end

local function fails(want, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "should fail: " .. want)
  err = tostring(err)
  assert.is_truthy(err:find(want, 1, true), "wanted '" .. want .. "', got: " .. err)
  return err
end

-- A small regression problem, 8 points, 2 inputs.
local X = {{0.1, 0.9}, {-0.4, 0.3}, {0.8, -0.6}, {0.2, 0.2},
           {-0.9, -0.1}, {0.5, 0.7}, {-0.3, -0.8}, {0.6, 0.1}}
local Y = {}
for i, x in ipairs(X) do Y[i] = math.sin(2 * x[1]) + x[2] * x[2] end

local function loss_of(m, batched)
  if batched then
    local p = m(E(X))
    return torchlet.loss.mse(p, E(Y):reshape(8, 1))
  end
  local total = 0
  for i, x in ipairs(X) do
    local d = m(x) - Y[i]
    total = d * d + total
  end
  return total / #X
end

local function train(m, opt, steps, batched)
  for _ = 1, steps do
    opt:zero_grad()
    loss_of(m, batched):backward()
    opt:step()
  end
end

local makers = {
  Adam = function(ps) return optim.Adam(ps, {lr = 0.01, amsgrad = true, weight_decay = 1e-3}) end,
  SGD_momentum = function(ps)
    return optim.SGD(ps, {lr = 0.05, momentum = 0.9, nesterov = true})
  end,
}

describe("exact resume", function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  for name, make in pairs(makers) do
    for _, batched in ipairs{true, false} do
      for _, via in ipairs{"file", "string"} do
        local label = ("%s, %s path, through a %s"):format(name,
          batched and "batched" or "scalar", via)
        it("300 steps equal 150 + save + load + 150, bit for bit: " .. label, function()
          torchlet.manual_seed(5)
          local straight = nn.MLP(2, {6, 6, 1}, {activation = "tanh"})
          train(straight, make(straight:parameters()), 300, batched)

          torchlet.manual_seed(5)
          local m = nn.MLP(2, {6, 6, 1}, {activation = "tanh"})
          local opt = make(m:parameters())
          train(m, opt, 150, batched)
          local ck
          if via == "file" then
            torchlet.save_checkpoint(path, {model = m, optimizer = opt, step = 150})
            ck = torchlet.load_checkpoint(path)
          else
            ck = torchlet.load_checkpoint_string(
              torchlet.dump_checkpoint{model = m, optimizer = opt, step = 150})
          end
          assert.are.equal(150, ck.step)
          assert.are_not.equal(m, ck.model)
          assert.are.equal(param_bits(m), param_bits(ck.model))
          m, opt = nil, nil
          collectgarbage()
          train(ck.model, ck.optimizer, 150, batched)
          assert.are.equal(param_bits(straight), param_bits(ck.model))

          -- what the model file alone gave before: a fresh optimizer drifts
          torchlet.manual_seed(5)
          local naive = nn.MLP(2, {6, 6, 1}, {activation = "tanh"})
          train(naive, make(naive:parameters()), 150, batched)
          local reloaded = nn.load_string(naive:dump())
          train(reloaded, make(reloaded:parameters()), 150, batched)
          assert.are_not.equal(param_bits(straight), param_bits(reloaded))
        end)
      end
    end
  end
end)

describe("optimizer state", function()
  local kinds = {
    {"SGD", {}}, {"SGD", {momentum = 0.8, dampening = 0.1, weight_decay = 0.01}},
    {"SGD", {momentum = 0.9, nesterov = true}},
    {"RMSprop", {momentum = 0.5, centered = true, alpha = 0.9}}, {"RMSprop", {}},
    {"Adagrad", {lr_decay = 0.01, initial_accumulator_value = 0.1}},
    {"Adam", {betas = {0.8, 0.99}, eps = 1e-6}}, {"Adam", {amsgrad = true}},
    {"AdamW", {weight_decay = 0.1}},
  }
  for _, k in ipairs(kinds) do
    it("round-trips through a string and steps on alike: " .. k[1], function()
      torchlet.manual_seed(3)
      local m = nn.MLP(2, {4, 1})
      local opt = optim[k[1]](m:parameters(), k[2])
      train(m, opt, 7, true)
      -- a parameter left out of a step keeps its own step count
      opt:zero_grad()
      local W2 = m:parameters()[3]
      W2:sum():backward()
      opt:step()
      local copy = nn.load_string(m:dump())
      local opt2 = optim[k[1]](copy:parameters())   -- default options, replaced
      opt2:load_string(opt:dump())
      assert.are.equal(opt:dump(), opt2:dump())
      assert.are.equal(opt.lr, opt2.lr)
      train(m, opt, 5, false)
      train(copy, opt2, 5, false)
      assert.are.equal(param_bits(m), param_bits(copy))
    end)
  end

  it("is refused for another kind, count or shape, saying which, and leaves the optimizer as it was", function()
    local m = nn.MLP(2, {3, 1})
    local opt = optim.Adam(m:parameters(), {lr = 0.5})
    train(m, opt, 2, true)
    local before = opt:dump()
    local sgd = optim.SGD(m:parameters()):dump()
    fails("bad argument #1 to 'load_string' (optimizer state is for SGD, this optimizer is Adam)",
          function() opt:load_string(sgd) end)
    fails("optimizer state is for 2 parameters, this optimizer has 4",
          opt.load_string, opt, optim.Adam(nn.MLP(2, {3}):parameters()):dump())
    fails("optimizer state holds 8 values for parameter 1 of 4, where this one has 6",
          opt.load_string, opt, optim.Adam(nn.MLP(2, {4, 1}):parameters()):dump())
    fails("optimizer state holds 9 values for parameter 3 of 4, where this one has 3 (a model of another shape?)",
          opt.load_string, opt, optim.Adam(nn.MLP(2, {3, 3}):parameters()):dump())
    fails("bad argument #1 to 'load_string' (string expected, got number)",
          function() opt:load_string(5) end)
    fails("bad argument #1 to 'dump' (no arguments expected)", function() opt:dump(1) end)
    assert.are.equal(before, opt:dump())
    assert.are.equal(0.5, opt.lr)
  end)

  it("refuses damaged state: every truncation and every changed byte", function()
    local m = nn.MLP(2, {2, 1})
    local opt = optim.Adam(m:parameters())
    train(m, opt, 1, true)
    local good, before = opt:dump(), opt:dump()
    for len = 0, #good - 1 do
      fails("data is truncated", opt.load_string, opt, good:sub(1, len))
    end
    for pos = 1, #good do
      local b = good:byte(pos)
      local s = good:sub(1, pos - 1) .. string.char((b + 1) % 256) .. good:sub(pos + 1)
      local ok = pcall(opt.load_string, opt, s)
      assert.is_false(ok, "byte " .. pos)
    end
    assert.are.equal(before, opt:dump())
  end)

  it("refuses options the optimizer itself would refuse, even with a valid checksum", function()
    local m = nn.MLP(2, {2, 1})
    local opt = optim.Adam(m:parameters())
    local good = opt:dump()
    -- beta1 (offset 80) = 1.5
    local body = good:sub(1, 80) .. bits(1.5) .. good:sub(89, -9)
    fails("invalid optimizer state (invalid betas (1.5, 0.999)", opt.load_string, opt,
          with_checksum(body))
    -- amsgrad on, but no array for it
    body = good:sub(1, 120) .. helpers.pack("<I4", 1) .. good:sub(125, -9)
    fails("invalid optimizer state (its arrays do not match its options and length)",
          opt.load_string, opt, with_checksum(body))
  end)
end)

describe("models as strings", function()
  it("dump gives the bytes save writes, and load_string reads them back", function()
    local path = os.tmpname()
    local m = nn.MLP(3, {4, 2})
    m:save(path)
    local s = m:dump()
    assert.are.equal(read(path), s)
    os.remove(path)
    local m2 = nn.load_string(s)
    assert.are.equal(tostring(m), tostring(m2))
    assert.are.equal(param_bits(m), param_bits(m2))
  end)

  it("refuses bad strings by name", function()
    local s = nn.Neuron(2):dump()
    fails("bad argument #1 to 'load_string' (data is truncated (", nn.load_string, s:sub(1, -2))
    fails("bad argument #1 to 'load_string' (not a Torchlet model (wrong magic number))",
          nn.load_string, "hello")
    fails("bad argument #1 to 'load_string' (string expected, got table)", nn.load_string, {})
  end)
end)

describe("checkpoints", function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  local function fresh()
    torchlet.manual_seed(11)
    local m = nn.MLP(2, {3, 1})
    local opt = optim.Adam(m:parameters(), {lr = 0.02})
    train(m, opt, 3, true)
    return m, opt
  end

  it("hold a model alone, the step 0 by default", function()
    local m = fresh()
    local ck = torchlet.load_checkpoint_string(torchlet.dump_checkpoint{model = m})
    assert.are.equal(0, ck.step)
    assert.is_nil(ck.optimizer)
    assert.are.equal(param_bits(m), param_bits(ck.model))
  end)

  it("save and dump give the same bytes, and big steps come back", function()
    local m, opt = fresh()
    local t = {model = m, optimizer = opt, step = 2 ^ 53}
    torchlet.save_checkpoint(path, t)
    assert.are.equal(torchlet.dump_checkpoint(t), read(path))
    assert.are.equal(2 ^ 53, torchlet.load_checkpoint(path).step)
    local big = math.maxinteger or 2 ^ 53                 -- 5.1: no integers
    assert.are.equal(big, torchlet.load_checkpoint_string(
      torchlet.dump_checkpoint{model = m, step = big}).step)
  end)

  it("check their argument table", function()
    local m, opt = fresh()
    local other = optim.SGD(nn.MLP(2, {3, 1}):parameters())
    local sub = optim.SGD({m:parameters()[1]})
    fails("bad argument #1 to 'dump_checkpoint' (unknown option 'optimiser'; known: model, optimizer, step)",
          torchlet.dump_checkpoint, {model = m, optimiser = opt})
    fails("bad argument #1 to 'dump_checkpoint' (field 'model' is missing)",
          torchlet.dump_checkpoint, {optimizer = opt})
    fails("bad argument #1 to 'dump_checkpoint' (field 'model' must be a Module (nn.MLP, Layer or Neuron; not a Sequential), got torchlet.Optimizer)",
          torchlet.dump_checkpoint, {model = opt})
    fails("bad argument #1 to 'dump_checkpoint' (field 'optimizer' must be an Optimizer, got table)",
          torchlet.dump_checkpoint, {model = m, optimizer = {}})
    fails("field 'step' must be an integer >= 0, got -1", torchlet.dump_checkpoint,
          {model = m, step = -1})
    fails("field 'step' must be an integer >= 0, got 1.5", torchlet.dump_checkpoint,
          {model = m, step = 1.5})
    fails("field 'step' must be an integer >= 0, got 7", torchlet.dump_checkpoint,
          {model = m, step = "7"})
    fails("(checkpoint: the optimizer is not the model's (its parameter 1 of 4 is not the model's",
          torchlet.dump_checkpoint, {model = m, optimizer = other})
    fails("the optimizer is not the model's (it has 1 parameters, the model 4)",
          torchlet.save_checkpoint, path, {model = m, optimizer = sub})
    fails("bad argument #1 to 'dump_checkpoint' (table {model = ..., optimizer = ..., step = ...} expected, got no value)",
          torchlet.dump_checkpoint)
    fails("bad argument #1 to 'save_checkpoint' (string expected, got table)",
          torchlet.save_checkpoint, {model = m})
    fails("bad argument #1 to 'load_checkpoint' (string expected, got no value)", torchlet.load_checkpoint)
    fails("bad argument #1 to 'load_checkpoint_string' (string expected, got number)",
          torchlet.load_checkpoint_string, 1)
  end)

  it("a failed save leaves the checkpoint already saved whole", function()
    local m, opt = fresh()
    torchlet.save_checkpoint(path, {model = m, optimizer = opt, step = 3})
    local saved = read(path)
    fails("the optimizer is not the model's", torchlet.save_checkpoint, path,
          {model = nn.MLP(2, {5, 1}), optimizer = opt, step = 4})
    fails("cannot write '" .. path .. "/x': Not a directory", torchlet.save_checkpoint,
          path .. "/x", {model = m})
    assert.are.equal(saved, read(path))
    assert.are.same({}, helpers.temporaries(path))
  end)

  describe("bad checkpoints", function()
    local good
    before_each(function()
      local m, opt = fresh()
      good = torchlet.dump_checkpoint{model = m, optimizer = opt, step = 3}
    end)
    local function load_file(s)
      write(path, s)
      return torchlet.load_checkpoint(path)
    end

    it("truncated at every length, as a file and as a string", function()
      for len = 0, #good - 1 do
        local s = good:sub(1, len)
        fails("load_checkpoint '" .. path .. "': file is truncated", load_file, s)
        fails("bad argument #1 to 'load_checkpoint_string' (data is truncated",
              torchlet.load_checkpoint_string, s)
      end
    end)

    it("with any single byte changed", function()
      for pos = 1, #good do
        local b = good:byte(pos)
        local s = good:sub(1, pos - 1) .. string.char(b % 64 >= 32 and b - 32 or b + 32) .. good:sub(pos + 1)  -- b xor 0x20
        local want = pos <= 8 and "not a Torchlet checkpoint file (wrong magic number)"
                  or pos <= 12 and "unsupported checkpoint version"
                  or (pos >= 17 and pos <= 24) and "file is"
                  or "file is corrupted (checksum mismatch)"
        fails(want, load_file, s)
      end
    end)

    it("of another version, even with a valid checksum", function()
      local s = with_checksum(good:sub(1, 8) .. helpers.pack("<I4", 2) .. good:sub(13, -9))
      fails("unsupported checkpoint version 2 (this build reads versions 1 to 1)",
            torchlet.load_checkpoint_string, s)
    end)

    it("whose parts do not fit together, even with a valid checksum", function()
      -- a model part one byte longer than it is
      local mlen = helpers.u32le(good, 33)          -- the high half is 0
      local s = good:sub(1, 32) .. helpers.pack("<I8", mlen + 1) .. good:sub(41, -9)
      fails("invalid checkpoint (its parts' lengths do not add up to the file's)",
            load_file, with_checksum(s))
      -- the optimizer of another model shape inside a checkpoint
      local m2 = nn.MLP(2, {4, 1})
      local other = optim.Adam(m2:parameters()):dump()
      local model_part = good:sub(49, 48 + mlen)
      local body = good:sub(1, 40) .. helpers.pack("<I8", #other) .. model_part .. other
      body = body:sub(1, 16) .. helpers.pack("<I8", #body + 8) .. body:sub(25)
      fails("optimizer part: optimizer state holds 8 values for parameter 1 of 4, where this one has 6",
            torchlet.load_checkpoint_string, with_checksum(body))
    end)

    it("a model file is not a checkpoint, and a checkpoint is not a model", function()
      fails("this is a model, not a checkpoint", torchlet.load_checkpoint_string,
            nn.MLP(2, {1}):dump())
      fails("not a Torchlet model (wrong magic number)", nn.load_string, good)
    end)

    it("leave no nodes behind", function()
      collectgarbage("collect")
      local before = torchlet.memory().live_nodes
      for len = 0, #good - 1, 7 do pcall(torchlet.load_checkpoint_string, good:sub(1, len)) end
      collectgarbage("collect")
      assert.are.equal(before, torchlet.memory().live_nodes)
    end)
  end)
end)
