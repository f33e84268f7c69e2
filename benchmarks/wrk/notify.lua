-- PATCH /v2/entities/{id}/attrs of one of 100 `Notified` entities, each watched by 10 subscriptions
-- that notify a local receiver: every request owes 10 notifications
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local n = 0
function request()
  n = n + 1
  local body = string.format('{"count":{"type":"Number","value":%d}}', n)
  return wrk.format("PATCH", string.format("/v2/entities/urn:ngsi-ld:Notified:%03d/attrs", math.random(0, 99)), JSON, body)
end
