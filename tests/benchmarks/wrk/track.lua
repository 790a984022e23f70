-- Single events: POST /v1/track, one Segment track call per request, each its own messageId.
--   wrk ... -s track.lua http://127.0.0.1:PORT -- BASIC_CREDENTIALS RUN
-- BASIC_CREDENTIALS: base64 of "<write key>:" (HTTP Basic, empty password).
-- RUN: a tag that makes messageIds unique across wrk runs (<RUN>-<thread>-<counter>).

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

local counter = 0
local run = "run"

local template = '{"userId":"u-%d","event":"Product Viewed",'
    .. '"properties":{"product_id":"SKU-1","price":10.5},'
    .. '"messageId":"%s-%d-%d","timestamp":"2026-11-26T10:00:00.000Z"}'

function init(args)
    run = args[2] or run
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Basic " .. args[1]
end

function request()
    counter = counter + 1
    local body = string.format(template, counter % 10000, run, id or 0, counter)
    return wrk.format(nil, "/v1/track", nil, body)
end
