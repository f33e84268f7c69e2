-- PATCH /v2/entities/{id}/attrs: one attribute of a random seeded entity (204)
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function request()
  local body = string.format('{"temperature":{"type":"Number","value":%d.25}}', math.random(0, 1000))
  return wrk.format("PATCH", "/v2/entities/" .. random_sensor() .. "/attrs", JSON, body)
end
