-- spec/vm_mismatch_spec.lua -- torchlet.core built for one Lua VM and
-- loaded into another is refused by luaopen with a message naming both
-- (bindings/tlb_loadable.h), not by the dynamic linker's "undefined
-- symbol"; Lua 5.1 and LuaJIT, which share one C ABI, load each other's.
-- Each pair runs in a child process of the loading VM against the release
-- builds (setup.sh test installs all four VMs and builds each module).
local helpers = require "spec.helpers"
local version = require("torchlet.core")._VERSION

local builds = {   -- VM command, its build directory, the name messages use
  {vm = "lua5.4", dir = "build", name = "Lua 5.4"},
  {vm = "lua5.3", dir = "build/lua5.3", name = "Lua 5.3"},
  {vm = "lua5.1", dir = "build/lua5.1", name = "Lua 5.1"},
  {vm = "luajit", dir = "build/luajit", name = "LuaJIT"},
}

local function family(b) return (b.vm == "lua5.1" or b.vm == "luajit") and "5.1" or b.vm end

-- Loads build b's module into VM host in a child; its output.
local function load_into(host, b)
  local code = ("package.cpath = %q; local ok, e = pcall(require, 'torchlet.core'); " ..
    "io.write(ok and ('loaded ' .. e._VERSION .. ' ' .. tostring(e.Element(2) * 3)) or e)")
    :format(b.dir .. "/?.so")
  local ok, out = helpers.run(("%s -e %q"):format(host.vm, code))
  assert(ok, host.vm .. " failed to run: " .. out)
  return out
end

describe("torchlet.core loaded into another VM", function()
  for _, host in ipairs(builds) do
    for _, b in ipairs(builds) do
      if family(host) == family(b) then
        it(("loads and works: %s's module in %s"):format(b.name, host.name), function()
          assert.are.equal("loaded " .. version .. " Element(data=6.0, grad=0.0)",
                          load_into(host, b))
        end)
      else
        it(("is refused, naming both VMs: %s's module in %s"):format(b.name, host.name), function()
          local out = load_into(host, b)
          assert.are.equal(("torchlet.core was built for %s, this is %s"):format(b.name, host.name), out)
        end)
      end
    end
  end
end)
