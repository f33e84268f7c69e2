-- POST /v2/entities: a new entity per request (4 attributes, one with metadata, a geo:json point)
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"id":"urn:ngsi-ld:Sensor:%s-%d-%d","type":"Sensor",' ..
    '"temperature":{"type":"Number","value":%d.5,"metadata":{"unit":{"type":"Text","value":"CEL"}}},' ..
    '"humidity":{"type":"Number","value":%d},"name":{"type":"Text","value":"sensor %d"},' ..
    '"location":{"type":"geo:json","value":{"type":"Point","coordinates":[-3.7,40.4]}}}',
    RUN, tid, n, 20 + n % 10, n % 100, n)
  return wrk.format("POST", "/v2/entities", JSON, body)
end
