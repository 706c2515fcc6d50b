-- A worker process's heartbeat, and the messages of worker processes that stopped beating
-- put back on their queues: crmsync's own timer for what Dramatiq's broker does only by chance
-- ("maintenance", with a chance per command), so that a killed worker's messages come back
-- within seconds on the defaults.
--
-- KEYS[1] <ns>:__heartbeats__ (sorted set: broker id -> last heartbeat, ms)
-- ARGV[1] the namespace, ARGV[2] now (ms), ARGV[3] the heartbeat timeout (ms),
-- ARGV[4] this process's broker id, ARGV[5..] every queue name (each queue and its .DQ)
--
-- For each silent broker and each queue, the ids in <ns>:__acks__.<broker>.<queue> whose
-- message is still stored (<ns>:<queue>.msgs) are pushed back on <ns>:<queue> and the set is
-- deleted: what Dramatiq's dispatch.lua maintenance does, without its KEYS over the whole
-- database (the queue names are known here). The silent broker stays in the heartbeats for
-- Dramatiq's own maintenance to remove, so a queue this list does not name is not stranded.
-- Returns how many messages were put back.
local heartbeats = KEYS[1]
local namespace = ARGV[1]
local now = tonumber(ARGV[2])
local timeout = tonumber(ARGV[3])
redis.call("zadd", heartbeats, now, ARGV[4])
local silent = redis.call("zrangebyscore", heartbeats, 0, now - timeout)
local requeued = 0
for _, broker in ipairs(silent) do
    for i = 5, #ARGV do
        local queue = namespace .. ":" .. ARGV[i]
        local acks = namespace .. ":__acks__." .. broker .. "." .. ARGV[i]
        local ids = redis.call("smembers", acks)
        if next(ids) then
            for _, id in ipairs(ids) do
                if redis.call("hexists", queue .. ".msgs", id) == 1 then
                    redis.call("rpush", queue, id)
                    requeued = requeued + 1
                end
            end
            redis.call("del", acks)
        end
    end
end
return requeued
