-- spec/export_c_spec.lua -- model:export_c writes one C99 header whose
-- NAME_forward gives model(x)'s outputs to the last bit (core/export_c.c):
-- each header is compiled with cc -std=c99 -pedantic -Wall -Wextra -Werror
-- into a program that reads inputs and prints outputs with %a, and every
-- output is compared with the batched forward pass (model of an array).
local torchlet = require "torchlet"
local helpers = require "spec.helpers"
local E, nn = torchlet.Element, torchlet.nn

local run, read, write, exists = helpers.run, helpers.read_file,
  helpers.write_file, helpers.exists
local tmppath, cleanup = helpers.temp_paths()

-- A program printing NAME_forward's outputs for each line of inputs
-- (read as doubles, given to the header as its type 't'; printed widened).
local function program(header, name, t)
  return ([[
#include <stdio.h>
#include "%s"
int main(void) {
  %s in[%s_NIN], out[%s_NOUT];
  for (;;) {
    for (int i = 0; i < %s_NIN; i++) {
      double v;
      if (scanf("%%lf", &v) != 1) return 0;
      in[i] = (%s)v;
    }
    %s_forward(in, out);
    for (int j = 0; j < %s_NOUT; j++) printf("%%a\n", (double)out[j]);
  }
}
]]):format(header, t, name:upper(), name:upper(), name:upper(), t, name, name:upper())
end

local CFLAGS = "-std=c99 -pedantic -Wall -Wextra -Werror"

-- Compiles 'src' (a C file) to an executable; returns its path.
local function compile(src)
  local exe = tmppath("")
  local ok, out = run(("cc %s -o %s %s -lm"):format(CFLAGS, exe, src))
  assert(ok, "cc failed:\n" .. out)
  return exe
end

