-- premake5.lua -- runs with premake5, and with Debian's premake4 4.3:
--   premake4 --file=premake5.lua gmake && make -C build config=release
-- Only what both versions accept is used (no os.outputof: pkg-config is read
-- through io.popen).

local function pkgconfig(what, pkgs)
  local p = io.popen("pkg-config " .. what .. " " .. pkgs .. " 2>/dev/null")
  local out = p:read("*a") or ""
  p:close()
  local list = {}
  for word in out:gmatch("%S+") do list[#list + 1] = word end
  return list
end

local lua_cflags = pkgconfig("--cflags", "lua5.4")

-- premake4 --blas: matmul through OpenBLAS (libopenblas-dev) instead of
-- Torchlet's own blocked kernel.
newoption {
  trigger = "blas",
  description = "Use OpenBLAS (cblas_dgemm) for matmul"
}
-- Library names (-lfoo -> foo) and -L directories of pkg-config packages,
-- as premake's links and libdirs, so that they come after our objects on
-- the link line.
local function pkglibs(pkgs)
  local names, dirs = {}, {}
  for _, flag in ipairs(pkgconfig("--libs-only-l", pkgs)) do
    names[#names + 1] = flag:sub(3)
  end
  for _, flag in ipairs(pkgconfig("--libs-only-L", pkgs)) do
    dirs[#dirs + 1] = flag:sub(3)
  end
  return names, dirs
end

-- Rendering (core/viz_*.c, core/plot.c) uses graphviz and cairo.  Without
-- them (or with --no-viz) the core gets core/noviz/viz_none.c instead, whose
-- drawing functions fail with a message saying so.  Switching needs a clean
-- build (rm -rf build): the static library keeps the members it had.
newoption {
  trigger = "no-viz",
  description = "Build without graphviz and cairo (drawing raises an error)"
}
local viz_pkgs = "libgvc libcgraph cairo"
local viz_found = os.execute("pkg-config --exists " .. viz_pkgs)
local have_viz = not _OPTIONS["no-viz"] and (viz_found == true or viz_found == 0)
local viz_cflags, viz_links, viz_dirs = {}, {}, {}
if have_viz then
  viz_cflags = pkgconfig("--cflags", viz_pkgs)
  viz_links, viz_dirs = pkglibs(viz_pkgs)
end

local blas_cflags, blas_links, blas_dirs = {}, {}, {}
if _OPTIONS["blas"] then
  blas_cflags = pkgconfig("--cflags", "openblas")
  blas_links, blas_dirs = pkglibs("openblas")
end

local warnings = { "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Wshadow",
                   "-Wstrict-prototypes", "-Wmissing-prototypes", "-fPIC" }

-- Release lands in build/, debug in build/debug/, so both can coexist:
-- LUA_CPATH='build/?.so;;' or 'build/debug/?.so;;' picks one.
local function outdirs(sub)
  configuration "release"
    targetdir("build" .. sub)
  configuration "debug"
    targetdir("build/debug" .. sub)
  configuration {}
end

solution "torchlet"
  configurations { "release", "debug" }
  location "build"
  language "C"
  objdir "build/obj"
  buildoptions(warnings)

  -- Link-time optimisation lets the small functions that cross core files
  -- (node allocation, linking, freeing) inline into the ops: about 4 ns of
  -- a node's 10 ns forward.  Fat objects keep libtlcore.a usable by
  -- programs linked without -flto.
  configuration "release"
    buildoptions { "-O2", "-flto=auto", "-ffat-lto-objects" }
    linkoptions { "-flto=auto" }
    defines { "NDEBUG" }

  configuration "debug"
    flags { "Symbols" }
    buildoptions { "-O0", "-g", "-fsanitize=address,undefined",
                   "-fno-omit-frame-pointer" }
    linkoptions { "-fsanitize=address,undefined" }

  configuration {}

  -- The core: plain C11, no Lua.
  project "tlcore"
    kind "StaticLib"
    files { "core/*.c", "core/*.h" }
    if have_viz then
      buildoptions(viz_cflags)
    else
      excludes { "core/viz_output.c", "core/viz_graph.c", "core/viz_graphviz.c",
                 "core/viz_layout.c", "core/viz_cairo.c", "core/plot.c" }
      files { "core/noviz/viz_none.c" }
    end
    outdirs("")
    if _OPTIONS["blas"] then
      defines { "TL_USE_BLAS" }
      buildoptions(blas_cflags)
    end

  -- The Lua module torchlet.core: build/torchlet/core.so
  project "torchlet_core"
    kind "SharedLib"
    outdirs("/torchlet")
    targetname "core"
    targetprefix ""
    files { "bindings/*.c", "bindings/*.h" }
    buildoptions(lua_cflags)
    links { "tlcore", "m" }
    links(viz_links)
    libdirs(viz_dirs)
    links(blas_links)
    libdirs(blas_dirs)

  -- Benchmarks (bench/, see bench/run.lua): the clock and the floor as
  -- Lua modules build/bench/clock.so and build/bench/floor.so (require
  -- "bench.clock", "bench.floor"), and the C runner build/bench/bench_core.
  project "bench_clock"
    kind "SharedLib"
    outdirs("/bench")
    targetname "clock"
    targetprefix ""
    files { "bench/clock.c" }
    buildoptions(lua_cflags)

  project "bench_floor"
    kind "SharedLib"
    outdirs("/bench")
    targetname "floor"
    targetprefix ""
    files { "bench/floor.c" }
    buildoptions(lua_cflags)

  project "bench_core"
    kind "ConsoleApp"
    outdirs("/bench")
    targetname "bench_core"
    files { "bench/bench_core.c" }
    links { "tlcore", "m" }
    links(blas_links)       -- tlcore's matmul, when built with --blas
    libdirs(blas_dirs)
