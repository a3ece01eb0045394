-- GET /api/v1/patients/{id}/<suffix> over random patients of the bench clinician's panel.
-- wrk ... -s panel_get.lua URL -- <file of patient ids> [suffix, e.g. "interactions/?page_size=50"]
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local ids, headers, suffix

setup = common.setup
done = common.done

function init(args)
  common.seed()
  ids = common.lines(args[1])
  suffix = args[2] or ""
  headers = common.headers()
end

function request()
  return wrk.format("GET", "/api/v1/patients/" .. ids[math.random(#ids)] .. "/" .. suffix, headers)
end
