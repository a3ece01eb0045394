-- POST /api/v1/patients/{id}/interactions/ to random panel patients: one object (size 0)
-- or a JSON array of `size` objects (all or nothing).
-- wrk ... -s interactions_post.lua URL -- <file of patient ids> <size>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local ids, headers, body

setup = common.setup
done = common.done

local function item(i)
  local stamp = string.format("2026-06-01T%02d:%02d:%02d+00:00", math.floor(i / 3600) % 24, math.floor(i / 60) % 60, i % 60)
  if i % 2 == 0 then
    return '{"kind":"assessment","payload":{"instrument":"PHQ-9","score":' .. (i % 28) ..
      '},"occurred_at":"' .. stamp .. '"}'
  end
  return '{"kind":"message","payload":{"text":"Bench message ' .. i .. ', slept fine."},"occurred_at":"' .. stamp .. '"}'
end

function init(args)
  common.seed()
  ids = common.lines(args[1])
  local size = tonumber(args[2] or "0")
  headers = common.headers({["Content-Type"] = "application/json"})
  if size == 0 then
    body = item(1)
  else
    local items = {}
    for i = 1, size do items[i] = item(i) end
    body = "[" .. table.concat(items, ",") .. "]"
  end
end

function request()
  return wrk.format("POST", "/api/v1/patients/" .. ids[math.random(#ids)] .. "/interactions/", headers, body)
end
