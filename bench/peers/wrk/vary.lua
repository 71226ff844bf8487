-- Cross-check for the Go load generator: wrk sends the same requests,
-- varied the same way per request index (bench/vary.go), so no proxy can
-- serve a cached answer. Run by the harness as
--   BENCH_COOKIES=$'a=1; b=2\nc=3' wrk -t T -c N -d D -s vary.lua URL
-- BENCH_COOKIES holds the cookies captured from the target's earlier
-- responses (the visitor and seen-filter cookies), one jar per line.

local countries = {"FR", "DE", "US", "GB", "ES", "IT", "JP", "BR"}
local segments = {"club", "returning", "new"}
local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
}

local threads = 0

-- setup runs once per thread in the main interpreter: number the threads
-- so that each sends a disjoint share of the request indexes.
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local jars = {}
local index, step

function init(args)
  step = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  index = thread_id or 0
  for jar in string.gmatch(os.getenv("BENCH_COOKIES") or "", "[^\n]+") do
    jars[#jars + 1] = jar
  end
end

function request()
  local i = index
  index = index + step
  local cookie = "seg=" .. segments[i % #segments + 1] .. "; uid=u" .. i .. "; _ga=GA1.2." .. i .. ".1700000000"
  if #jars > 0 then
    cookie = cookie .. "; " .. jars[i % #jars + 1]
  end
  return wrk.format("GET", nil, {
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Accept-Language"] = "en-US,en;q=0.9",
    ["Cookie"] = cookie,
    ["CF-IPCountry"] = countries[i % #countries + 1],
    ["User-Agent"] = agents[i % #agents + 1],
  })
end
