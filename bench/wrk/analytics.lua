-- GET /analytics/adoption for tenant "bench" over the last day (bench/auth_overhead.py). Run from the repository's root.
dofile("bench/wrk/common.lua")

request = function()
  return wrk.format("GET", "/analytics/adoption?tenant_id=bench&days=1", headers)
end
