-- GET /api/v1/patients/{id}/ over random patients of the bench clinician's panel.
-- wrk ... -s patient_read.lua URL -- <file of patient ids>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local ids, headers

setup = common.setup
done = common.done

function init(args)
  common.seed()
  ids = common.lines(args[1])
  headers = common.headers()
end

function request()
  return wrk.format("GET", "/api/v1/patients/" .. ids[math.random(#ids)] .. "/", headers)
end
