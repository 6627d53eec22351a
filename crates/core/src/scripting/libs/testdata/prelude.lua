local function esc(s)
  return (string.gsub(s, '[%z\1-\31\\\127-\255]', function(c) return string.format('\\x%02x', string.byte(c)) end))
end
local show
local function showv(v, depth)
  local t = type(v)
  if t == 'string' then return '"' .. esc(v) .. '"'
  elseif t == 'number' then return string.format('%.17g', v)
  elseif v == cjson.null then return 'null'
  elseif t == 'table' then
    if depth > 20 then return '{...}' end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) ~= type(b) then return type(a) < type(b) end
      if type(a) == 'number' or type(a) == 'string' then return a < b end
      return tostring(a) < tostring(b)
    end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = showv(k, depth + 1) .. '=' .. showv(v[k], depth + 1) end
    return '{' .. table.concat(parts, ',') .. '}'
  elseif t == 'boolean' then return tostring(v)
  else return t end
end
show = function(...)
  local parts = {}
  for i = 1, select('#', ...) do parts[#parts + 1] = showv((select(i, ...)), 0) end
  return table.concat(parts, ' ')
end
local function try(f, ...) return show(pcall(f, ...)) end
local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end
local function tryhex(f, ...)
  local r = {pcall(f, ...)}
  if r[1] and type(r[2]) == 'string' then return 'true ' .. hex(r[2]) end
  return show(unpack(r))
end
local function rt(v) return show(cmsgpack.unpack(cmsgpack.pack(v))) end
