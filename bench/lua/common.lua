-- Shared by the scenario scripts: auth headers, id lists, and a machine-readable summary.
local M = {}

function M.headers(extra)
  local h = {
    ["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set"),
    ["Accept"] = "application/json",
  }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

function M.lines(path)
  local items = {}
  for line in io.lines(path) do
    if #line > 0 then items[#items + 1] = line end
  end
  assert(#items > 0, "no ids in " .. path)
  return items
end

-- Give each wrk thread its own random stream.
local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function M.seed()
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

-- One line of JSON for bench/run.py to parse. Latencies in microseconds.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

return M
