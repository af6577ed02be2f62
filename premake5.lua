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

-- Rendering (core/viz_*.c, core/plot.c) uses graphviz and cairo.  Their
-- libraries are split into libdirs and links (not linkoptions), so they
-- come after the static core on the link line.
local viz_pkgs = "libgvc libcgraph cairo"
local viz_cflags = pkgconfig("--cflags", viz_pkgs)
local viz_libdirs, viz_links = {}, {}
for _, word in ipairs(pkgconfig("--libs", viz_pkgs)) do
  if word:sub(1, 2) == "-L" then viz_libdirs[#viz_libdirs + 1] = word:sub(3)
  elseif word:sub(1, 2) == "-l" then viz_links[#viz_links + 1] = word:sub(3) end
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

  configuration "release"
    buildoptions { "-O2" }
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
    buildoptions(viz_cflags)
    outdirs("")

  -- The Lua module torchlet.core: build/torchlet/core.so
  project "torchlet_core"
    kind "SharedLib"
    outdirs("/torchlet")
    targetname "core"
    targetprefix ""
    files { "bindings/*.c", "bindings/*.h" }
    buildoptions(lua_cflags)
    links { "tlcore" }
    libdirs(viz_libdirs)
    links(viz_links)
    links { "m" }
