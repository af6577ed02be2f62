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
-- "-llua5.4" -> links { "lua5.4" }, so it follows our static libraries.
local lua_links = {}
for _, flag in ipairs(pkgconfig("--libs", "lua5.4")) do
  local lib = flag:match("^%-l(.+)")
  if lib then lua_links[#lua_links + 1] = lib end
end

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

-- Drawing is its own library, build/libtlviz.a (core/viz/: the two graph
-- views and the plots), beside the core, which needs neither graphviz nor
-- cairo.  Without them (or with --no-viz) the library is made of
-- core/viz/none/viz_none.c instead, whose drawing functions fail with a
-- message saying so.  Switching needs no clean build: the generator removes
-- the old archive, which would keep the members it had (end of this file).
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
-- LUA_CPATH='build/?.so;;' or 'build/debug/?.so;;' picks one.  The tsan
-- configuration (build/tsan/) exists for the threads test:
--   make -C build config=tsan threads_test
local function outdirs(sub)
  configuration "release"
    targetdir("build" .. sub)
  configuration "debug"
    targetdir("build/debug" .. sub)
  configuration "tsan"
    targetdir("build/tsan" .. sub)
  configuration {}
end

-- The core and the libraries it needs, for the projects below that link it;
-- with 'viz', the drawing library and graphviz and cairo before it.
local function link_core(viz)
  if viz then
    links { "tlviz" }
  end
  links { "tlcore" }
  if viz then
    links(viz_links)
    libdirs(viz_dirs)
  end
  links(blas_links)
  libdirs(blas_dirs)
  links { "m" }
end

-- A program that runs its own Lua VM with Torchlet linked in.
local function lua_host(name, sources, sub, extra_links)
  project(name)
    kind "ConsoleApp"
    files(sources)
    outdirs(sub)
    buildoptions(lua_cflags)
    links { "tlbind" }
    link_core(true)
    links(extra_links or {})
    links(lua_links)
end

solution "torchlet"
  configurations { "release", "debug", "tsan" }
  location "build"
  language "C"
  objdir "build/obj"
  buildoptions(warnings)

  -- Link-time optimisation lets the small functions that cross core files
  -- (node allocation, linking, freeing) inline into the ops: about 4 ns of
  -- a node's 10 ns forward.  Fat objects keep libtlcore.a usable by
  -- programs linked without -flto.  -fno-semantic-interposition lets the
  -- module's calls to its own functions bind locally instead of through
  -- the PLT (nothing interposes tl_* functions): 2.4% of an eager step's
  -- instructions.
  configuration "release"
    buildoptions { "-O2", "-flto=auto", "-ffat-lto-objects",
                   "-fno-semantic-interposition" }
    linkoptions { "-flto=auto" }
    defines { "NDEBUG" }

  configuration "debug"
    flags { "Symbols" }
    buildoptions { "-O0", "-g", "-fsanitize=address,undefined",
                   "-fno-omit-frame-pointer" }
    linkoptions { "-fsanitize=address,undefined" }

  configuration "tsan"
    flags { "Symbols" }
    buildoptions { "-O1", "-g", "-fsanitize=thread" }
    linkoptions { "-fsanitize=thread" }

  configuration {}

  -- The core: plain C11, no Lua, no drawing libraries.
  project "tlcore"
    kind "StaticLib"
    files { "core/*.c", "core/*.h" }
    -- sqrt in a loop vectorizes only without errno (gcc otherwise branches
    -- to the library for negative operands); values do not change, and no
    -- core code reads errno after a math function (core/optim.c).
    buildoptions { "-fno-math-errno" }
    outdirs("")
    if _OPTIONS["blas"] then
      defines { "TL_USE_BLAS" }
      buildoptions(blas_cflags)
    end

  -- Drawing: the graphviz and cairo views of a graph, and the plots.
  project "tlviz"
    kind "StaticLib"
    outdirs("")
    if have_viz then
      files { "core/viz/*.c", "core/viz/*.h" }
      buildoptions(viz_cflags)
    else
      files { "core/viz/viz_format.c", "core/viz/none/viz_none.c" }
    end

  -- The Lua module torchlet.core: build/torchlet/core.so
  project "torchlet_core"
    kind "SharedLib"
    outdirs("/torchlet")
    targetname "core"
    targetprefix ""
    files { "bindings/*.c", "bindings/*.h" }
    defines { "TLB_LOADABLE_MODULE" }     -- bindings/tlb_loadable.h
    buildoptions(lua_cflags)
    link_core(true)

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
    link_core()

  -- Matmul against OpenBLAS in the same run, when pkg-config finds it
  -- (libopenblas-dev; setup.sh installs it): build/bench/bench_matmul.
  local openblas_links, openblas_dirs = pkglibs("openblas")
  project "bench_matmul"
    kind "ConsoleApp"
    outdirs("/bench")
    targetname "bench_matmul"
    files { "bench/bench_matmul.c" }
    link_core()
    if #openblas_links > 0 then
      defines { "TL_BENCH_BLAS" }
      buildoptions(pkgconfig("--cflags", "openblas"))
      links(openblas_links)
      libdirs(openblas_dirs)
    end

  -- The module for the other Lua VMs whose headers are installed (through
  -- bindings/tlb_compat.h): build/lua5.3/torchlet/core.so and so on.  What
  -- `make install` installs for each Lua version (install.mk): LuaJIT's for
  -- 5.1 when there is one, as the hosts that embed Lua run LuaJIT, and
  -- LuaJIT and 5.1 load each other's modules (one C ABI).
  local install_modules = { ["5.4"] = "torchlet/core.so" }
  local install_projects = {}
  for _, vm in ipairs { "lua5.3", "lua5.1", "luajit" } do
    local cflags = pkgconfig("--cflags", vm)
    if #cflags > 0 then
      local lv = vm == "luajit" and "5.1" or vm:match("%d%.%d")
      install_modules[lv] = vm .. "/torchlet/core.so"
      install_projects[lv] = "torchlet_core_" .. vm:gsub("%.", "")
      project("torchlet_core_" .. vm:gsub("%.", ""))
        kind "SharedLib"
        outdirs("/" .. vm .. "/torchlet")
        targetname "core"
        targetprefix ""
        files { "bindings/*.c", "bindings/*.h" }
        defines { "TLB_LOADABLE_MODULE" }
        buildoptions(cflags)
        link_core(true)
      -- the benchmark's clock and floor, for spec/bench_spec.lua there
      for _, m in ipairs { "clock", "floor" } do
        project("bench_" .. m .. "_" .. vm:gsub("%.", ""))
          kind "SharedLib"
          outdirs("/" .. vm .. "/bench")
          targetname(m)
          targetprefix ""
          files { "bench/" .. m .. ".c" }
          buildoptions(cflags)
      end
    end
  end

  -- The same binding code as a static library, for C programs that run
  -- their own Lua VM (luaopen_torchlet_core, bindings/torchlet_lua.h).
  project "tlbind"
    kind "StaticLib"
    files { "bindings/*.c", "bindings/*.h" }
    outdirs("")
    buildoptions(lua_cflags)

  -- The `torchlet` program: build/bin/torchlet.  Its prompt edits lines and
  -- keeps a history through libedit (BSD-licensed, unlike GNU readline;
  -- libedit-dev) when pkg-config finds it, else reads plain lines.
  lua_host("torchlet", { "bindings/host/*.c" }, "/bin")
    local edit_found = os.execute("pkg-config --exists libedit")
    if edit_found == true or edit_found == 0 then
      defines { "TL_HAVE_LIBEDIT" }
      local edit_links, edit_dirs = pkglibs("libedit")
      links(edit_links)
      libdirs(edit_dirs)
    end

  -- examples/embed: a C host running a Lua training script.
  lua_host("embed", { "examples/embed/*.c" }, "/examples")

  -- examples/c: a network trained from C against the core alone (no
  -- drawing library, no graphviz or cairo on its link line).
  project "xor"
    kind "ConsoleApp"
    files { "examples/c/*.c" }
    outdirs("/examples")
    link_core()

  -- spec/c: N threads, each with its own lua_State, train one model.
  lua_host("threads_test", { "spec/c/threads_test.c" }, "/tests", { "pthread" })

  -- spec/c: every growing Lua allocation made to fail in turn, and malloc
  -- failing under an address-space limit, over the calls that hold memory.
  lua_host("alloc_fail_test", { "spec/c/alloc_fail_test.c" }, "/tests")

  -- spec/c: arrays between C buffers and Lua (torchlet_lua.h's host API).
  lua_host("host_api_test", { "spec/c/host_api_test.c" }, "/tests")

-- {== make install ===========================================================
-- build/GNUmakefile, which GNU make reads before premake's Makefile: that
-- Makefile, what this configuration builds, and install.mk's install and
-- uninstall targets (make -C build install PREFIX=...).  Written for the
-- gmake actions only.
if _ACTION and _ACTION:match("^gmake") then
  local root = path.getdirectory(_SCRIPT)
  os.mkdir(root .. "/build")
  local header = assert(io.open(root .. "/core/torchlet.h"))
  local version = header:read("*a"):match('#define TL_VERSION "([^"]*)"')
  header:close()
  local modules, projects = {}, {}
  for _, lv in ipairs { "5.4", "5.3", "5.1" } do
    if install_modules[lv] then modules[#modules + 1] = lv .. "=" .. install_modules[lv] end
    projects[#projects + 1] = install_projects[lv]
  end
  local viz = have_viz and "graphviz and cairo" or "none"
  -- The drawing library switches cleanly: an archive keeps the members it
  -- had, so the old one goes when the choice changed (build/viz_mode).
  local stamp = io.open(root .. "/build/viz_mode")
  local was = stamp and stamp:read("*l")
  if stamp then stamp:close() end
  if was ~= viz then
    for _, dir in ipairs { "", "/debug", "/tsan" } do
      os.remove(root .. "/build" .. dir .. "/libtlviz.a")
    end
  end
  stamp = assert(io.open(root .. "/build/viz_mode", "w"))
  stamp:write(viz, "\n")
  stamp:close()
  local f = assert(io.open(root .. "/build/GNUmakefile", "w"))
  f:write("# Generated by premake5.lua: premake's Makefile and install.mk.\n",
          "include Makefile\n",
          "TL_VERSION := ", version, "\n",
          "TL_REQUIRES := ", _OPTIONS["blas"] and "openblas" or "", "\n",
          "TL_VIZ_REQUIRES := ", have_viz and viz_pkgs or "", "\n",
          "TL_LUA_MODULES := ", table.concat(modules, " "), "\n",
          "TL_LUA_PROJECTS := ", table.concat(projects, " "), "\n",
          "include ../install.mk\n")
  f:close()
end
-- }===========================================================================
