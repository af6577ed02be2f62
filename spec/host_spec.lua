-- spec/host_spec.lua -- the `torchlet` program (bindings/host/torchlet.c):
-- options, the arg table, the prompt, errors and exit statuses.  Runs the
-- binary named by TORCHLET_BIN (setup.sh points it at the debug build for
-- the sanitized run), else build/bin/torchlet.
local bin = os.getenv("TORCHLET_BIN") or "build/bin/torchlet"

local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

-- Runs the program with 'args' (a list) and 'input' on its standard input;
-- returns its standard output, standard error and exit status.  'env' is a
-- shell prefix such as "env -u LUA_PATH".
local function run(args, input, env)
  local inpath, errpath = os.tmpname(), os.tmpname()
  local f = assert(io.open(inpath, "w"))
  f:write(input or "")
  f:close()
  local words = { env or "", quote(bin) }
  for _, a in ipairs(args) do words[#words + 1] = quote(a) end
  local cmd = table.concat(words, " ") .. " <" .. inpath .. " 2>" .. errpath
  local _, out, code = require("spec.helpers").run(cmd)
  f = assert(io.open(errpath, "r"))
  local err = f:read("*a")
  f:close()
  os.remove(inpath)
  os.remove(errpath)
  return out, err, code
end

local function script(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("the torchlet program", function()
  it("prints its version and Lua's with -v", function()
    local out, _, code = run({ "-v" })
    assert.are.equal(0, code)
    local version = require("torchlet")._VERSION
    assert.are.equal("Torchlet " .. version .. "  Lua 5.4",  -- built for 5.4 only
                     out:match("^(Torchlet %S+  Lua 5%.%d)"))
  end)

  it("prints its usage with -h and exits 0", function()
    local out, _, code = run({ "-h" })
    assert.are.equal(0, code)
    assert.truthy(out:find("usage: torchlet [options] [script [args]]", 1, true))
  end)

  it("has the global torchlet and runs -e chunks in order", function()
    local out, _, code = run({ "-e", "x = torchlet.Element(2) * 3",
                               "-e", "print(x, torchlet.is_element(x))" })
    assert.are.equal(0, code)
    assert.are.equal("Element(data=6.0, grad=0.0)\ttrue\n", out)
  end)

  it("requires modules into globals with -l", function()
    local out, _, code = run({ "-l", "torchlet", "-e", "print(type(torchlet.Element))" })
    assert.are.equal(0, code)
    assert.are.equal("function\n", out)
  end)

  it("gives a script its arguments in arg and in ...", function()
    local path = script("print(#arg, arg[0] == SELF, arg[1], arg[2], ...)\n" ..
                        "print(arg[-1], arg[-2])\n")
    local out, err, code = run({ "-e", "SELF = " .. string.format("%q", path),
                                 path, "a", "b c" })
    os.remove(path)
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("2\ttrue\ta\tb c\ta\tb c\n" ..
                     "SELF = " .. string.format("%q", path) .. "\t-e\n", out)
  end)

  it("finds its Lua part next to itself, without LUA_PATH", function()
    local out, err, code = run({ "-e", "print(package.searchpath('torchlet', package.path))" },
                               nil, "env -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("lua/torchlet/init.lua", 1, true))
  end)

  it("runs standard input as a script when there is no script", function()
    local out, _, code = run({}, "local e = torchlet.Element(1.5)\nprint(e.data * 2)\n")
    assert.are.equal(0, code)
    assert.are.equal("3.0\n", out)
  end)

  it("prints results at the -i prompt, Elements through tostring", function()
    local input = table.concat({
      'x = torchlet.Element(2, "x")',
      "x * 3 + 1",
      "for i = 1, 2 do",        -- a statement over several lines
      "  print(i)",
      "end",
      "1, 'two', nil",
      "error('boom')",          -- reported; the prompt goes on
      "x.data",
    }, "\n") .. "\n"
    local out, err, code = run({ "-i" }, input)
    assert.are.equal(0, code)
    assert.are.equal("Element(data=7.0, grad=0.0)\n1\n2\n1\ttwo\tnil\n2.0\n", out)
    assert.truthy(err:find("stdin:1: boom", 1, true))
    assert.truthy(err:find("stack traceback:", 1, true))
  end)

  -- On a terminal (script(1) gives the program a pseudo-terminal) the
  -- prompt goes through libedit: the up arrow recalls the last line, ^H
  -- erases, so the second statement is print(6 * 8).  Before, the arrow's
  -- escape sequence went to Lua: "bad binary format (truncated chunk)".
  it("edits lines and recalls earlier ones at the -i prompt on a terminal", function()
    local keys = [[print(6 * 7)\n\033[A\010\0108)\n]]   -- printf's escapes
    local cmd = ("printf %s | script -q -c %s /dev/null"):format(
      quote(keys), quote(quote(bin) .. " -i"))
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("*a"):gsub("\r", "")
    p:close()
    assert.truthy(out:find("\n42\n", 1, true), out)
    assert.truthy(out:find("\n48\n", 1, true), out)
    assert.falsy(out:find("binary", 1, true), out)
  end)

  it("refuses binary chunks at the -i prompt, naming why", function()
    local _, err, code = run({ "-i" }, "\27Lua\n")
    assert.are.equal(0, code)
    assert.truthy(err:find("attempt to load a binary chunk (mode is 't')", 1, true), err)
  end)

  it("reports an unfinished statement at the end of -i input", function()
    local _, err, code = run({ "-i" }, "if true then\n")
    assert.are.equal(0, code)
    assert.truthy(err:find("unfinished statement", 1, true))
  end)

  it("prints a traceback and exits 1 when a script fails", function()
    local path = script("local function f() error('deep failure') end\nf()\n")
    local out, err, code = run({ path })
    os.remove(path)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("deep failure", 1, true))
    assert.truthy(err:find("stack traceback:", 1, true))
    assert.truthy(err:find("in local 'f'", 1, true) or err:find("in function 'f'", 1, true))
  end)

  it("exits 1 on a Torchlet error, a missing script or a bad option", function()
    local _, err, code = run({ "-e", "torchlet.Element('x')" })
    assert.are.equal(1, code)
    assert.truthy(err:find("expected, got string", 1, true))
    _, err, code = run({ "/nonexistent/script.lua" })
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot open /nonexistent/script.lua", 1, true))
    _, err, code = run({ "-x" })
    assert.are.equal(1, code)
    assert.truthy(err:find("unknown option '-x'", 1, true))
    _, err, code = run({ "-e" })
    assert.are.equal(1, code)
    assert.truthy(err:find("'-e' needs an argument", 1, true))
  end)

  it("stops reading options at --", function()
    local path = script("print(...)\n")
    local out, _, code = run({ "--", path, "-v" })
    os.remove(path)
    assert.are.equal(0, code)
    assert.are.equal("-v\n", out)
  end)
end)
