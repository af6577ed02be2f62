-- rockspec/torchlet-scm-1.rockspec -- Torchlet for LuaRocks.  From the root
-- of a checkout:
--   luarocks --lua-version=5.4 make rockspec/torchlet-scm-1.rockspec
-- (or 5.3, or 5.1: the 5.1 module serves LuaJIT 2.1 too, which loads
-- modules built for 5.1's C API)
-- builds torchlet.core from core/ and bindings/ with the builtin backend
-- (no premake needed) and installs it with the lua/ modules; add --local
-- for ~/.luarocks.  The builtin backend compiles in place, leaving *.o files
-- and torchlet/core.so in the checkout (git ignores them).  The `torchlet`
-- program and the C libraries come with `./setup.sh install PREFIX`.
rockspec_format = "3.0"
package = "torchlet"
version = "scm-1"
source = {
  url = "git+file://.",   -- `luarocks make` builds the checkout it runs in
}
description = {
  summary = "Reverse-mode automatic differentiation with a C11 core",
  license = "MIT",   -- the LICENSE file at the root of the checkout
  detailed = [[
Scalar Elements whose operators build a computational graph in C, with
backward() for gradients, driven from Lua 5.4, 5.3, 5.1 or LuaJIT 2.1.
]],
}
-- Drawing (core/viz/) needs graphviz and cairo: on Debian,
-- libgraphviz-dev and libcairo2-dev.
external_dependencies = {
  GRAPHVIZ = { header = "graphviz/gvc.h", library = "gvc" },
  CAIRO = { header = "cairo/cairo.h", library = "cairo" },
}
dependencies = {
  "lua >= 5.1, < 5.5",   -- 5.3, 5.1 and LuaJIT through bindings/tlb_compat.h
}
-- The builtin backend copies the lua/ folder whole (torchlet/init.lua and
-- every other pure-Lua module), so only the C module is listed.
build = {
  type = "builtin",
  modules = {
    ["torchlet.core"] = {
      sources = {
        "core/array.c", "core/array_ops.c", "core/atomic_file.c",
        "core/checkpoint.c", "core/compile.c", "core/ctx.c", "core/custom.c",
        "core/elementwise.c", "core/ew_fast.c",
        "core/export_c.c", "core/gemm.c", "core/graph.c",
        "core/loss.c",
        "core/nn.c", "core/nn_ops.c", "core/node.c", "core/ops.c", "core/ops_extra.c",
        "core/optim.c", "core/safetensors.c", "core/safetensors_header.c",
        "core/serialize.c", "core/tape.c", "core/trace.c", "core/viz/plot.c",
        "core/viz/viz_cairo.c", "core/viz/viz_format.c", "core/viz/viz_graph.c",
        "core/viz/viz_graphviz.c", "core/viz/viz_html.c", "core/viz/viz_layout.c",
        "core/viz/viz_model.c", "core/viz/viz_output.c", "bindings/runtime.c",
        "bindings/array.c", "bindings/checkpoint.c", "bindings/compile.c",
        "bindings/element.c",
        "bindings/function.c",
        "bindings/host_api.c",
        "bindings/loss.c", "bindings/module.c", "bindings/nn.c",
        "bindings/ops_extra.c", "bindings/optim.c", "bindings/viz.c",
      },
      defines = { "NDEBUG", "TLB_LOADABLE_MODULE" },   -- bindings/tlb_loadable.h
      incdirs = { "$(GRAPHVIZ_INCDIR)/graphviz", "$(CAIRO_INCDIR)/cairo" },
      libdirs = { "$(GRAPHVIZ_LIBDIR)", "$(CAIRO_LIBDIR)" },
      libraries = { "gvc", "cgraph", "cairo", "m" },
    },
  },
}
