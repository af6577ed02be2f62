-- spec/safetensors_spec.lua -- models saved as safetensors and read back
-- (core/safetensors.c, core/safetensors_header.c): bit-exact round trips,
-- the bytes as an independent reader (written here, in Lua) sees them,
-- files written by PyTorch (spec/reference/safetensors_torch.py), and
-- every kind of damaged file refused with a message saying what is wrong.
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local E, nn = torchlet.Element, torchlet.nn

local read, write, exists, fails = helpers.read_file, helpers.write_file,
  helpers.exists, helpers.fails
local tmppath, cleanup = helpers.temp_paths()

-- {====================================================================
-- An independent reader: little-endian integers and floats from bytes,
-- and a small JSON parser (objects, arrays, strings without escapes,
-- non-negative integers: what the writer emits)
-- =====================================================================

local function uint_le(s, pos, n)
  local v = 0
  for i = pos + n - 1, pos, -1 do v = v * 256 + s:byte(i) end
  return v
end

-- The IEEE 754 value of the n-byte (8 or 4) little-endian float at pos,
-- from its fields (the 64 bits are read as two 32-bit halves: a double
-- holds integers exactly only up to 2^53).
local function float_le(s, pos, n)
  local hi = uint_le(s, pos + n - 4, 4)
  local sign = hi >= 2 ^ 31 and -1 or 1
  hi = hi % 2 ^ 31
  local mbits = n == 8 and 52 or 23
  local hbits = mbits - (n == 8 and 32 or 0)      -- mantissa bits in 'hi'
  local e = math.floor(hi / 2 ^ hbits)
  local m = hi % 2 ^ hbits
  if n == 8 then m = m * 2 ^ 32 + uint_le(s, pos, 4) end
  local bias = n == 8 and 1023 or 127
  if e == 2 * bias + 1 then return m == 0 and sign * math.huge or 0 / 0 end
  if e == 0 then return sign * m * 2 ^ (1 - bias - mbits) end
  return sign * (2 ^ mbits + m) * 2 ^ (e - bias - mbits)
end

local function json_decode(s)
  local i = 1
  local value
  local function ws() i = s:find("[^ \t\r\n]", i) or #s + 1 end
  function value()
    ws()
    local c = s:sub(i, i)
    if c == "{" then
      local t = {}
      i = i + 1
      ws()
      if s:sub(i, i) == "}" then i = i + 1 return t end
      repeat
        ws()
        local k = value()
        ws()
        assert(s:sub(i, i) == ":")
        i = i + 1
        t[k] = value()
        ws()
        local d = s:sub(i, i)
        i = i + 1
      until d == "}"
      return t
    elseif c == "[" then
      local t = {}
      i = i + 1
      ws()
      if s:sub(i, i) == "]" then i = i + 1 return t end
      repeat
        t[#t + 1] = value()
        ws()
        local d = s:sub(i, i)
        i = i + 1
      until d == "]"
      return t
    elseif c == '"' then
      local j = assert(s:find('"', i + 1, true))
      local str = s:sub(i + 1, j - 1)
      i = j + 1
      return str
    end
    local num = assert(s:match("^%d+", i))
    i = i + #num
    return tonumber(num)
  end
  local v = value()
  ws()
  assert(i == #s + 1, "text after the JSON")
  return v
end

-- The file's header (decoded), its JSON text, and a function giving the
-- values of a tensor (a flat list).
local function independent_read(bytes)
  local n = uint_le(bytes, 1, 8)
  local text = bytes:sub(9, 8 + n)
  local header = json_decode(text)
  local base = 8 + n
  local function values(name)
    local t = assert(header[name], name)
    local size = t.dtype == "F64" and 8 or 4
    local out = {}
    for pos = base + t.data_offsets[1] + 1, base + t.data_offsets[2], size do
      out[#out + 1] = float_le(bytes, pos, size)
    end
    return out
  end
  return header, text, values
end

-- }====================================================================

-- Same double, bit for bit (-0 is not 0; nan matches nan).
local function same_bits(a, b)
  if a ~= a then return b ~= b end
  return a == b and (a ~= 0 or 1 / a == 1 / b)
end

-- The parameters of 'model' as flat lists, W1, b1, W2, b2, ...
local function flat_params(model)
  local out = {}
  for k, p in ipairs(model:parameters()) do
    local flat, data = {}, p.data
    for _, row in ipairs(data) do
      if type(row) == "table" then
        for _, v in ipairs(row) do flat[#flat + 1] = v end
      else flat[#flat + 1] = row end
    end
    out[k] = flat
  end
  return out
end

local function assert_same_params(a, b)
  local pa, pb = flat_params(a), flat_params(b)
  assert.are.equal(#pa, #pb)
  for k = 1, #pa do
    assert.are.equal(#pa[k], #pb[k])
    for i = 1, #pa[k] do assert(same_bits(pa[k][i], pb[k][i]), "parameter " .. k .. "[" .. i .. "]") end
  end
end

local function roundtrip(model)
  local path = tmppath(".safetensors")
  model:save(path)
  return nn.load(path), path
end

describe("safetensors", function()
  after_each(cleanup)
  torchlet.manual_seed(5)

  describe("round trip", function()
    it("is bit-exact for every kind of model and activation", function()
      local models = {
        nn.MLP(4, {8, 8, 3}, {activation = "tanh", output = "sigmoid"}),
        nn.MLP(3, {5, 4, 2}, {activations = {"relu", "linear", "tanh"}}),
        nn.Layer(3, 4, {activation = "sigmoid"}),
        nn.Neuron(5),
      }
      for _, m in ipairs(models) do
        local back = roundtrip(m)
        assert.are.equal(tostring(m), tostring(back))
        assert.are.equal(m:dump(), back:dump())   -- Torchlet's own bytes agree
        assert_same_params(m, back)
        local x = E({{0.5, -1, 2, 0.25, 3}, {1, 1, 1, 1, 1}})
        local nin = #m:parameters()[1].data[1]
        local rows = {}
        for r = 1, 2 do
          rows[r] = {}
          for c = 1, nin do rows[r][c] = x.data[r][c] end
        end
        local y1, y2 = m(E(rows)).data, back(E(rows)).data
        for r = 1, 2 do
          for c = 1, #y1[r] do assert(same_bits(y1[r][c], y2[r][c])) end
        end
      end
    end)

    it("keeps -0, subnormals, infinities and the largest double", function()
      local m = nn.MLP(2, {3, 1})
      local ps = m:parameters({scalar = true})
      ps[1].data, ps[2].data, ps[3].data = -0.0, 2 ^ -1074, math.huge
      ps[4].data, ps[5].data = -math.huge, 1.7976931348623157e308
      local back = roundtrip(m)
      assert_same_params(m, back)
      local bs = back:parameters({scalar = true})
      assert.are.equal(-math.huge, 1 / bs[1].data)
    end)

    it("MLP(784, {128, 10}): size of the file", function()
      local m = nn.MLP(784, {128, 10})
      local back, path = roundtrip(m)
      assert_same_params(m, back)
      local n = #read(path)
      -- 101770 parameters of 8 bytes, and a header under a kilobyte
      assert.is_true(n > 101770 * 8 and n < 101770 * 8 + 1024)
    end)
  end)

  describe("the bytes, read independently", function()
    it("follow the safetensors layout and PyTorch's names and shapes", function()
      local m = nn.MLP(3, {5, 4, 2}, {activations = {"relu", "linear", "tanh"}})
      local path = tmppath(".safetensors")
      m:save(path)
      local bytes = read(path)
      local header, text, values = independent_read(bytes)
      assert.are.equal(0, (8 + #text) % 8)              -- data aligned to 8
      assert.truthy(text:match("^{.*} *$"))             -- padded with spaces
      -- a ReLU module after layer 0, none after layer 1: Linear at 0, 2, 3
      local expect = {
        ["0.weight"] = {5, 3}, ["0.bias"] = {5}, ["2.weight"] = {4, 5},
        ["2.bias"] = {4}, ["3.weight"] = {2, 4}, ["3.bias"] = {2},
      }
      local count = 0
      for name, t in pairs(header) do
        if name ~= "__metadata__" then
          count = count + 1
          assert.are.same(expect[name], t.shape)
          assert.are.equal("F64", t.dtype)
        end
      end
      assert.are.equal(6, count)
      local md = header.__metadata__
      assert.are.equal("pt", md.format)
      assert.are.equal("3", md["torchlet.nin"])
      assert.are.equal("5,4,2", md["torchlet.sizes"])
      assert.are.equal("relu,linear,tanh", md["torchlet.activations"])
      assert.are.equal("MLP", md["torchlet.kind"])
      assert.are.equal("Sequential(Linear(3, 5), ReLU(), Linear(5, 4), Linear(4, 2), Tanh())",
                       md["torchlet.sequential"])
      local ps = flat_params(m)
      local names = {"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"}
      for k, name in ipairs(names) do
        local v = values(name)
        assert.are.equal(#ps[k], #v)
        for i = 1, #v do assert(same_bits(ps[k][i], v[i]), name .. "[" .. i .. "]") end
      end
      -- the tensors tile the data: the last one ends at the end of the file
      assert.are.equal(#bytes, 8 + #text + header["3.bias"].data_offsets[2])
    end)

    -- numpy, as a PyTorch user without Torchlet reads the file
    -- (spec/reference/safetensors_numpy.py; setup.sh test installs
    -- Debian's python3-numpy)
    for _, dtype in ipairs({"float64", "float32"}) do
      it("hold for numpy the names, shapes and values of the parameters (" .. dtype .. ")", function()
        local m = nn.MLP(4, {6, 3}, {activations = {"relu", "linear"}})
        if dtype == "float32" then m = m:float() end
        local path = tmppath(".safetensors")
        m:save(path)
        local ok, out = helpers.run("/usr/bin/python3 spec/reference/safetensors_numpy.py '"
                                    .. path .. "'")
        assert(ok, "numpy reader failed (is python3-numpy installed?): " .. out)
        local want = {{"0.weight", "6,4"}, {"0.bias", "6"}, {"2.weight", "3,6"}, {"2.bias", "3"}}
        local ps, k = flat_params(m), 0
        for line in out:gmatch("[^\n]+") do
          k = k + 1
          local name, dt, shape, rest = line:match("^(%S+) (%S+) (%S+) (.*)$")
          assert.are.same(want[k], {name, shape})
          assert.are.equal(dtype == "float64" and "F64" or "F32", dt)
          local i = 0
          for v in rest:gmatch("%S+") do
            i = i + 1
            assert(same_bits(tonumber(v), ps[k][i]), name .. "[" .. i .. "]")
          end
          assert.are.equal(#ps[k], i)
        end
        assert.are.equal(4, k)
      end)
    end
  end)

  describe("in a string (model:dump, nn.load_string)", function()
    it("holds the bytes a save writes, and reads back bit-exact", function()
      local m = nn.MLP(3, {5, 2}, {activations = {"tanh", "sigmoid"}})
      local path = tmppath(".safetensors")
      m:save(path)
      local s = m:dump({format = "safetensors"})
      assert.are.equal(read(path), s)
      local back = nn.load_string(s)             -- found by its content
      assert_same_params(m, back)
      assert.are.same(m:architecture(), back:architecture())
      assert_same_params(m, nn.load_string(s, {format = "safetensors"}))
      -- Torchlet's own bytes still by default, and both told apart
      assert.are.equal(m:dump(), m:dump({format = "torchlet"}))
      assert_same_params(m, nn.load_string(m:dump()))
      local m32 = m:float()
      local b32 = nn.load_string(m32:dump({format = "safetensors"}))
      assert.are.equal("float32", b32:parameters()[1].dtype)
      assert_same_params(m32, b32)
    end)

    it("reads PyTorch's bytes with the activations given", function()
      local ref = dofile("spec/reference/safetensors_torch.lua")
      local path = "spec/reference/safetensors_torch_f64.safetensors"
      local a = nn.load(path, {activations = ref.activations})
      local b = nn.load_string(read(path), {activations = ref.activations})
      assert_same_params(a, b)
    end)

    it("refuses what does not fit, naming the argument", function()
      local m = nn.MLP(2, {2})
      fails("bad argument #2 to 'dump' (unknown option 'fmt'", m.dump, m, {fmt = "x"})
      fails("bad argument #2 to 'dump' (unknown format 'onnx'", m.dump, m, {format = "onnx"})
      fails("bad argument #2 to 'load_string' (activations are read from safetensors files only",
            nn.load_string, m:dump(), {activation = "relu"})
      fails("bad argument #1 to 'load_string' (header length", nn.load_string,
            m:dump({format = "safetensors"}):sub(1, 9))
      fails("bad argument #1 to 'load_string' (not a Torchlet model (wrong magic number))",
            nn.load_string, "garbage")
      fails("bad argument #1 to 'load_string' (data is truncated", nn.load_string,
            "cut", {format = "safetensors"})
      fails("bad argument #1 to 'load_string' (", nn.load_string,
            m:dump({format = "safetensors"}):sub(1, 40))
      fails("bad argument #2 to 'load_string' (unknown option 'formt'", nn.load_string,
            m:dump(), {formt = "torchlet"})
    end)
  end)

  describe("format", function()
    it("comes from the extension or the option", function()
      local m = nn.MLP(2, {2})
      local a, b = tmppath(".bin"), tmppath(".safetensors")
      m:save(a, {format = "safetensors"})
      assert.are.equal("{", read(a):sub(9, 9))
      fails("wrong magic number", nn.load, a)              -- read as Torchlet's
      assert_same_params(m, nn.load(a, {format = "safetensors"}))
      m:save(b, {format = "torchlet"})
      assert.are.equal("TLNN", read(b):sub(1, 4))
      assert_same_params(m, nn.load(b, {format = "torchlet"}))
    end)

    it("refuses unknown formats and options", function()
      local m = nn.MLP(2, {2})
      local p = tmppath(".safetensors")
      fails("bad argument #3 to 'save' (unknown format 'onnx'", m.save, m, p, {format = "onnx"})
      fails("bad argument #3 to 'save'", m.save, m, p, {fromat = "safetensors"})
      fails("bad argument #2 to 'load' (unknown format 'onnx'", nn.load, p, {format = "onnx"})
      fails("bad argument #2 to 'load'", nn.load, p, {activaton = "relu"})
      fails("bad argument #2 to 'load' (activations are read from safetensors files only",
            nn.load, tmppath(".tl"), {activation = "relu"})
      fails("bad argument #2 to 'load' (unknown activation 'gelu'", nn.load, p, {activation = "gelu"})
      fails("bad argument #2 to 'load' (option 'activations' must be a table", nn.load, p,
            {activations = "relu"})
      assert.is_false(exists(p))
    end)

    it("takes the caller's activations over the metadata's, for as many layers", function()
      local m = nn.MLP(2, {3, 1}, {activation = "tanh"})
      local p = tmppath(".safetensors")
      m:save(p)
      -- tanh after layer 1 makes layer 2 module 2; so does relu
      local back = nn.load(p, {activations = {"relu", "sigmoid"}})
      assert.are.same({kind = "MLP", nin = 2, sizes = {3, 1}, activations = {"relu", "sigmoid"}},
                      back:architecture())
      assert_same_params(m, back)
      fails("activations given for 3 layers, the file's metadata has 2", nn.load, p,
            {activations = {"relu", "relu", "relu"}})
      fails("missing tensor '1.weight'", nn.load, p, {activations = {"linear", "linear"}})
    end)

    it("saves whole or not at all", function()
      local p = tmppath("") .. "/missing/m.safetensors"
      fails("cannot write '" .. p .. "'", function() nn.MLP(2, {2}):save(p) end)
      assert.is_false(exists(p))
    end)
  end)

  describe("files written by PyTorch", function()
    local ref = dofile("spec/reference/safetensors_torch.lua")
    local function rows_out(model, inputs)
      return model(E(inputs)).data
    end

    it("load with the activations given, and predict as PyTorch did (float32)", function()
      local m = nn.load("spec/reference/safetensors_torch_f32.safetensors",
                        {activations = ref.activations})
      assert.are.same({kind = "MLP", nin = 3, sizes = {5, 4, 2},
                       activations = {"tanh", "linear", "sigmoid"}}, m:architecture())
      -- PyTorch rounded every step to float32; Torchlet computes the same
      -- (widened) weights in float64: agreement to float32's precision
      local y = rows_out(m, ref.inputs)
      for r = 1, #ref.inputs do
        for c = 1, 2 do helpers.near(ref.f32[r][c], y[r][c], 1e-6) end
      end
    end)

    it("load float64 and predict as PyTorch did to a few units in the last place", function()
      local m = nn.load("spec/reference/safetensors_torch_f64.safetensors",
                        {activations = ref.activations})
      local y = rows_out(m, ref.inputs)
      for r = 1, #ref.inputs do
        for c = 1, 2 do
          -- same weights, same float64 arithmetic; only the order of each
          -- sum (PyTorch's BLAS, Torchlet's fma chain) may differ
          assert(math.abs(ref.f64[r][c] - y[r][c]) <= 4 * 2 ^ -53 * math.abs(ref.f64[r][c]),
                 ("row %d output %d: %.17g vs PyTorch %.17g"):format(r, c, y[r][c], ref.f64[r][c]))
        end
      end
    end)

    it("hold, widened, exactly the float32 values an independent reader sees", function()
      local path = "spec/reference/safetensors_torch_f32.safetensors"
      local _, _, values = independent_read(read(path))
      local ps = flat_params(nn.load(path, {activations = ref.activations}))
      local names = {"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"}
      for k, name in ipairs(names) do
        local v = values(name)
        for i = 1, #v do assert(same_bits(v[i], ps[k][i]), name) end
      end
      -- and the float64 file holds the same values
      local p64 = flat_params(nn.load("spec/reference/safetensors_torch_f64.safetensors",
                                      {activations = ref.activations}))
      for k = 1, #ps do
        for i = 1, #ps[k] do assert(same_bits(ps[k][i], p64[k][i])) end
      end
    end)

    it("need the activations: the file has no Torchlet metadata", function()
      fails("no Torchlet architecture in the header's __metadata__: give the activations",
            nn.load, "spec/reference/safetensors_torch_f32.safetensors")
    end)

    it("refuse activations the names contradict", function()
      -- three non-linear layers would be modules 0, 2, 4
      fails("missing tensor '4.weight'", nn.load,
            "spec/reference/safetensors_torch_f32.safetensors", {activation = "relu"})
      fails("tensor '3.bias' belongs to no layer of the architecture (2 layers", nn.load,
            "spec/reference/safetensors_torch_f32.safetensors", {activations = {"tanh", "linear"}})
    end)
  end)

  -- {==================================================================
  -- Damaged and foreign files: each refused with a message saying which
  -- ===================================================================

  describe("refuses", function()
    local W = helpers.pack("<d<d", 0.5, -0.25)          -- 0.weight (1, 2)
    local B = helpers.pack("<d", 0.125)                 -- 0.bias (1)
    local META = '"__metadata__":{"torchlet.nin":"2","torchlet.sizes":"1",'
                 .. '"torchlet.activations":"linear"}'
    local TENSORS = '"0.weight":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]},'
                    .. '"0.bias":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}'
    local function file(json, data) return helpers.pack("<I8", #json) .. json .. (data or W .. B) end
    local function good_json() return "{" .. META .. "," .. TENSORS .. "}" end
    -- the sound header with one substitution (a Lua pattern)
    local function g(pattern, repl) return (good_json():gsub(pattern, repl)) end

    local function refused(pattern, bytes, opts)
      local p = tmppath(".safetensors")
      write(p, bytes)
      fails(pattern, nn.load, p, opts)
    end

    it("nothing when the file is sound (the base of the cases below)", function()
      local p = tmppath(".safetensors")
      write(p, file(good_json()))
      assert.are.same({{0.5, -0.25}, {0.125}}, flat_params(nn.load(p)))
    end)

    it("a truncated file and a header length past the end", function()
      refused("file is truncated (5 bytes, shorter than the 8-byte header length)", "\1\0\0\0\0")
      refused("header length 1000 runs past the end of the file", helpers.pack("<I8", 1000) .. "{}")
      local whole = file(good_json())
      refused("out of range", whole:sub(1, #whole - 3))    -- data cut short
      refused("header length 18446744073709551615 runs past", ("\255"):rep(8) .. "{}")
    end)

    it("malformed JSON", function()
      refused("bad safetensors header: ':' expected", file('{"0.weight" {}}'))
      refused("bad safetensors header: '}' expected, end of header reached", file('{"__metadata__":{}'))
      refused("bad safetensors header: string expected", file("{" .. META .. ",}"))
      refused("bad safetensors header: unterminated string", file('{"abc'))
      refused("bad safetensors header: text after the header's object", file(good_json() .. "x"))
      refused("bad safetensors header: '{' expected", file("[]"))
      refused("bad safetensors header: leading zero in an integer",
              file(g("%[16,24%]", "[016,24]")))
      refused("integer expected, got a fraction or exponent",
              file(g("%[16,24%]", "[16.0,24]")))
      refused("non-negative integer expected", file(g("%[1,2%]", "[-1,2]")))
      refused("integer too large", file(g("%[16,24%]", "[16,99999999999999999999]")))
      refused("__metadata__ values must be strings", file(g('"1"', "1")))
      refused("unknown key in a tensor's entry", file(g('"dtype":"F64","shape":%[1%]',
              '"dtype":"F64","size":1,"shape":[1]')))
      refused("repeated key in a tensor's entry", file(g('"shape":%[1%]', '"shape":[1],"shape":[1]')))
      refused("tensor '0.bias' has no 'shape'", file(g(',"shape":%[1%]', "")))
      refused("tensor '0.weight' appears twice", file("{" .. META .. "," .. TENSORS .. ","
              .. '"0.weight":{"dtype":"F64","shape":[0],"data_offsets":[24,24]}}'))
      refused("bad \\u escape", file('{"\\ud800":{}}'))
      refused("\\u0000 in a string", file('{"a\\u0000":{}}'))
      refused("'data_offsets' must hold two integers", file(g("%[16,24%]", "[16]")))
    end)

    it("offsets out of range, overlapping, leaving gaps or not fitting the shape", function()
      refused("tensor '0.bias': data_offsets [16, 32] out of range (24 bytes of data)",
              file(g("%[16,24%]", "[16,32]")))
      refused("tensor '0.bias': data_offsets [24, 16] out of range",
              file(g("%[16,24%]", "[24,16]")))
      refused("tensors '0.weight' and '0.bias' overlap",
              file(g("%[16,24%]", "[8,16]"), W .. B .. B))
      refused("data bytes 16 to 24 belong to no tensor",
              file(g("%[16,24%]", "[24,32]"), W .. B .. B))
      refused("8 bytes of data after the last tensor", file(good_json(), W .. B .. B))
      refused("tensor '0.bias': 16 bytes of data where its dtype and shape need another count",
              file(g("%[16,24%]", "[16,32]"), W .. B .. B))
    end)

    it("unknown and unsupported dtypes", function()
      refused("unknown dtype 'F128' of tensor '0.bias'", file(g('"F64","shape":%[1%]', '"F128","shape":[1]')))
      local f16 = g('"F64","shape":%[1%],"data_offsets":%[16,24%]',
                                   '"F16","shape":[4],"data_offsets":[16,24]')
      refused("tensor '0.bias': dtype not supported (F64 and F32 are read)", file(f16))
    end)

    it("missing tensors, extra tensors and shapes the architecture does not fit", function()
      refused("missing tensor '0.bias'", file("{" .. META .. ','
              .. '"0.weight":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]},'
              .. '"1.bias":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}}'))
      refused("tensor 'extra' belongs to no layer of the architecture",
              file("{" .. META .. "," .. TENSORS .. ',"extra":{"dtype":"F64","shape":[1],'
                   .. '"data_offsets":[24,32]}}', W .. B .. B))
      refused("tensors '0.weight' (1, 2) and '0.bias' (1) do not fit layer 1, which needs (1, 3) and (1)",
              file(g('"torchlet.nin":"2"', '"torchlet.nin":"3"')))
      refused("tensors '0.weight' (2, 1) and '0.bias' (1) do not fit layer 1",
              file(g("%[1,2%]", "[2,1]")))
      refused("tensor '0.weight' has 1 dimensions, 2 expected", file(g("%[1,2%]", "[2]")))
    end)

    it("damaged metadata", function()
      refused("metadata 'torchlet.sizes' is invalid ('x')", file(g('"torchlet.sizes":"1"', '"torchlet.sizes":"x"')))
      refused("metadata 'torchlet.activations' is invalid ('gelu')",
              file(g('"linear"', '"gelu"')))
      refused("metadata 'torchlet.kind' is invalid ('Blob')",
              file(g('"torchlet.nin"', '"torchlet.kind":"Blob","torchlet.nin"')))
      refused("metadata has 'torchlet.sizes' but no 'torchlet.nin'",
              file(g('"torchlet.nin":"2",', "")))
      refused("disagree on the number of layers",
              file(g('"torchlet.sizes":"1"', '"torchlet.sizes":"1,1"')))
      refused("key 'torchlet.nin' appears twice in __metadata__",
              file(g('"torchlet.nin":"2"', '"torchlet.nin":"2","torchlet.nin":"2"')))
    end)

    it("a file without tensors (the fuzzer's first find: qsort of none)", function()
      refused("no Torchlet architecture in the header's __metadata__", file("{}", ""))
      refused("missing tensor '0.weight'", file("{" .. META .. "}", ""))
    end)

    it("a file it cannot open", function()
      fails("cannot open", nn.load, tmppath(".safetensors"))
    end)
  end)
end)
