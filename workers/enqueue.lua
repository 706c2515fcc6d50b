-- Deduplicate and enqueue notifications atomically, several in one round trip.
--
-- For each notification i (0-based):
--   KEYS[3i+1] dedupe key, KEYS[3i+2] Dramatiq queue list, KEYS[3i+3] Dramatiq queue hash
--   ARGV[2i+2] Redis message id, ARGV[2i+3] encoded Dramatiq message
-- ARGV[1] is the dedupe TTL in seconds.
--
-- A notification is queued only if its dedupe key was not already set, and the key is set
-- only together with the enqueue: there is no moment where a retry would be answered as a
-- duplicate while its first delivery was never queued. The enqueue writes exactly what
-- Dramatiq's RedisBroker "enqueue" command writes (dispatch.lua): HSET then RPUSH.
-- Returns a list with 1 for each queued notification and 0 for each duplicate.
local ttl = ARGV[1]
local results = {}
for i = 0, (#KEYS / 3) - 1 do
    local dedupe_key = KEYS[3 * i + 1]
    local queue_key = KEYS[3 * i + 2]
    local messages_key = KEYS[3 * i + 3]
    local message_id = ARGV[2 * i + 2]
    local message_data = ARGV[2 * i + 3]
    if redis.call("set", dedupe_key, message_id, "NX", "EX", ttl) then
        redis.call("hset", messages_key, message_id, message_data)
        redis.call("rpush", queue_key, message_id)
        results[i + 1] = 1
    else
        results[i + 1] = 0
    end
end
return results
