-- POST /analytics/events in the seed's own form (its server, airborne_analytics_server: OtaEventRequest, an
-- event_type in SCREAMING_SNAKE, no event id: the server makes one), about the size of single_event.lua's event,
-- for bench/ingest_peers.py --seed-binary. Run from the repository's root.
dofile("bench/wrk/common.lua")
local counter = 0
local seed_types = {"DOWNLOAD_STARTED", "DOWNLOAD_PROGRESS", "DOWNLOAD_COMPLETED", "APPLY_STARTED", "APPLY_SUCCESS",
                    "APPLY_FAILURE"}

request = function()
  counter = counter + 1
  local body = string.format([[{"org_id":"mobile","app_id":"app%d","device_id":"device-%d","session_id":"session-%d",]] ..
    [["event_type":"%s","release_id":"release-%s-%d","current_js_version":"1.4.0","target_js_version":"1.5.0",]] ..
    [["rollout_percentage":25,"os_version":"14","app_version":"5.2.0","device_type":"Android",]] ..
    [["network_type":"wifi","download_size_bytes":4200000,"download_time_ms":3200,"apply_time_ms":410,]] ..
    [["payload":{"sdk":"ota-stream-rn/0.1.0","locale":"en-US","model":"Pixel 8","manufacturer":"Google"}}]],
    counter % 30, (counter * 7919) % 27000, counter % 1000, seed_types[(counter % 6) + 1], run, counter)
  return wrk.format("POST", "/analytics/events", headers, body)
end
