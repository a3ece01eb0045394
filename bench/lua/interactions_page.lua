-- GET /api/v1/patients/{id}/interactions/?page_size=50 (first page) over random panel patients.
-- wrk ... -s interactions_page.lua URL -- <file of patient ids>
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
  return wrk.format("GET", "/api/v1/patients/" .. ids[math.random(#ids)] .. "/interactions/?page_size=50", headers)
end
