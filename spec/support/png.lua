-- spec/support/png.lua -- reads the pixels of a PNG file, for specs that
-- check what a picture shows (8-bit RGB or RGBA, not interlaced: what
-- cairo writes).  A small inflate after Mark Adler's puff.c, in the Lua 5.1
-- subset (arithmetic instead of bit operators), so it runs on every VM.
local M = {}

local LBASE = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
               67, 83, 99, 115, 131, 163, 195, 227, 258}
local LEXT = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
              5, 5, 5, 5, 0}
local DBASE = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513,
               769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
local DEXT = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
              11, 11, 12, 12, 13, 13}
local ORDER = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

-- Canonical Huffman code from code lengths lengths[0..n-1].
local function construct(lengths, n)
  local count, offs, symbol = {}, {}, {}
  for len = 0, 15 do count[len] = 0 end
  for sym = 0, n - 1 do count[lengths[sym]] = count[lengths[sym]] + 1 end
  offs[1] = 0
  for len = 1, 14 do offs[len + 1] = offs[len] + count[len] end
  for sym = 0, n - 1 do
    local l = lengths[sym]
    if l ~= 0 then
      symbol[offs[l] + 1] = sym
      offs[l] = offs[l] + 1
    end
  end
  return {count = count, symbol = symbol}
end

-- The bytes of the zlib stream 's' (from byte 'pos') inflated, as a list
-- of numbers.
local function inflate(s, pos)
  local out, n = {}, 0
  local buf, cnt = 0, 0
  local function bits(k)
    while cnt < k do
      buf = buf + s:byte(pos) * 2 ^ cnt
      pos, cnt = pos + 1, cnt + 8
    end
    local p = 2 ^ k
    local v = buf % p
    buf, cnt = (buf - v) / p, cnt - k
    return v
  end
  local function decode(h)
    local code, first, index = 0, 0, 0
    for len = 1, 15 do
      code = code + bits(1)
      local count = h.count[len]
      if code - count < first then return h.symbol[index + code - first + 1] end
      index, first, code = index + count, (first + count) * 2, code * 2
    end
    error("png: bad Huffman code")
  end
  local last
  repeat
    last = bits(1)
    local kind = bits(2)
    if kind == 0 then
      buf, cnt = 0, 0
      local len = s:byte(pos) + 256 * s:byte(pos + 1)
      pos = pos + 4
      for i = 0, len - 1 do n = n + 1; out[n] = s:byte(pos + i) end
      pos = pos + len
    elseif kind == 3 then
      error("png: bad block type")
    else
      local lencode, distcode
      local lengths = {}
      if kind == 1 then
        for i = 0, 287 do
          lengths[i] = i < 144 and 8 or i < 256 and 9 or i < 280 and 7 or 8
        end
        lencode = construct(lengths, 288)
        local d = {}
        for i = 0, 29 do d[i] = 5 end
        distcode = construct(d, 30)
      else
        local nlen, ndist, ncode = bits(5) + 257, bits(5) + 1, bits(4) + 4
        for i = 0, 18 do lengths[i] = 0 end
        for i = 1, ncode do lengths[ORDER[i]] = bits(3) end
        local lencodes = construct(lengths, 19)
        local all, i = {}, 0
        while i < nlen + ndist do
          local sym = decode(lencodes)
          if sym < 16 then
            all[i], i = sym, i + 1
          else
            local len, rep = 0, 0
            if sym == 16 then len, rep = all[i - 1], 3 + bits(2)
            elseif sym == 17 then rep = 3 + bits(3)
            else rep = 11 + bits(7) end
            for _ = 1, rep do all[i], i = len, i + 1 end
          end
        end
        local l, d = {}, {}
        for j = 0, nlen - 1 do l[j] = all[j] end
        for j = 0, ndist - 1 do d[j] = all[nlen + j] end
        lencode, distcode = construct(l, nlen), construct(d, ndist)
      end
      while true do
        local sym = decode(lencode)
        if sym < 256 then
          n = n + 1; out[n] = sym
        elseif sym == 256 then
          break
        else
          sym = sym - 257
          local len = LBASE[sym + 1] + bits(LEXT[sym + 1])
          local ds = decode(distcode)
          local dist = DBASE[ds + 1] + bits(DEXT[ds + 1])
          for _ = 1, len do n = n + 1; out[n] = out[n - dist] end
        end
      end
    end
  until last == 1
  return out
end

local function u32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- Reads the PNG at 'path': returns width, height and pixel(x, y) giving
-- r, g, b (0..255) of the pixel at column x, row y (from 1, top left).
function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  assert(s:sub(1, 8) == "\137PNG\r\n\26\n", "png: not a PNG file")
  local pos, idat, w, h, bpp = 9, {}, nil, nil, nil
  while pos <= #s do
    local len, kind = u32(s, pos), s:sub(pos + 4, pos + 7)
    local body = s:sub(pos + 8, pos + 7 + len)
    if kind == "IHDR" then
      w, h = u32(body, 1), u32(body, 5)
      local depth, colour, interlace = body:byte(9), body:byte(10), body:byte(13)
      assert(depth == 8 and (colour == 2 or colour == 6) and interlace == 0,
             "png: only 8-bit RGB or RGBA, not interlaced")
      bpp = colour == 6 and 4 or 3
    elseif kind == "IDAT" then
      idat[#idat + 1] = body
    end
    pos = pos + 12 + len
  end
  local raw = inflate(table.concat(idat), 3)     -- after the zlib header
  local stride = w * bpp
  local px = {}                                  -- unfiltered bytes, rows one after another
  local r = 1
  for y = 0, h - 1 do
    local filter = raw[r]
    r = r + 1
    local base = y * stride
    for i = 1, stride do
      local x = raw[r]
      r = r + 1
      local a = i > bpp and px[base + i - bpp] or 0
      local b = y > 0 and px[base - stride + i] or 0
      local c = (i > bpp and y > 0) and px[base - stride + i - bpp] or 0
      if filter == 1 then x = x + a
      elseif filter == 2 then x = x + b
      elseif filter == 3 then x = x + math.floor((a + b) / 2)
      elseif filter == 4 then
        local p = a + b - c
        local pa, pb, pc = math.abs(p - a), math.abs(p - b), math.abs(p - c)
        if pa <= pb and pa <= pc then x = x + a elseif pb <= pc then x = x + b else x = x + c end
      end
      px[base + i] = x % 256
    end
  end
  return w, h, function(x, y)
    local i = (y - 1) * stride + (x - 1) * bpp
    return px[i + 1], px[i + 2], px[i + 3]
  end
end

return M
