-- spec/rockspec_spec.lua -- rockspec/torchlet-scm-1.rockspec lists every C
-- source of the module (core/, core/viz/ and bindings/; not
-- core/viz/none/, the no-drawing stand-in), so that a file added cannot be
-- forgotten there (LuaRocks copies lua/ whole).  spec/luarocks_test.sh builds
-- the rock for real; this names what is missing.

local function rockspec()
  local env = {}
  local chunk = assert(loadfile("rockspec/torchlet-scm-1.rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end   -- 5.1 and LuaJIT: no env argument
  chunk()
  return env
end

local function list(cmd)
  local files, p = {}, assert(io.popen(cmd))
  for line in p:lines() do files[#files + 1] = line end
  p:close()
  table.sort(files)
  return files
end

describe("the rockspec", function()
  local spec = rockspec()

  it("names the package and version of its file name", function()
    assert.are.equal("torchlet", spec.package)
    assert.are.equal("scm-1", spec.version)
    assert.are.equal("builtin", spec.build.type)
  end)

  it("takes every VM the specs run on: Lua 5.1 (and LuaJIT, to LuaRocks a 5.1) to 5.4", function()
    assert.are.same({"lua >= 5.1, < 5.5"}, spec.dependencies)
  end)

  it("compiles every C file of core/ and bindings/ into torchlet.core", function()
    local sources = {}
    for _, s in ipairs(spec.build.modules["torchlet.core"].sources) do
      sources[s] = true
    end
    local files = list("find core core/viz bindings -maxdepth 1 -name '*.c'")
    assert.is_true(#files > 0)
    for _, f in ipairs(files) do
      assert.is_true(sources[f] == true, f .. " is missing from the rockspec")
      sources[f] = nil
    end
    assert.are.same({}, sources)   -- and names no file that is gone
  end)
end)
