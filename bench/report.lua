--[[
bench/report.lua -- the printed tables: the original's table (Benchmark |
Initial Implementation (µs) | Current Implementation (µs) | Notes), the
comparison with plain Lua and the floor, and the targets.

A result (see bench/run.lua) holds rows; each row has id, title, unit
("us", "ns_node" or "bytes"), initial (µs or nil) and results keyed by
implementation ("torchlet", "c_core", "plain", "floor", "floor_gc", "torch"),
each either
{min =, median =, mean =, amortized =, samples =} or {na = reason}.

Ratios are taken on 'amortized' times: in Lua the garbage collector's work
comes in bursts that the minimum misses and the median may miss; the
amortized figure spreads it over every op, which is what a program pays,
without letting a few preempted samples move it (bench/harness.lua).
]]
local M = {}

local function fmt_us(v) return ("%.3f"):format(v) end

local function cell(r, fmt)
  if r == nil then return "—" end
  if r.na then return "n/a (" .. r.na .. ")" end
  return fmt(r.min)
end

-- The ratio of two results' field 'key' (a / b), or nil.
local function ratio(a, b, key)
  if a == nil or b == nil or a.na or b.na then return nil end
  return a[key] / b[key]
end
M.ratio = ratio

local function fmt_ratio(x) return x and ("%.1f×"):format(x) or "—" end

