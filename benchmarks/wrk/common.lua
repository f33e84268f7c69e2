-- Shared by the scenario scripts (loaded with dofile): numbers the threads, seeds their random
-- generators, and prints the run's summary as one JSON line that benchmarks/http_load.py parses.
-- Environment: BENCH_N (entities seeded, ids urn:ngsi-ld:Sensor:0000000..N-1), BENCH_RUN (a tag
-- that keeps the ids of created entities unique across runs).

N = tonumber(os.getenv("BENCH_N") or "1000")
RUN = os.getenv("BENCH_RUN") or "r"
JSON = { ["Content-Type"] = "application/json" }

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
end

function sensor_id(i)
  return string.format("urn:ngsi-ld:Sensor:%07d", i)
end

function random_sensor()
  return sensor_id(math.random(0, N - 1))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