-- Runs the exported header of 'model' over the rows of X; the outputs as
-- numbers, row by row.
local function header_outputs(model, X, name, t)
  name = name or "net"
  local h, c, input = tmppath(".h"), tmppath(".c"), tmppath(".txt")
  model:export_c(h, {name = name})
  write(c, program(h, name, t or "double"))
  local lines = {}
  for i, row in ipairs(X) do
    local xs = {}
    for k, v in ipairs(row) do xs[k] = ("%.17g"):format(v) end
    lines[i] = table.concat(xs, " ")
  end
  write(input, table.concat(lines, "\n") .. "\n")
  local ok, out = run(compile(c) .. " < " .. input)
  assert(ok, out)
  local values = {}
  for line in out:gmatch("[^\n]+") do values[#values + 1] = assert(tonumber(line), line) end
  return values
end

local function random_rows(n, nin, scale)
  local X = {}
  for i = 1, n do
    X[i] = {}
    for k = 1, nin do X[i][k] = (math.random() * 2 - 1) * (scale or 3) end
  end
  return X
end

-- Same double, bit for bit (-0 is not 0; nan matches nan).
local function same_bits(a, b)
  if a ~= a then return b ~= b end
  return a == b and (a ~= 0 or 1 / a == 1 / b)
end

-- model(E(X)) flattened row by row, and each row alone as a vector (for
-- a float32 model, its inputs rounded to float32 as the header's are).
local function check_model(model, nin, n, name)
  local X = random_rows(n, nin)
  local f32 = model:parameters()[1].dtype == "float32"
  local got = header_outputs(model, X, name, f32 and "float" or "double")
  local opts = f32 and {dtype = "float32"} or nil
  local batch = model(E(X, opts)).data
  local k = 0
  for i = 1, n do
    local single = model(E(X[i], opts)).data
    for j = 1, #batch[i] do
      k = k + 1
      assert(same_bits(batch[i][j], got[k]),
             ("row %d output %d: model gives %.17g, the header %.17g"):format(
               i, j, batch[i][j], got[k]))
      assert(same_bits(single[j], got[k]))
    end
  end
  assert.are.equal(k, #got)
end

describe("model:export_c", function()
  after_each(cleanup)
  math.randomseed(7)
  torchlet.manual_seed(11)

  it("gives model(x) bit for bit: tanh hidden layers", function()
    check_model(nn.MLP(3, {4, 2}, {activation = "tanh"}), 3, 20)
  end)

  it("gives model(x) bit for bit: relu, then a sigmoid output", function()
    check_model(nn.MLP(5, {16, 8, 3}, {output = "sigmoid"}), 5, 20)
  end)

  it("gives model(x) bit for bit: mixed activations, a Layer and a Neuron", function()
    check_model(nn.MLP(4, {6, 5, 4, 2}, {activations = {"linear", "relu", "sigmoid", "tanh"}}), 4, 12)
    check_model(nn.Layer(3, 13, {activation = "tanh"}), 3, 8)   -- 8 rows at once, then 5
    check_model(nn.Neuron(2), 2, 8)
  end)

  it("gives model(x) bit for bit past one block of 256 inputs (gemm's order)", function()
    check_model(nn.MLP(600, {40, 3}), 600, 8)
  end)

  it("gives a float32 model(x) bit for bit, computing in float", function()
    check_model(nn.MLP(5, {16, 8, 3}, {activations = {"tanh", "relu", "sigmoid"}}):float(), 5, 20)
    check_model(nn.MLP(300, {9, 2}):float(), 300, 6)     -- past one block of 256
    local h = tmppath(".h")
    nn.MLP(2, {1}):float():export_c(h)
    assert.truthy(read(h):find("static inline void model_forward(const float *in, float *out)", 1, true))
  end)

  it("keeps -0 and subnormal parameters exact", function()
    local model = nn.MLP(2, {3, 1}, {activation = "tanh"})
    local ps = model:parameters({scalar = true})
    ps[1].data = -0.0
    ps[2].data = 2 ^ -1070
    ps[4].data = -1 / 3
    check_model(model, 2, 6)
    local m32 = model:float()                -- -0 and a float32 subnormal
    m32:parameters({scalar = true})[2].data = 2 ^ -140
    assert.are.equal(2 ^ -140, m32:parameters({scalar = true})[2].data)
    check_model(m32, 2, 6)
  end)

  it("lets two models share a translation unit (names prefix everything)", function()
    local a, b = nn.MLP(2, {3, 1}), nn.MLP(2, {2, 2}, {output = "sigmoid"})
    local ha, hb, c = tmppath(".h"), tmppath(".h"), tmppath(".c")
    a:export_c(ha, {name = "first"})
    b:export_c(hb, {name = "second"})
    write(c, ([[
#include <stdio.h>
#include "%s"
#include "%s"
#include "%s"
int main(void) {
  double in[2] = {0.25, -0.5}, o1[FIRST_NOUT], o2[SECOND_NOUT];
  first_forward(in, o1);
  second_forward(in, o2);
  printf("%%a %%a %%a\n", o1[0], o2[0], o2[1]);
  return 0;
}
]]):format(ha, hb, ha))
    local ok, out = run(compile(c))
    assert(ok, out)
    local v = {}
    for w in out:gmatch("%S+") do v[#v + 1] = tonumber(w) end
    local ya, yb = a(E({0.25, -0.5})).data, b(E({0.25, -0.5})).data
    assert(same_bits(ya[1], v[1]) and same_bits(yb[1], v[2]) and same_bits(yb[2], v[3]))
  end)

  it("names its default 'model'", function()
    local h = tmppath(".h")
    nn.MLP(2, {1}):export_c(h)
    assert.truthy(read(h):find("static inline void model_forward(const double *in, double *out)", 1, true))
  end)

  it("refuses bad names and options", function()
    local m = nn.MLP(2, {1})
    local h = tmppath(".h")
    helpers.fails("bad argument #3 to 'export_c' (option 'name' must be a C identifier", m.export_c, m, h, {name = "2net"})
    helpers.fails("bad argument #3 to 'export_c' (option 'name' must be a C identifier", m.export_c, m, h, {name = "my-net"})
    helpers.fails("bad argument #3 to 'export_c' (option 'name' must be a C identifier", m.export_c, m, h, {name = ""})
    helpers.fails("export_c", m.export_c, m, h, {nmae = "x"})
    helpers.fails("bad argument #2 to 'export_c'", m.export_c, m, 42)
    assert.is_false(exists(h))
  end)

  it("refuses a path it cannot write, leaving nothing behind", function()
    local dir = tmppath("")
    local h = dir .. "/missing/net.h"
    helpers.fails("cannot write '" .. h .. "'", function()
      nn.MLP(2, {1}):export_c(h)
    end)
    assert.is_false(exists(h))
  end)

  it("keeps an existing header whole when the model cannot be exported", function()
    local h = tmppath(".h")
    write(h, "old")
    local m = nn.MLP(2, {2})
    m:parameters({scalar = true})[3].data = 0 / 0
    helpers.fails("nan; only finite parameters are exported", m.export_c, m, h)
    assert.are.equal("old", read(h))
    assert.are.same({}, helpers.temporaries(h))
  end)
end)
