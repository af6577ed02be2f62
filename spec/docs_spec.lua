-- spec/docs_spec.lua -- every ```lua block of README.md and doc/*.md runs,
-- and the output it claims is what it prints.
--
-- The convention (doc/testing.md, "Snippets in the docs"):
--   * Each ```lua block runs in a child process of the interpreter running
--     the specs, in a fresh temporary directory as its working directory
--     (files it writes land there), with this tree's module on its paths.
--   * A block after the HTML comment `<!-- continues -->` runs in the same
--     chunk as the block before it (its locals are still in scope); the
--     blocks joined so make one chain and one process.
--   * A line holding `-->` claims output: the text after `-->` is a line the
--     block prints.  A block with claims must print exactly its claimed lines,
--     in order (a line of its own that is only a `-->` comment continues the
--     claim of the line above).  Whitespace runs compare as one space, a
--     number `N.0` as `N` (Lua 5.1 and LuaJIT print 4.0 as 4), `...` in a
--     claim matches anything, and ` -- ` starts a remark that is not compared.  A block without claims must only run.
--   * `<!-- norun: reason -->` before a block: it is not run (the reason
--     must be given); `<!-- lua53: reason -->`: it runs on Lua 5.3 and later
--     only.  Both are counted here so they stay rare.
local helpers = require "spec.helpers"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local root = here .. "../"