local function row_notes(row)
  local t, c = row.results.torchlet, row.results.c_core
  local notes = {}
  if t and not t.na then
    notes[#notes + 1] = ("median %s, amortized %s over %d samples"):format(
      fmt_us(t.median), fmt_us(t.amortized), t.samples)
  end
  if c and not c.na then
    notes[#notes + 1] = ("C core: min %s, median %s"):format(fmt_us(c.min), fmt_us(c.median))
  end
  return table.concat(notes, "; ")
end

local function table_line(cells)
  return "| " .. table.concat(cells, " | ") .. " |"
end

-- The original's table, one line per row.
function M.main_table(result)
  local lines = {
    table_line{"Benchmark", "Initial Implementation (µs)", "Current Implementation (µs)", "Notes"},
    "|---|---|---|---|",
  }
  for _, row in ipairs(result.rows) do
    local r = row.results
    local initial = row.initial and fmt_us(row.initial) or "—"
    if row.id:match("^moons_step") then
      local c, t = r.c_core, r.torchlet
      local notes = {}
      if t and not t.na then notes[#notes + 1] = ("%.3f ms per step (median %.3f ms, amortized %.3f ms)"):format(t.min / 1000, t.median / 1000, t.amortized / 1000) end
      if c and not c.na then notes[#notes + 1] = ("C core: %.3f ms (median %.3f ms)"):format(c.min / 1000, c.median / 1000) end
      notes[#notes + 1] = row.id == "moons_step" and
        "original Python 1711 ms, micrograd 1086 ms here (shared reference)" or
        "PyTorch 1.13 batched, one thread: 0.42 ms here (shared reference)"
      lines[#lines + 1] = table_line{row.title, initial, cell(t, fmt_us), table.concat(notes, "; ")}
    elseif row.unit == "ns_node" then
      local c = r.c_core
      local notes = c and not c.na and
        ("C: %.1f ns per node (median %.1f); freeing the chain: %.1f ns per node"):format(
          c.min, c.median, r.c_free and r.c_free.min or 0/0) or ""
      lines[#lines + 1] = table_line{row.title, initial,
        cell(c, function(v) return ("%.4f"):format(v / 1000) end), notes}
    elseif row.unit == "bytes" then
      local c, t = r.c_core, r.torchlet
      local notes = {"sizeof(struct tl_node)"}
      if r.pool and not r.pool.na then notes[#notes + 1] = ("%.1f with the pool's block overhead"):format(r.pool.min) end
      if t and not t.na then notes[#notes + 1] = ("%.0f retained per node seen from Lua (core + Lua heap)"):format(t.min) end
      lines[#lines + 1] = table_line{row.title, initial,
        cell(c, function(v) return ("%d bytes"):format(v) end), table.concat(notes, "; ")}
    else
      lines[#lines + 1] = table_line{row.title, initial, cell(r.torchlet, fmt_us), row_notes(row)}
    end
  end
  return table.concat(lines, "\n")
end

local function stats_cell(r, fmt)
  if r == nil then return "—" end
  if r.na then return "n/a" end
  if fmt then return fmt(r.min) end
  return ("%s (median %s, min %s)"):format(fmt_us(r.amortized), fmt_us(r.median), fmt_us(r.min))
end

-- Plain Lua and the floor beside Torchlet: amortized times, with medians
-- and minima; ratios of amortized times.
function M.compare_table(result)
  local torch = result.meta.torch ~= nil
  local head = {"Benchmark", "Torchlet from Lua", "Torchlet C core", "plain Lua",
                "floor", "floor + __gc", "plain Lua / Torchlet", "Torchlet / floor"}
  if torch then head[#head + 1] = "PyTorch " .. result.meta.torch .. ", 1 thread" end
  local lines = {table_line(head), "|" .. ("---|"):rep(#head)}
  for _, row in ipairs(result.rows) do
    local r = row.results
    if row.unit == "us" then
      local cells = {row.title, stats_cell(r.torchlet), stats_cell(r.c_core),
        stats_cell(r.plain), stats_cell(r.floor), stats_cell(r.floor_gc),
        fmt_ratio(ratio(r.plain, r.torchlet, "amortized")),
        fmt_ratio(ratio(r.torchlet, r.floor, "amortized"))}
      if torch then cells[#cells + 1] = stats_cell(r.torch) end
      lines[#lines + 1] = table_line(cells)
    elseif row.unit == "bytes" then
      local b = function(v) return ("%.0f B"):format(v) end
      local cells = {"Memory retained per scalar node (bytes)",
        stats_cell(r.torchlet, b), stats_cell(r.c_core, b), stats_cell(r.plain, b), "—", "—",
        fmt_ratio(ratio(r.plain, r.torchlet, "min")), "—"}
      if torch then cells[#cells + 1] = "—" end
      lines[#lines + 1] = table_line(cells)
    end
  end
  return table.concat(lines, "\n") ..
    "\n\nAmortized µs per run (the garbage collector's share included: median of the means of 10\n" ..
    "blocks of consecutive samples), then median and minimum; ratios of amortized times, all\n" ..
    "measured in this process" ..
    (torch and " (PyTorch in a python3 started by it; its moons step is the batched one)." or ".")
end

-- Each target with its measured value; nil values print as "n/a".
function M.targets(result)
  local by = {}
  for _, row in ipairs(result.rows) do by[row.id] = row.results end
  local out = {}
  local function line(name, value, ok)
    local verdict = ok == nil and "n/a" or (ok and "met" or "MISSED")
    out[#out + 1] = ("- %s: %s — %s"):format(name, value or "n/a", verdict)
  end
  -- "2.1× (median 1.8×, min 1.8×)": the verdict is on the amortized time
  local function ratios(a, b)
    local x = ratio(a, b, "amortized")
    if x == nil then return nil end
    return ("%.2f× (median %.2f×, min %.2f×)"):format(x, ratio(a, b, "median"), ratio(a, b, "min")), x
  end
  for _, id in ipairs{"add", "mul"} do
    local text, x = ratios(by[id].torchlet, by[id].floor)
    line(("%s from Lua within 1.5× of the floor"):format(id), text, x and x <= 1.5)
  end
  -- not a target: the bound that per-handle finalizers set on the one above
  local gc_text = ratios(by.add.floor_gc, by.add.floor)
  if gc_text then
    out[#out + 1] = ("  (for scale: the floor with an empty __gc is %s the floor)"):format(gc_text)
  end
  for _, id in ipairs{"add", "mul", "backward", "mlp_forward", "mlp_backward", "zero_grad"} do
    local want = (id == "mlp_forward" or id == "mlp_backward") and 20 or 5
    local text, x = ratios(by[id].plain, by[id].torchlet)
    line(("%s ≥ %d× faster than plain Lua"):format(id, want), text, x and x >= want)
  end
  local m = by.moons_step
  local t = m.torchlet and not m.torchlet.na and m.torchlet or nil
  local function ms(r)
    return ("%.3f ms amortized (median %.3f, min %.3f, mean %.3f)"):format(
      r.amortized / 1000, r.median / 1000, r.min / 1000, r.mean / 1000)
  end
  line("moons step under 1 ms (from Lua)", t and ms(t), t and t.amortized < 1000)
  local c = m.c_core and not m.c_core.na and m.c_core or nil
  line("moons step under 1 ms (C core)", c and ms(c), c and c.amortized < 1000)
  local b = by.moons_step_batched and by.moons_step_batched.torchlet
  b = b and not b.na and b or nil
  line("moons step under 1 ms (batched, from Lua)", b and ms(b), b and b.amortized < 1000)
  local ch = by.chain and by.chain.c_core
  ch = ch and not ch.na and ch or nil
  line("million chain under 20 ns per node (C)", ch and ("%.1f ns median (min %.1f)"):format(ch.median, ch.min), ch and ch.median < 20)
  local nb = by.node_bytes and by.node_bytes.c_core
  nb = nb and not nb.na and nb or nil
  line("at most 64 bytes per scalar node", nb and ("%d bytes"):format(nb.min), nb and nb.min <= 64)
  return table.concat(out, "\n")
end

return M
