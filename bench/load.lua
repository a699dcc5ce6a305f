-- One route of bench/load.py's mixed traffic, for one `wrk` process. bench/load.py fills in the
-- placeholders (string.Template's) and turns on `delay()` (paced runs, and the generate route's end of
-- sending) only where it is wanted: once it exists wrk calls it before every request.
--
-- wrk's own histogram gives the latency percentiles (timed from when a request is written); the hooks
-- here count statuses (every non-2xx is an error), what each thread sent and had answered, and in a
-- paced run how late the sends were against their schedule. done() writes it all as JSON to a file.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } mosaic_timespec;
int clock_gettime(int clk_id, mosaic_timespec *tp);
]]
local clock = ffi.new("mosaic_timespec")
local CLOCK_MONOTONIC = 1

-- Lua's own clocks are CPU time or whole seconds; pacing needs wall time in milliseconds
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local ROUTE = "${route}"
local ACCOUNTS_FILE = "${accounts_file}"
local BODY_FILE = "${body_file}"
local BOUNDARY = "${boundary}"
local RESULT_FILE = "${result_file}"
local SEND_FOR_MS = ${send_for_ms} -- 0: until wrk stops; else no new request after this long
local INTERVAL_MS = ${interval_ms} -- between two sends of one thread; 0: as fast as answered
local PAUSE_FOREVER_MS = 3600 * 1000

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

function init(args)
  local accounts = {}
  for line in io.lines(ACCOUNTS_FILE) do -- "API-key JWT" per line
    local key, jwt = line:match("^(%S+) (%S+)$$")
    table.insert(accounts, { key = key, jwt = jwt })
  end
  prepared = {}
  if ROUTE == "generate" then
    -- one account per thread, so each account's 200s are exactly what it was charged
    local account = accounts[id]
    local headers = {
      ["Authorization"] = "Bearer " .. account.key,
      ["Content-Type"] = "multipart/form-data; boundary=" .. BOUNDARY,
    }
    prepared[1] = wrk.format("POST", "/api/generate", headers, read_file(BODY_FILE))
  else
    for _, account in ipairs(accounts) do
      local path, credential = "/api/credits/balance", account.key
      if ROUTE == "keys" then
        path, credential = "/api/keys", account.jwt
      end
      table.insert(prepared, wrk.format("GET", path, { ["Authorization"] = "Bearer " .. credential }))
    end
  end
  turn = id % #prepared -- threads start on different accounts
  sent, answered, ok, not_ok, statuses = 0, 0, 0, 0, {}
  if id == 1 then
    sent = -1 -- wrk calls request() once more in its first thread's state, to check what it returns
  end
  late_1ms, late_10ms, max_late_ms = 0, 0, 0
  started_ms = now_ms()
  next_due_ms = nil
  drained = false
end

function request()
  if prepared == nil then
    return wrk.format() -- wrk calls this once in its main state, where init() never ran, to check it
  end
  turn = turn % #prepared + 1
  sent = sent + 1
  return prepared[turn]
end

function response(status, headers, body)
  answered = answered + 1
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    not_ok = not_ok + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

-- A paced thread's k-th send is due at its start + k intervals, whichever connection is free: an open
-- loop while a connection is free at each due time; a send that finds its time passed (every connection
-- busy) goes at once and is counted late, which bounds what the latencies (timed from the write) omit.
local function paced_delay()
  local now = now_ms()
  if SEND_FOR_MS > 0 and now - started_ms >= SEND_FOR_MS then
    -- delay() runs when a connection's answer is complete: with one connection per thread (the
    -- generate route) this thread has nothing in flight now. Say so, for bench/load.py to stop wrk
    -- before the server closes the idle connection (5 s; wrk would count that as a read error).
    if not drained then
      drained = true
      assert(io.open(RESULT_FILE .. ".drained-" .. id, "w")):close()
    end
    return PAUSE_FOREVER_MS -- send nothing more
  end
  if INTERVAL_MS == 0 then
    return 0
  end
  if next_due_ms == nil then
    next_due_ms = now
  end
  local wait = next_due_ms - now
  next_due_ms = next_due_ms + INTERVAL_MS
  if wait < -1 then -- wrk's timers have 1 ms steps
    late_1ms = late_1ms + 1
    if wait < -10 then
      late_10ms = late_10ms + 1
    end
    max_late_ms = math.max(max_late_ms, -wait)
  end
  return math.max(0, wait) -- wrk waits whole milliseconds (it truncates)
end

${delay_function}

local function json_counts(counts)
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local total = { sent = 0, answered = 0, ok = 0, not_ok = 0, late_1ms = 0, late_10ms = 0 }
  local max_late, statuses_all, per_thread = 0, {}, {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do
      total[name] = total[name] + thread:get(name)
    end
    max_late = math.max(max_late, thread:get("max_late_ms"))
    for status, n in pairs(thread:get("statuses")) do
      statuses_all[status] = (statuses_all[status] or 0) + n
    end
    table.insert(per_thread, string.format('{"id": %d, "ok": %d, "sent": %d, "answered": %d}',
      thread:get("id"), thread:get("ok"), thread:get("sent"), thread:get("answered")))
  end
  local e = summary.errors
  local out = assert(io.open(RESULT_FILE, "w"))
  out:write(string.format(
    '{"route": "%s", "duration_us": %d, "requests": %d, "sent": %d, "answered": %d, "ok": %d, "not_ok": %d, '
    .. '"statuses": %s, "socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, '
    .. '"late_1ms": %d, "late_10ms": %d, "max_late_ms": %.1f, "threads": [%s]}\n',
    ROUTE, summary.duration, summary.requests, total.sent, total.answered, total.ok, total.not_ok,
    json_counts(statuses_all), e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
    total.late_1ms, total.late_10ms, max_late, table.concat(per_thread, ", ")))
  out:close()
end
