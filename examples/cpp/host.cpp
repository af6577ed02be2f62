// host.cpp -- a C++ program against an installed Torchlet: it runs its own
// Lua VM with the C part of the module linked in (no .lua files needed:
// the script uses `require "torchlet.core"` alone), hands the training
// data to Lua as array Elements straight from C++ buffers, trains a 2-8-1
// tanh network on XOR, reads the predictions back into a std::vector, and
// also calls the plain C core API.  Built and run by spec/install_test.sh:
//
//     g++ -std=c++11 host.cpp $(pkg-config --cflags --libs torchlet-lua)
//
// Exits 0 when the network has learnt XOR and the core's gradient is right.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <torchlet/torchlet.h>       // the C core (extern "C" inside)
#include <torchlet/torchlet_lua.h>   // luaopen_torchlet_core, tlb_*_array

#include <lua.hpp>                   // lauxlib.h and lualib.h as C

namespace {

// The Lua half: train(X, Y, steps) returns the final loss and the
// predictions, an (N x 1) array Element.
const char *const script = R"lua(
local core = require "torchlet.core"
local nn, optim, loss = core.nn, core.optim, core.loss
return function(X, Y, steps)
  core.manual_seed(7)
  local model = nn.MLP(2, {8, 1}, {activation = "tanh", output = "tanh"})
  local opt = optim.Adam(model:parameters(), {lr = 0.05})
  local l
  for _ = 1, steps do
    l = loss.mse(model(X), Y)
    opt:zero_grad()
    l:backward()
    opt:step()
  end
  return l.data, core.no_grad(function() return model(X) end)
end
)lua";

struct lua_closer {
  void operator()(lua_State *L) const { lua_close(L); }   // frees Torchlet's context too
};
using lua_ptr = std::unique_ptr<lua_State, lua_closer>;

// Reports a failed Lua call (its message is on top) and pops it.
bool ok(lua_State *L, int status, const char *what) {
  if (status == LUA_OK) return true;
  std::fprintf(stderr, "host.cpp: %s: %s\n", what, lua_tostring(L, -1));
  lua_pop(L, 1);
  return false;
}

// In protected mode: Torchlet's C part becomes package.loaded["torchlet.core"].
int open_torchlet(lua_State *L) {
  luaL_requiref(L, "torchlet.core", luaopen_torchlet_core, 0);
  return 0;
}

bool train_xor() {
  lua_ptr state(luaL_newstate());
  lua_State *L = state.get();
  if (L == nullptr) return false;
  luaL_openlibs(L);
  lua_pushcfunction(L, open_torchlet);
  if (!ok(L, lua_pcall(L, 0, 0, 0), "opening torchlet.core")) return false;
  if (!ok(L, luaL_loadstring(L, script), "loading the script") ||
      !ok(L, lua_pcall(L, 0, 1, 0), "running the script"))
    return false;                                    // train() is on top

  const std::vector<double> x = { 0, 0, 0, 1, 1, 0, 1, 1 };
  const std::vector<double> y = { -1, 1, 1, -1 };
  const size_t x_shape[2] = { 4, 2 }, y_shape[2] = { 4, 1 };
  if (!ok(L, tlb_push_array(L, 2, x_shape, x.data()), "pushing X") ||
      !ok(L, tlb_push_array(L, 2, y_shape, y.data()), "pushing Y"))
    return false;
  lua_pushinteger(L, 300);
  if (!ok(L, lua_pcall(L, 3, 2, 0), "training")) return false;

  double final_loss = lua_tonumber(L, -2);
  size_t ndim = 0, shape[TORCHLET_LUA_MAX_DIMS];
  if (!ok(L, tlb_to_array(L, -1, &ndim, shape, nullptr, 0), "reading the shape"))
    return false;
  std::vector<double> pred(ndim == 2 ? shape[0] * shape[1] : 0);
  if (pred.size() != y.size() ||
      !ok(L, tlb_to_array(L, -1, &ndim, shape, pred.data(), pred.size()),
          "reading the predictions"))
    return false;
  lua_pop(L, 2);

  bool learnt = final_loss < 0.01;
  std::printf("host.cpp: loss %.6f after 300 steps\n", final_loss);
  for (size_t i = 0; i < pred.size(); i++) {
    std::printf("host.cpp: xor(%g, %g) -> %+.4f\n", x[2 * i], x[2 * i + 1], pred[i]);
    learnt = learnt && pred[i] * y[i] > 0;
  }

  // bad input is a status and a message, not a crash
  lua_pushnumber(L, 1);
  int bad = tlb_to_array(L, -1, &ndim, shape, pred.data(), pred.size());
  std::string msg = bad != LUA_OK ? lua_tostring(L, -1) : "";
  lua_settop(L, 0);
  if (msg.find("Element expected") == std::string::npos) {
    std::fprintf(stderr, "host.cpp: a number was read as an array (%s)\n", msg.c_str());
    return false;
  }
  return learnt;
}

// The plain C core, no Lua: d(a*b + a)/da at a = 2, b = 3 is b + 1 = 4.
bool core_gradient() {
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == nullptr) return false;
  tl_node *a = tl_leaf(ctx, 2.0), *b = tl_leaf(ctx, 3.0);
  tl_node *c = tl_mul(ctx, a, b), *d = tl_add(ctx, c, a);
  bool right = d != nullptr && tl_backward(ctx, d) == TL_OK &&
               tl_grad(a) == 4 && tl_grad(b) == 2;
  std::printf("host.cpp: core: d = %g, dd/da = %g, dd/db = %g\n",
              d ? tl_data(d) : 0.0, tl_grad(a), tl_grad(b));
  tl_release(ctx, d);
  tl_release(ctx, c);
  tl_release(ctx, b);
  tl_release(ctx, a);
  right = right && tl_ctx_live_nodes(ctx) == 0;
  tl_ctx_free(ctx);
  return right;
}

}  // namespace

int main() {
  bool learnt = train_xor();
  bool core = core_gradient();
  if (!learnt) std::fprintf(stderr, "host.cpp: the network did not learn XOR\n");
  return learnt && core ? 0 : 1;
}
