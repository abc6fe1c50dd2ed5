-- POST /events/batch with 1,000 realistic events per request (a JSON array), unique event ids throughout.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + id)
  stamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
  run = string.format("%08x-%d", math.random(0, 0x7fffffff), id)
end

local types = {"update_started", "update_downloading", "update_downloaded", "update_installing",
               "update_installed", "update_failed"}
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
      [[{"event_id":"wrkb-%s-%d-%d","tenant_id":"tenant%d","org_id":"mobile","app_id":"app%d","device_id":"device-%d",]] ..
      [["event_type":"%s","timestamp":"%s",]], run, counter, i, app % 5, app, (counter * 1000 + i) % 27000,
      types[(i % 6) + 1], stamp) .. tail
  end
  return wrk.format("POST", "/events/batch", {["Content-Type"] = "application/json"},
    "[" .. table.concat(parts, ",") .. "]")
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
