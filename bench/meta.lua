--[[
bench/meta.lua -- the facts that make a result comparable later: when,
on what machine, built by which compiler, run by which Lua, at which
revision.  Each fact that cannot be found reads "unknown".
]]
local M = {}

-- The output of 'cmd' (stderr dropped), trimmed, or nil if empty.
local function capture(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  if p == nil then return nil end
  local out = p:read("a") or ""
  p:close()
  out = out:gsub("%s+$", "")
  if out == "" then return nil end
  return out
end

local function cpu()
  local f = io.open("/proc/cpuinfo")
  if f == nil then return "unknown", 0 end
  local model, cores = nil, 0
  for line in f:lines() do
    model = model or line:match("^model name%s*:%s*(.-)%s*$")
    if line:match("^processor%s*:") then cores = cores + 1 end
  end
  f:close()
  return model or "unknown", cores
end

-- 'root' is the repository; 'interpreter' the running Lua (arg[-1]).
function M.collect(root, interpreter)
  local model, cores = cpu()
  local q = "'" .. root:gsub("'", "'\\''") .. "'"
  local rev = capture("git -C " .. q .. " rev-parse --short HEAD") or "unknown"
  if rev ~= "unknown" and capture("git -C " .. q .. " status --porcelain --untracked-files=no") then
    rev = rev .. "-dirty"
  end
  local lua = interpreter and capture("'" .. interpreter .. "' -v") or nil
  return {
    date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    cpu = model,
    cores = cores,
    lua = lua and lua:match("^(Lua %S+)") or _VERSION,
    git = rev,
    subject = capture("git -C " .. q .. " log -1 --format=%s") or "unknown",
  }
end

return M
