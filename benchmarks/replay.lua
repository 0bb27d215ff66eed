-- wrk script: POST pre-signed WhatsApp deliveries, each request a distinct message id.
-- Usage: wrk -s replay.lua URL -- <payload file> ; the file has one "signature<TAB>body" a line.
-- Each thread takes every n-th line (n = thread count), so no two requests repeat an id.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2])
  lines = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      local tab = string.find(line, "\t", 1, true)
      table.insert(lines, { string.sub(line, 1, tab - 1), string.sub(line, tab + 1) })
    end
    i = i + 1
  end
  cursor = 0
  wrapped = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  cursor = cursor + 1
  if cursor > #lines then
    cursor = 1
    wrapped = wrapped + 1
  end
  local item = lines[cursor]
  wrk.headers["X-Hub-Signature-256"] = item[1]
  return wrk.format(nil, nil, nil, item[2])
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non_2xx": %d, ' ..
    '"socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    non2xx, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
