-- GET one fixed path (the patient list, a deep interactions page through a pre-fetched cursor).
-- wrk ... -s get.lua URL -- <path>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")
local req

setup = common.setup
done = common.done

function init(args)
  req = wrk.format("GET", assert(args[1], "usage: -- <path>"), common.headers())
end

function request()
  return req
end
