-- spec/debug_library_spec.lua -- what a script with the debug library can
-- and cannot break (doc/api.md, Elements).  Plain scripts never see a
-- finalizer (the metatables hide __gc); debug.getmetatable and
-- debug.getregistry reach the real ones, so every finalizer checks its
-- argument, and a finalizer called by hand leaves its object unusable, not
-- dangling.
local torchlet = require "torchlet"
local h = require "spec.helpers"
local Element, nn, optim = torchlet.Element, torchlet.nn, torchlet.optim

local function gc_of(x) return debug.getmetatable(x).__gc end

-- Every Torchlet finalizer reachable from a script, by the name of its
-- object: Element, Module, Optimizer, and those kept in the registry (the
-- graphviz session too once made: the specs that make it run in a Lua of
-- their own, because graphviz changes its DOT after its first layout).
local function finalizers()
  local e = Element(1)
  local m = nn.MLP(2, {2, 1})
  local o = optim.SGD(m:parameters())
  local reg = debug.getregistry()
  local gcs = {Element = gc_of(e), Module = gc_of(m), Optimizer = gc_of(o)}
  for k, v in pairs(reg) do
    if type(k) == "string" and k:match("^torchlet%.") and type(v) == "userdata" then
      local mt = debug.getmetatable(v)
      if mt and mt.__gc then gcs[k] = mt.__gc end
    end
  end
  return gcs, {e, m, o}
end

-- A Lua script run in a Lua of its own (the VM running the specs), so
-- that ending Torchlet in that state leaves this one alone.  Returns its
-- exit status and output.
local function run_alone(script)
  local cmd = ("LUA_PATH=%q LUA_CPATH=%q %s -e %q"):format(
    package.path, package.cpath, h.lua, script)
  return h.run(cmd)
end

