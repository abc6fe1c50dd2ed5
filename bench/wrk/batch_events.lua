-- POST /events/batch with 1,000 realistic events per request (a JSON array), unique event ids throughout.
-- Run from the repository's root.
dofile("bench/wrk/common.lua")
local counter = 0
local tail = [["device_info":{"os":"Android","os_version":"14","model":"Pixel 8","manufacturer":"Google"},]] ..
  [["release_info":{"current_version":"1.4.0","target_version":"1.5.0","channel":"production","rollout_percentage":25},]] ..
  [["network_info":{"connection_type":"wifi","bandwidth_mbps":48.5},]] ..
  [["performance_metrics":{"download_speed_mbps":12.75,"package_size_bytes":4200000,"battery_level":77}}]]

request = function()
  counter = counter + 1
  local app = counter % 30
  local parts = {}
  for i = 1, 1000 do
    parts[i] = string.format(
      [[{"event_id":"wrkb-%s-%d-%d","tenant_id":"bench","org_id":"mobile","app_id":"app%d","device_id":"device-%d",]] ..
      [["event_type":"%s","timestamp":"%s",]], run, counter, i, app, (counter * 1000 + i) % 27000,
      types[(i % 6) + 1], stamp) .. tail
  end
  return wrk.format("POST", "/events/batch", headers,
    "[" .. table.concat(parts, ",") .. "]")
end
