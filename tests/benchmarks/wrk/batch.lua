-- Batches: POST /v1/batch, 100 Segment track calls per request, each its own messageId.
--   wrk ... -s batch.lua http://127.0.0.1:PORT -- BASIC_CREDENTIALS RUN [SIZE]
-- BASIC_CREDENTIALS: base64 of "<write key>:" (HTTP Basic, empty password).
-- RUN: a tag that makes messageIds unique across wrk runs (<RUN>-<thread>-<counter>).
-- SIZE: events per request (default 100).

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

local counter = 0
local run = "run"
local size = 100

local template = '{"type":"track","userId":"u-%d","event":"Product Viewed",'
    .. '"properties":{"product_id":"SKU-1","price":10.5},'
    .. '"messageId":"%s-%d-%d","timestamp":"2026-11-26T10:00:00.000Z"}'

function init(args)
    run = args[2] or run
    size = tonumber(args[3] or size)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Basic " .. args[1]
end

function request()
    local events = {}
    for i = 1, size do
        counter = counter + 1
        events[i] = string.format(template, counter % 10000, run, id or 0, counter)
    end
    local body = '{"batch":[' .. table.concat(events, ",")
        .. '],"sentAt":"2026-11-26T10:00:00.000Z"}'
    return wrk.format(nil, "/v1/batch", nil, body)
end
