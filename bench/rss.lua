-- bench/rss.lua -- the resident set size of this process, for the memory
-- benchmarks (Linux: /proc/self/status).
local M = {}

-- Resident set size in kB.
function M.kb()
  local f = assert(io.open("/proc/self/status"))
  for line in f:lines() do
    local kb = line:match("^VmRSS:%s*(%d+)")
    if kb then f:close() return tonumber(kb) end
  end
  f:close()
  error("no VmRSS in /proc/self/status")
end

return M
