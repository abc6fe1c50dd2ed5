-- What both wrk scripts share: a thread id, a run id that makes event ids unique across runs, the time stamp of
-- the run, and the RESULT line that bench/ingest_peers.py reads. Loaded with dofile from the repository's root.
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

-- The ingest key to send, if the server wants one (bench/ingest_peers.py sets OTA_KEY).
local key = os.getenv("OTA_KEY")
headers = {["Content-Type"] = "application/json"}
if key and #key > 0 then
  headers["Authorization"] = "Bearer " .. key
end

types = {"update_started", "update_downloading", "update_downloaded", "update_installing",
         "update_installed", "update_failed"}

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
