-- Move one dead letter back onto its queue, atomically, with a fresh body.
--
-- KEYS[1] <ns>:<queue>.XQ (sorted set of dead ids)   KEYS[2] <ns>:<queue>.XQ.msgs (their bodies)
-- KEYS[3] <ns>:<queue> (list of ready ids)           KEYS[4] <ns>:<queue>.msgs (their bodies)
-- ARGV[1] the dead letter's Redis id, ARGV[2] the new Redis id, ARGV[3] the new encoded message
--
-- The enqueue half writes what Dramatiq's RedisBroker "enqueue" command writes (dispatch.lua)
-- and enqueue.lua copies: HSET the body, then RPUSH the id. It happens only if the letter was
-- still dead (ZREM removed it), so a replay racing another replay or a purge moves it once.
-- Returns 1 when moved, 0 when the letter was gone.
if redis.call("zrem", KEYS[1], ARGV[1]) == 0 then
    return 0
end
redis.call("hdel", KEYS[2], ARGV[1])
redis.call("hset", KEYS[4], ARGV[2], ARGV[3])
redis.call("rpush", KEYS[3], ARGV[2])
return 1
