-- wrk request mix for httpmix (tests/bench/inspect.sh): a browser-like
-- cycle of page, stylesheet, script, JSON pages with query strings, images,
-- a download, a form login, an upload, a redirect and a 404, with a
-- browser's headers, over keep-alive connections. done() prints one line
-- the script parses:
--   WRKMIX requests/s bytes/s p50_us p99_us non2xx3xx socket_errors
local ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

local function get(path, accept)
  return { "GET", path, accept or "*/*", nil, nil }
end

local upload = string.rep("line of an uploaded report with some words in it\n", 340)

local mix = {
  get("/", "text/html,application/xhtml+xml"),
  get("/static/style.css", "text/css"),
  get("/static/app.js"),
  get("/api/items?page=1", "application/json"),
  get("/img/photo.jpg", "image/avif,image/webp,*/*"),
  get("/api/items?page=2&sort=price", "application/json"),
  { "POST", "/api/login", "application/json", "application/x-www-form-urlencoded",
    "user=alice&password=correct+horse+battery&remember=on" },
  get("/account", "text/html"),
  get("/api/items?page=3&q=network+server", "application/json"),
  get("/download/report.pdf", "application/pdf"),
  get("/api/items?page=5", "application/json"),
  { "POST", "/api/upload", "application/json", "text/plain", upload },
  get("/favicon.ico", "image/*"),
  get("/api/items?page=9&q=release", "application/json"),
  get("/", "text/html,application/xhtml+xml"),
  get("/img/photo.jpg", "image/avif,image/webp,*/*"),
}

local reqs = {}
local i = 0

function init(args)
  for n, m in ipairs(mix) do
    local h = {
      ["Host"] = "shop.example",
      ["User-Agent"] = ua,
      ["Accept"] = m[3],
      ["Accept-Language"] = "en-US,en;q=0.5",
      -- Text comes back gzip-encoded, as from real sites; the appliance
      -- decodes it to inspect it.
      ["Accept-Encoding"] = "gzip, deflate",
      ["Cookie"] = "session=s4711; theme=dark",
      ["Referer"] = "http://shop.example/",
    }
    if m[4] then h["Content-Type"] = m[4] end
    reqs[n] = wrk.format(m[1], m[2], h, m[5])
  end
  -- Threads start at different places in the cycle.
  i = math.random(#reqs) - 1
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("WRKMIX %.1f %.0f %d %d %d %d\n",
    summary.requests / secs, summary.bytes / secs,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
