-- GET /v2/entities/{id}: a random seeded entity
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function request()
  return wrk.format("GET", "/v2/entities/" .. random_sensor())
end
