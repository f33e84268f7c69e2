-- GET /v2/entities?type=Sensor&q=humidity==K&limit=20: 1% of the entities match, first page of 20
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function request()
  return wrk.format("GET", string.format("/v2/entities?type=Sensor&q=humidity==%d&limit=20", math.random(0, 99)))
end
