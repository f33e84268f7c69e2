-- POST /v2/op/update actionType update: 100 consecutive seeded entities from a random start (204)
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local SIZE = 100
function request()
  local start = math.random(0, math.max(0, N - SIZE))
  local value = math.random(0, 1000)
  local parts = {}
  for i = 0, SIZE - 1 do
    parts[#parts + 1] = string.format(
      '{"id":"%s","type":"Sensor","temperature":{"type":"Number","value":%d.75}}', sensor_id(start + i), value)
  end
  local body = '{"actionType":"update","entities":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/v2/op/update", JSON, body)
end