describe("the debug library", function()
  it("reaches a finalizer for each kind of object, the registry's included", function()
    local gcs = finalizers()
    local names = {}
    for k in pairs(gcs) do names[#names + 1] = k end
    table.sort(names)
    assert.are.same({"Element", "Module", "Optimizer", "torchlet.state.object"}, names)
  end)

  it("cannot crash a finalizer with the wrong argument", function()
    local gcs, objs = finalizers()
    local f = io.tmpfile()
    local wrong = {nil, 1, "x", {}, print, f, coroutine.create(function() end),
                   objs[1], objs[2], objs[3]}
    for name, gc in pairs(gcs) do
      for i = 1, 10 do
        local w = wrong[i]
        -- a finalizer is only harmful on its own kind: skip those pairs
        local own = (name == "Element" and i == 8) or (name == "Module" and i == 9)
                 or (name == "Optimizer" and i == 10)
        if not own then
          assert.has_no.errors(function() gc(w) end)
        end
      end
    end
    -- everything still works
    local e, m, o = objs[1], objs[2], objs[3]
    assert.are.equal(3, (e + 2).data)
    local out = m({1, 2})
    out:backward()
    o:step()
    f:close()
  end)

  it("leaves an Element finalized by hand unusable, with an error", function()
    local a = Element(2)
    local b = a * 3
    gc_of(a)(a)
    h.fails("Element used after it was collected", function() return a + 1 end)
    h.fails("Element used after it was collected", function() return a.data end)
    -- b keeps its own reference on a's node
    b:backward()
    assert.are.equal(6, b.data)
    gc_of(a)(a)                                    -- twice is harmless
  end)

  it("leaves a Module or Optimizer finalized by hand unusable, with an error", function()
    local m = nn.MLP(2, {2, 1})
    local o = optim.Adam(m:parameters())
    gc_of(o)(o)
    h.fails("Optimizer used after it was collected", function() o:step() end)
    gc_of(m)(m)
    h.fails("Module used after it was collected", function() return m({1, 2}) end)
  end)

  it("does not take another library's userdata for an Element", function()
    local f = io.tmpfile()
    local file_mt = debug.getmetatable(f)
    debug.setmetatable(f, debug.getmetatable(Element(1)))
    local ok, err = pcall(function() return Element(1) + f end)
    local ok2, err2 = pcall(function() return f.data end)
    local ok3 = pcall(function() return f * f end)
    debug.setmetatable(f, file_mt)
    f:close()
    assert.is_false(ok)
    assert.matches("Element.* expected", err)
    assert.is_false(ok2)
    assert.matches("Element.* expected", err2)
    assert.is_false(ok3)
  end)

  -- issue 19: objects of the same size were taken for each other (an
  -- Element, an Optimizer, a Generator and the graphviz session are each one
  -- pointer): the session's finalizer freed an Element's node (segfault)
  it("does not take one of its objects for another kind given its metatable", function()
    local ok, out = run_alone([[
      local t = require "torchlet"
      local a = t.Element(2, "a") * 3
      assert(a:visualize("graphviz", {format = "dot", file = os.tmpname()}))
      local reg = debug.getregistry()
      local m = t.nn.MLP(2, {2, 1})
      local o = t.optim.SGD(m:parameters())
      local objs = {t.Element(5), t.Element({1, 2}), m, m:parameters({scalar = true})[1],
                    o, t.Generator(1), reg["torchlet.gvsession.object"],
                    reg["torchlet.state.object"]}
      local n = 0
      for name, mt in pairs(reg) do
        if type(name) == "string" and name:match("^torchlet%.") and type(mt) == "table"
           and rawget(mt, "__gc") then
          for _, x in ipairs(objs) do
            local own = debug.getmetatable(x)
            if own ~= mt then
              debug.setmetatable(x, mt)
              pcall(mt.__gc, x)
              debug.setmetatable(x, own)
              n = n + 1
            end
          end
        end
      end
      local out = m({1, 2})
      out:backward()
      o:step()
      assert(a:visualize("graphviz", {format = "dot", file = os.tmpname()}))
      io.write(n, " ", (objs[1] + 1).data, " ", objs[2].data[2], " ", objs[6]:integer(1))
    ]])
    assert.is_true(ok, out)
    local n, rest = out:match("^(%d+) (.*)$")
    assert.is_true(tonumber(n or 0) >= 40, out)       -- 6 finalizers or more, 7 others each
    assert.are.equal("6 2 1", rest)
  end)

  it("refuses graphviz drawing once the session's finalizer ran by hand", function()
    local ok, out = run_alone([[
      local t = require "torchlet"
      local a = t.Element(2, "a") * 3
      assert(a:visualize("graphviz", {format = "dot", file = os.tmpname()}))
      local s = debug.getregistry()["torchlet.gvsession.object"]
      local gc = debug.getmetatable(s).__gc
      for _, w in ipairs{1, "x", {}, print, io.stdout, a} do gc(w) end
      assert(a:visualize("graphviz", {format = "dot", file = os.tmpname()}))
      gc(s)
      local ok, err = pcall(a.visualize, a, "graphviz", {format = "dot", file = os.tmpname()})
      io.write(tostring(ok), " ", tostring(err))
    ]])
    assert.is_true(ok, out)
    assert.matches("^false .*the session of this Lua state was finalized", out)
  end)

  it("ends Torchlet in a state whose own finalizer ran by hand, with errors", function()
    local ok, out = run_alone([[
      local t = require "torchlet"
      local a = t.Element(2)
      local m = t.nn.MLP(2, {2, 1})
      local o = t.optim.SGD(m:parameters())
      local s = debug.getregistry()["torchlet.state.object"]
      debug.getmetatable(s).__gc(s)
      local n = 0
      for _, f in ipairs{function() return a + 1 end, function() return a.data end,
                         function() return t.Element(1) end, function() return m({1, 2}) end,
                         function() return o:step() end, function() return a:backward() end,
                         function() return tostring(a) end} do
        local ok, err = pcall(f)
        if not ok and tostring(err):find("the Lua state is closing", 1, true) then n = n + 1 end
      end
      io.write(n)
      a, m, o = nil
      collectgarbage()                -- their finalizers run on a freed context
    ]])
    assert.is_true(ok, out)
    assert.are.equal("7", out)
  end)
end)