local function doc_files()
  local files = {"README.md", "CHANGELOG.md"}
  local p = assert(io.popen("ls '" .. root .. "doc'"))
  for name in p:lines() do
    -- doc/notes-<branch>.md are helpers' drafts the lead folds in
    if name:match("%.md$") and not name:match("^notes%-") then
      files[#files + 1] = "doc/" .. name
    end
  end
  p:close()
  return files
end

-- The ```lua blocks of a markdown text: {text, line, mark, reason}, where
-- mark is the HTML comment right before the block (blank lines between
-- allowed): "continues", "norun" or "lua53".
local function blocks_of(text)
  local blocks, lines = {}, {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local i, mark, reason = 1, nil, nil
  while i <= #lines do
    local line = lines[i]
    local m, r = line:match("^<!%-%- (%w+):? ?(.-) ?%-%->$")
    if m then
      mark, reason = m, r
    elseif line:match("^```lua%s*$") then
      local body, start = {}, i
      i = i + 1
      while lines[i] and not lines[i]:match("^```%s*$") do
        body[#body + 1] = lines[i]
        i = i + 1
      end
      assert(lines[i], "unclosed ```lua block at line " .. start)
      blocks[#blocks + 1] = {text = table.concat(body, "\n"), line = start,
                             mark = mark, reason = reason}
      mark, reason = nil, nil
    elseif line:match("%S") then
      mark, reason = nil, nil
    end
    i = i + 1
  end
  return blocks
end

-- The lines a block claims to print.
local function claims(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local claim = line:match("%-%->%s?(.*)$")
    -- " -- " starts a remark on the output, not compared
    if claim then out[#out + 1] = claim:gsub("%s+%-%-%s.*$", "") end
  end
  return out
end

local function normal(s)
  s = s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  s = s:gsub("(%d)%.0(%f[^%deE])", "%1")
  return s
end

local function matches(claim, actual)
  claim, actual = normal(claim), normal(actual)
  if not claim:find("...", 1, true) then return claim == actual end
  local parts = {}
  for piece in (claim .. "..."):gmatch("(.-)%.%.%.") do
    parts[#parts + 1] = piece:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
  end
  return actual:match("^" .. table.concat(parts, ".-") .. "$") ~= nil
end

-- Absolute search paths for the child: this process's, with relative
-- entries (the .busted default 'lua/?.lua') made absolute.
local function absolute(path, cwd)
  local out = {}
  for entry in path:gmatch("[^;]+") do
    if entry:sub(1, 1) ~= "/" then entry = cwd .. "/" .. entry end
    out[#out + 1] = entry
  end
  return table.concat(out, ";")
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local SEP = "@@docs_spec block@@"

-- Runs a chain of blocks as one chunk in a fresh directory; returns
-- ok, the output of each block (a list of lines each), and the whole text.
local function run_chain(chain)
  local cwd = assert(io.popen("pwd")):read("*l")
  local dir = os.tmpname()
  os.remove(dir)
  assert(helpers.run("mkdir " .. shell_quote(dir)))
  local parts = {}
  for k, b in ipairs(chain) do
    parts[#parts + 1] = b.text
    parts[#parts + 1] = "\nio.stdout:write(" .. string.format("%q", SEP .. k) .. ", '\\n')\n"
  end
  helpers.write_file(dir .. "/snippet.lua", table.concat(parts))
  local cmd = "cd " .. shell_quote(dir) .. " && LUA_PATH=" ..
    shell_quote(absolute(package.path, cwd)) .. " LUA_CPATH=" ..
    shell_quote(absolute(package.cpath, cwd)) .. " " .. helpers.lua .. " snippet.lua"
  local ok, out = helpers.run(cmd)
  helpers.run("rm -rf " .. shell_quote(dir))
  local outputs, current, k = {}, {}, 1
  for line in out:gmatch("([^\n]*)\n") do
    if line == SEP .. k then
      outputs[k], current, k = current, {}, k + 1
    else
      current[#current + 1] = line
    end
  end
  return ok, outputs, out
end

local modern = not (rawget(_G, "jit") or _VERSION == "Lua 5.1")

describe("the docs' Lua snippets", function()
  local total, skipped = 0, 0
  for _, file in ipairs(doc_files()) do
    local blocks = blocks_of(helpers.read_file(root .. file))
    -- chains: a block and the blocks that continue it
    local chains = {}
    for _, b in ipairs(blocks) do
      if b.mark == "continues" then
        assert(#chains > 0, file .. ":" .. b.line .. ": nothing to continue")
        table.insert(chains[#chains], b)
      else
        chains[#chains + 1] = {b}
      end
    end
    for _, chain in ipairs(chains) do
      local first = chain[1]
      local name = file .. ":" .. first.line
      if first.mark == "norun" or first.mark == "lua53" then
        it(name .. " is marked " .. first.mark .. " with a reason", function()
          assert.is_true(#first.reason > 0, "a reason is required")
        end)
      end
      total = total + #chain
      if first.mark == "norun" or (first.mark == "lua53" and not modern) then
        skipped = skipped + #chain
      else
        it(name .. " runs and prints what it claims", function()
          local ok, outputs, all = run_chain(chain)
          assert(ok, name .. " failed:\n" .. all)
          for k, b in ipairs(chain) do
            local want, got = claims(b.text), outputs[k] or {}
            if #want > 0 then
              local same = #want == #got
              for j = 1, #want do same = same and matches(want[j], got[j]) end
              assert(same, string.format("%s:%d claims\n  %s\nbut printed\n  %s",
                file, b.line, table.concat(want, "\n  "), table.concat(got, "\n  ")))
            end
          end
        end)
      end
    end
  end

  it("finds the snippets, and runs nearly all of them", function()
    assert.is_true(total >= 25, "only " .. total .. " snippets")
    assert.is_true(skipped <= 3 or not modern, skipped .. " snippets not run")
  end)
end)

describe("the docs' links and pictures", function()
  it("point at files that exist (relative to the file that names them)", function()
    local missing = {}
    for _, file in ipairs(doc_files()) do
      local dir = file:match("^(.*/)") or ""
      for target in helpers.read_file(root .. file):gmatch("%]%(([^)#%s]+)[^)]*%)") do
        if not target:match("^%a+:") and not helpers.exists(root .. dir .. target) then
          missing[#missing + 1] = file .. ": " .. target
        end
      end
    end
    assert.are.same({}, missing)
  end)
end)

describe("the snippet runner itself", function()
  it("reads marks, claims and chains", function()
    local bs = blocks_of("x\n<!-- norun: needs a display -->\n```lua\nprint(1) --> 1\n```\n" ..
                         "<!-- continues -->\n\n```lua\nprint(2)\n```\n```lua\nz()\n```\n")
    assert.are.equal(3, #bs)
    assert.are.equal("norun", bs[1].mark)
    assert.are.equal("needs a display", bs[1].reason)
    assert.are.equal("continues", bs[2].mark)
    assert.is_nil(bs[3].mark)
    assert.are.same({"1"}, claims(bs[1].text))
    assert.are.same({"x", "y"}, claims("print(1) --> x -- a remark\n--> y"))
  end)

  it("compares claims loosely only where it says", function()
    assert.is_true(matches("4.0   2.0", "4\t2"))
    assert.is_true(matches("[[0.4, ...], ...]", "[[0.4, 0.4], [0.6, 0.6]]"))
    assert.is_false(matches("4.5", "4"))
    assert.is_false(matches("a ... c", "a b d"))
    assert.is_false(matches("10", "1"))
  end)

  it("fails a block whose claim is wrong, and shares locals along a chain", function()
    local ok, outputs = run_chain({{text = "local x = 2\nprint(x * 3)"}, {text = "print(x + 1)"}})
    assert.is_true(ok)
    assert.are.same({{"6"}, {"3"}}, outputs)
    local failed = run_chain({{text = "error('boom')"}})
    assert.is_false(failed)
    assert.is_false(matches("7", outputs[1][1]))
  end)
end)
