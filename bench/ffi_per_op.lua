--[[
bench/ffi_per_op.lua -- issue 19's question: would LuaJIT's FFI, calling
core/ directly, lower the per-op cost of the binding?  LuaJIT only.

    luajit bench/ffi_per_op.lua [--quick]

Measures, in the same run and interleaved, three per-frame jobs done both
ways (the binding through `require "torchlet"`; the FFI through the very
same core.so, whose tl_* functions are exported):
  scalar op   c = a * b on two scalar Elements, the result let go
              (binding: a userdata the collector frees; FFI: tl_mul with
              ffi.gc(tl_release), as an FFI path would hand nodes to Lua,
              and tl_mul with tl_release at once, the least it could cost)
  forward     MLP(32, {64, 64, 4}) on a (1 x 32) array
  train step  the same, cross-entropy against a class, backward, and an
              Adam step (bench/per_frame.lua's step; the core's optimizer
              both ways)
Each row is the median of 21 samples of the mean time per call over a
batch of calls, in CPU time (os.clock).  Both ways compute the same
values (checked at the start: the forward outputs are compared bit for
bit), so the rows differ only by what calling costs.
]]
assert(rawget(_G, "jit"), "bench/ffi_per_op.lua runs on LuaJIT (luajit bench/ffi_per_op.lua)")
local root = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;"):format(root, root) .. package.path
package.cpath = ("%s/build/luajit/?.so;"):format(root) .. package.cpath

local ffi = require "ffi"
local torchlet = require "torchlet"
local E, nn, loss = torchlet.Element, torchlet.nn, torchlet.loss

ffi.cdef [[
typedef struct tl_ctx tl_ctx;
typedef struct tl_node tl_node;
typedef struct tl_mlp tl_mlp;
tl_ctx *tl_ctx_new(void);
void tl_ctx_free(tl_ctx *ctx);
void tl_seed(tl_ctx *ctx, uint64_t seed);
tl_node *tl_leaf(tl_ctx *ctx, double value);
tl_node *tl_mul(tl_ctx *ctx, tl_node *a, tl_node *b);
void tl_release(tl_ctx *ctx, tl_node *n);
tl_node *tl_array(tl_ctx *ctx, size_t ndim, const size_t *shape, const double *data);
double *tl_values(tl_node *n);
double *tl_grads(tl_node *n);
size_t tl_size(const tl_node *n);
int tl_backward(tl_ctx *ctx, tl_node *root);
tl_mlp *tl_mlp_new(tl_ctx *ctx, int kind, size_t nin, size_t nlayers,
                   const size_t *sizes, const int *acts, int init);
void tl_mlp_free(tl_ctx *ctx, tl_mlp *m);
tl_node *tl_mlp_forward_batch(tl_ctx *ctx, tl_mlp *m, tl_node *x);
tl_node *const *tl_mlp_params(const tl_mlp *m);
size_t tl_mlp_nparams(const tl_mlp *m);
void tl_mlp_zero_grad(tl_mlp *m);
tl_node *tl_loss_cross_entropy(tl_ctx *ctx, tl_node *logits, const size_t *cls);
typedef struct tl_optim_config {
  double lr, momentum, dampening, weight_decay, alpha, eps, beta1, beta2,
         lr_decay, initial_accumulator_value;
  int nesterov, centered, amsgrad;
} tl_optim_config;
typedef struct tl_optim tl_optim;
void tl_optim_defaults(int kind, tl_optim_config *cfg);
tl_optim *tl_optim_new(tl_ctx *ctx, int kind, const tl_optim_config *cfg,
                       size_t n, tl_node *const *params);
void tl_optim_free(tl_ctx *ctx, tl_optim *o);
void tl_optim_step(tl_optim *o);
void tl_optim_zero_grad(tl_optim *o);
]]
local ADAM = 3
local C = ffi.load(root .. "/build/luajit/torchlet/core.so")

local quick = arg and arg[1] == "--quick"
local SAMPLES, CALLS = quick and 5 or 21, quick and 50 or 500

-- 'scale' multiplies the calls per sample (scalar ops: enough of them
-- that each sample spans several collections)
local function measure(fn, scale)
  local calls = CALLS * (scale or 1)
  for _ = 1, calls do fn() end
  local times = {}
  for s = 1, SAMPLES do
    local t0 = os.clock()
    for _ = 1, calls do fn() end
    times[s] = (os.clock() - t0) / calls * 1e6
  end
  table.sort(times)
  return times[(SAMPLES + 1) / 2]
