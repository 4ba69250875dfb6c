-- wrk script: one JSON line with latency percentiles, throughput and errors.
-- Headers (session cookie or bearer token) are passed with wrk's -H option.
-- The first response's status is remembered so a redirect to /login cannot pass as a result.

local statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx_status = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx_status = status
  end
end

function done(summary, latency, requests)
  local bad_status = 0
  for _, t in ipairs(threads) do
    local s = t:get("non2xx_status")
    if s and s ~= 0 then bad_status = s end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "last_bad_status": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, bad_status))
end
