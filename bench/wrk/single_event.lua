-- POST /events with a realistic event (about 600 bytes) and a unique event_id per request, so that the sink
-- does real work for every event rather than dropping duplicates. Run from the repository's root.
dofile("bench/wrk/common.lua")
local counter = 0

request = function()
  counter = counter + 1
  local app = counter % 30
  local body = string.format([[{"event_id":"wrk-%s-%d","tenant_id":"bench","org_id":"mobile","app_id":"app%d",]] ..
    [["device_id":"device-%d","event_type":"%s","timestamp":"%s","session_id":"session-%d",]] ..
    [["device_info":{"os":"Android","os_version":"14","model":"Pixel 8","manufacturer":"Google"},]] ..
    [["release_info":{"current_version":"1.4.0","target_version":"1.5.0","channel":"production","rollout_percentage":25},]] ..
    [["network_info":{"connection_type":"wifi","bandwidth_mbps":48.5},]] ..
    [["performance_metrics":{"download_speed_mbps":12.75,"download_duration_seconds":3.2,"package_size_bytes":4200000,"battery_level":77},]] ..
    [["metadata":{"sdk":"ota-stream-rn/0.1.0","locale":"en-US"}}]],
    run, counter, app, (counter * 7919) % 27000, types[(counter % 6) + 1], stamp, counter % 1000)
  return wrk.format("POST", "/events", headers, body)
end