end

local X = {}
for j = 1, 32 do X[j] = 0.5 + 0.5 * math.sin(j) end

-- the binding
local ba, bb = E(1.5), E(-2.25)
torchlet.manual_seed(1)
local model = nn.MLP(32, {64, 64, 4})
local params = model:parameters()
local opt = torchlet.optim.Adam(params, {lr = 1e-3})
local XE = E({X}, {requires_grad = false})

-- the FFI, on a context of its own
local ctx = C.tl_ctx_new()
local fa, fb = C.tl_leaf(ctx, 1.5), C.tl_leaf(ctx, -2.25)
local sizes = ffi.new("size_t[3]", 64, 64, 4)
local acts = ffi.new("int[3]", 1, 1, 0)            -- relu, relu, linear
local fm = assert(C.tl_mlp_new(ctx, 2, 32, 3, sizes, acts, 0) ~= nil and
                  C.tl_mlp_new(ctx, 2, 32, 3, sizes, acts, 0))
local shape = ffi.new("size_t[2]", 1, 32)
local xdata = ffi.new("double[32]", X)
local fx = C.tl_array(ctx, 2, shape, xdata)
local class = ffi.new("size_t[1]", 0)
-- the same parameters in both, so both compute the same numbers
do
  local ps = C.tl_mlp_params(fm)
  for k, p in ipairs(params) do
    local v, i = C.tl_values(ps[k - 1]), 0
    local data = p.data
    for _, row in ipairs(type(data[1]) == "table" and data or {data}) do
      for _, x in ipairs(row) do v[i] = x; i = i + 1 end
    end
    assert(i == tonumber(C.tl_size(ps[k - 1])))
  end
  local out = C.tl_mlp_forward_batch(ctx, fm, fx)
  local want = model(XE).data[1]
  for j = 1, 4 do assert(C.tl_values(out)[j - 1] == want[j], "FFI and binding differ") end
  C.tl_release(ctx, out)
end

local cfg = ffi.new("tl_optim_config")
C.tl_optim_defaults(ADAM, cfg)
cfg.lr = 1e-3
local fopt = C.tl_optim_new(ctx, ADAM, cfg, C.tl_mlp_nparams(fm), C.tl_mlp_params(fm))
assert(fopt ~= nil)

local function release(n) C.tl_release(ctx, n) end

local jobs = {
  {"scalar op c = a * b",
   function() local c = ba * bb end,
   function() local c = ffi.gc(C.tl_mul(ctx, fa, fb), release) end, 100},
  {"scalar op, released at once",
   function() local c = ba * bb end,
   function() C.tl_release(ctx, C.tl_mul(ctx, fa, fb)) end, 100},
  {"forward, (1 x 32) array",
   function() local y = model(XE) end,
   function() C.tl_release(ctx, C.tl_mlp_forward_batch(ctx, fm, fx)) end},
  {"training step (Adam)",
   function()
     opt:zero_grad()
     local l = loss.cross_entropy(model(XE), {1})
     l:backward()
     opt:step()
   end,
   function()
     C.tl_optim_zero_grad(fopt)
     local y = C.tl_mlp_forward_batch(ctx, fm, fx)
     local l = C.tl_loss_cross_entropy(ctx, y, class)
     C.tl_release(ctx, y)
     C.tl_backward(ctx, l)
     C.tl_release(ctx, l)
     C.tl_optim_step(fopt)
   end},
}

print(("%-26s %12s %12s %8s"):format("LuaJIT " .. jit.version:match("[%d.]+[%w-]*"),
                                    "binding µs", "FFI µs", "FFI/bind"))
for _, job in ipairs(jobs) do
  local b1, f1 = measure(job[2], job[4]), measure(job[3], job[4])
  local b2, f2 = measure(job[2], job[4]), measure(job[3], job[4])  -- interleaved twice
  local b, f = math.min(b1, b2), math.min(f1, f2)
  print(("%-26s %12.3f %12.3f %8.2f"):format(job[1], b, f, f / b))
end
collectgarbage()                  -- the FFI's gc'd nodes, before their context
C.tl_optim_free(ctx, fopt)
C.tl_mlp_free(ctx, fm)
C.tl_ctx_free(ctx)
