local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local unpack = require("spec.helpers").unpack   -- a global on 5.1
local nn = torchlet.nn

local read, write = helpers.read_file, helpers.write_file

-- The format's checksum (64-bit FNV-1a), to forge files that pass it and
-- reach the checks behind it.
local function with_checksum(body) return body .. helpers.fnv1a_le(body) end

local function bits(x) return helpers.pack("<d", x) end

local function load_error(path)
  local ok, err = pcall(nn.load, path)
  assert.is_false(ok, "load should fail")
  return tostring(err)
end

describe("save/load", function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it("round-trips architecture and parameters bit-exactly", function()
    torchlet.manual_seed(9)
    local m = nn.MLP(3, {5, 4, 2}, {activations = {"tanh", "sigmoid", "linear"}})
    local ps = m:parameters({scalar = true})
    -- values a decimal format would get wrong, and special ones
    ps[1].data, ps[2].data, ps[3].data = 0.1, helpers.neg_zero, 1 / 3
    ps[4].data, ps[5].data, ps[6].data = 5e-324, math.huge, -math.huge
    ps[7].data = 0 / 0
    m:save(path)
    local m2 = nn.load(path)
    assert.are.equal(tostring(m), tostring(m2))
    local qs = m2:parameters({scalar = true})
    assert.are.equal(#ps, #qs)
    for i = 1, #ps do
      assert.are.equal(bits(ps[i].data), bits(qs[i].data), "parameter " .. i)
    end
    ps[4].data, ps[5].data, ps[6].data, ps[7].data = 0.5, 0.25, -0.5, 0.125
    qs[4].data, qs[5].data, qs[6].data, qs[7].data = 0.5, 0.25, -0.5, 0.125
    local a, b = m({0.1, 0.2, 0.3}), m2({0.1, 0.2, 0.3})
    assert.are.equal(a[1].data, b[1].data)
    assert.are.equal(a[2].data, b[2].data)
  end)

  it("round-trips Neuron and Layer kinds", function()
    for _, m in ipairs{nn.Neuron(4, {activation = "tanh"}), nn.Layer(2, 3, {nonlin = false})} do
      m:save(path)
      assert.are.equal(tostring(m), tostring(nn.load(path)))
    end
  end)

  it("writes the documented layout", function()
    local m = nn.Neuron(2)
    local ps = m:parameters({scalar = true})
    ps[1].data, ps[2].data, ps[3].data = 1, 2, 3
    m:save(path)
    local s = read(path)
    local body = "TLNN\r\n\26\n" .. helpers.pack("<I4I4I8I4I4", 2, 0, 72, 2, 1)
                 .. helpers.pack("<I4I4", 1, 1) .. bits(1) .. bits(2) .. bits(3)
    assert.are.equal(with_checksum(body), s)
  end)

  it("writes W row-major, then b, layer by layer (version 2)", function()
    local m = nn.Layer(2, 2, {nonlin = false})
    local W, b = unpack(m:parameters())
    W.data, b.data = {{1, 2}, {4, 5}}, {3, 6}
    m:save(path)
    local body = "TLNN\r\n\26\n" .. helpers.pack("<I4I4I8I4I4", 2, 1, 96, 2, 1)
                 .. helpers.pack("<I4I4", 2, 0)
                 .. bits(1) .. bits(2) .. bits(4) .. bits(5) .. bits(3) .. bits(6)
    assert.are.equal(with_checksum(body), read(path))
  end)

  -- issue 13: files written before layers owned matrices
  it("loads version 1 files, whose parameters are neuron by neuron", function()
    local body = "TLNN\r\n\26\n" .. helpers.pack("<I4I4I8I4I4", 1, 2, 128, 2, 2)
                 .. helpers.pack("<I4I4I4I4", 2, 1, 1, 0)
                 -- layer 1: neuron 1 (w 1 2, b 3), neuron 2 (w 4 5, b 6); layer 2: w 7 8, b 9
                 .. bits(1) .. bits(2) .. bits(3) .. bits(4) .. bits(5) .. bits(6)
                 .. bits(7) .. bits(8) .. bits(9)
    write(path, with_checksum(body))
    local m = nn.load(path)
    assert.are.same({kind = "MLP", nin = 2, sizes = {2, 1}, activations = {"relu", "linear"}},
                    m:architecture())
    local W1, b1, W2, b2 = unpack(m:parameters())
    assert.are.same({{1, 2}, {4, 5}}, W1.data)
    assert.are.same({3, 6}, b1.data)
    assert.are.same({{7, 8}}, W2.data)
    assert.are.same({9}, b2.data)
    local s = {}
    for i, p in ipairs(m:parameters({scalar = true})) do s[i] = p.data end
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9}, s)          -- micrograd's order
    -- and it is saved again as version 2, same values
    m:save(path)
    assert.are.equal(2, helpers.u32le(read(path), 9))
    assert.are.same({{1, 2}, {4, 5}}, nn.load(path):parameters()[1].data)
  end)

  it("replaces an existing file whole and leaves no temporary file", function()
    write(path, string.rep("old contents ", 100))
    local m = nn.MLP(2, {3, 1})
    m:save(path)
    assert.are.same({}, helpers.temporaries(path))
    assert.are.equal(tostring(m), tostring(nn.load(path)))
  end)

  it("reports an unwritable path by the user's name for it", function()
    local ok, err = pcall(nn.Neuron(1).save, nn.Neuron(1), "/nonexistent-dir/model.tl")
    assert.is_false(ok)
    assert.is_truthy(err:find("cannot write '/nonexistent-dir/model.tl': No such file "
                              .. "or directory", 1, true), err)
  end)

  it("takes only strings as paths", function()
    local ok, err = pcall(nn.load, 1)
    assert.is_false(ok)
    assert.is_truthy(err:find("bad argument #1 to 'load' (string expected, got number)", 1, true))
    ok, err = pcall(nn.Neuron(1).save, nn.Neuron(1), 2)
    assert.is_false(ok)
    assert.is_truthy(err:find("bad argument #2 to 'save' (string expected, got number)", 1, true))
  end)

  describe("bad files", function()
    local good
    before_each(function()
      local m = nn.MLP(2, {3, 1})
      m:save(path)
      good = read(path)
    end)

    it("a missing file", function()
      os.remove(path)
      assert.is_truthy(load_error(path):find("cannot open '" .. path .. "'", 1, true))
    end)

    it("truncated at every length", function()
      for len = 0, #good - 1 do
        write(path, good:sub(1, len))
        local err = load_error(path)
        assert.is_truthy(err:find("file is truncated", 1, true), len .. ": " .. err)
      end
    end)

    it("with bytes appended", function()
      write(path, good .. "\0")
      assert.is_truthy(load_error(path):find("file is corrupted", 1, true))
    end)

    it("with any single byte changed", function()
      for pos = 1, #good do
        local b = good:byte(pos)
        local flipped = b % 64 >= 32 and b - 32 or b + 32   -- b xor 0x20
        write(path, good:sub(1, pos - 1) .. string.char(flipped) .. good:sub(pos + 1))
        local err = load_error(path)
        local want = pos <= 8 and "wrong magic number"
                  or pos <= 12 and "unsupported format version"
                  or (pos >= 17 and pos <= 24) and "file is"   -- the length field
                  or "file is corrupted (checksum mismatch)"
        assert.is_truthy(err:find(want, 1, true), pos .. ": " .. err)
      end
    end)

    it("with the wrong magic number", function()
      write(path, "PK\3\4 this is a zip file, not a model")
      assert.is_truthy(load_error(path):find("not a Torchlet model file (wrong magic number)", 1, true))
      write(path, "")
      assert.is_truthy(load_error(path):find("truncated", 1, true))
    end)

    it("with a version from the future, even with a valid checksum", function()
      local body = good:sub(1, 8) .. helpers.pack("<I4", 4) .. good:sub(13, -9)
      write(path, with_checksum(body))
      assert.is_truthy(load_error(path):find("unsupported format version 4 (this build reads versions 1 to 3)", 1, true))
      body = good:sub(1, 8) .. helpers.pack("<I4", 0) .. good:sub(13, -9)
      write(path, with_checksum(body))
      assert.is_truthy(load_error(path):find("unsupported format version 0", 1, true))
    end)

    it("with a dtype it does not know, or a dtype in a version-2 file", function()
      -- bytes 15-16: the dtype (version 3); 2 is no dtype
      local body = good:sub(1, 8) .. helpers.pack("<I4", 3) .. good:sub(13, 14)
                   .. "\2\0" .. good:sub(17, -9)
      write(path, with_checksum(body))
      assert.is_truthy(load_error(path):find("invalid model (unknown dtype 2)", 1, true))
      body = good:sub(1, 14) .. "\1\0" .. good:sub(17, -9)
      write(path, with_checksum(body))
      assert.is_truthy(load_error(path):find("invalid model (unknown dtype 1)", 1, true))
    end)

    it("with a valid checksum over an impossible architecture", function()
      -- activation 9 does not exist
      local body = good:sub(1, 36) .. helpers.pack("<I4", 9) .. good:sub(41, -9)
      write(path, with_checksum(body))
      assert.is_truthy(load_error(path):find("invalid model (unknown activation 9 at byte 36)", 1, true))
      -- layer size 4 instead of 3 does not match the file length
      body = good:sub(1, 32) .. helpers.pack("<I4", 4) .. good:sub(37, -9)
      write(path, with_checksum(body))
      assert.is_truthy(load_error(path):find("architecture does not match the file length", 1, true))
    end)

    it("leaves no nodes behind", function()
      local before = helpers.settle()
      write(path, good:sub(1, -2))
      load_error(path)
      collectgarbage("collect")
      assert.are.equal(before, torchlet.memory().live_nodes)
    end)
  end)
end)

describe("save/load architecture limits", function()
  it("rejects widths whose parameter count would overflow, even with a valid checksum", function()
    -- nin = 2^32 - 1 and one layer of 2^29: 2^61 parameters, 8 * 2^61
    -- wraps to 0 in 64 bits, so the file length alone cannot catch it
    local body = "TLNN\r\n\26\n" .. helpers.pack("<I4I4I8I4I4I4I4", 1, 2, 48,
                                                   0xFFFFFFFF, 1, 2 ^ 29, 0)
    local path = os.tmpname()
    write(path, with_checksum(body))
    local ok, err = pcall(torchlet.nn.load, path)
    os.remove(path)
    assert.is_false(ok)
    assert.matches("invalid model", err)
  end)
end)
