-- The open pixel: GET /o/<token>, each thread cycling through the signed tokens of a file.
--   wrk ... -s pixel.lua http://127.0.0.1:PORT -- TOKENS_FILE
-- TOKENS_FILE: one token a line (tests/benchmarks/bench_tracking.py writes 1,000).

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

local requests = {}
local index = 0

function init(args)
    for line in io.lines(args[1]) do
        if #line > 0 then
            requests[#requests + 1] = wrk.format("GET", "/o/" .. line)
        end
    end
    if #requests == 0 then
        error("no tokens in " .. args[1])
    end
    -- Threads start at different places in the list.
    index = ((id or 1) * 389) % #requests
end

function request()
    index = index % #requests + 1
    return requests[index]
end
