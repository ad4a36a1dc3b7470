-- wrk script: every request appends one new signal (a code unique to the run, the
-- wrk thread and the request), as one JSON event, with the token from $TOKEN.
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  run = os.getenv("RUN") or "0"
  token = os.getenv("TOKEN")
end

function request()
  counter = counter + 1
  local code = run .. "-" .. tid .. "-" .. counter
  local body = '{"type":"signal_received","occurred_on":"2021-03-01","data":{"signal":"S-' .. code ..
    '","family":"F-' .. code .. '","channel":"phone"}}'
  return wrk.format("POST", "/v1/events",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
