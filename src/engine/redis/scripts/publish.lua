-- Publishes one publication atomically: idempotency check, epoch, next offset, history append,
-- expiry refresh and pub/sub publish, in one round trip. All keys share the channel's hash tag.
--
-- KEYS[1]  history stream
-- KEYS[2]  meta hash (e = epoch, o = last offset)
-- KEYS[3]  idempotency key (always named, so that every key shares the channel's slot)
-- ARGV[1]  pub/sub channel
-- ARGV[2]  publication tail: "<time>\t<info JSON or empty>\t<data JSON>"
-- ARGV[3]  history size (0 = no history: publish only, no position)
-- ARGV[4]  history lifetime, ms
-- ARGV[5]  meta lifetime, ms
-- ARGV[6]  epoch to use if the channel has none yet
-- ARGV[7]  idempotency window, ms
-- ARGV[8]  "1" to publish with SPUBLISH (Redis Cluster), "0" for PUBLISH
-- ARGV[9]  "1" when the publish has an idempotency key, "0" otherwise
-- Returns {offset, epoch, duplicate (0 or 1)}; offset 0 and epoch "" where there is no history.

local publish_command = ARGV[8] == '1' and 'spublish' or 'publish'

if ARGV[9] == '1' then
  local earlier = redis.call('get', KEYS[3])
  if earlier then
    local sep = string.find(earlier, ':', 1, true)
    return {tonumber(string.sub(earlier, 1, sep - 1)), string.sub(earlier, sep + 1), 1}
  end
end

local size = tonumber(ARGV[3])
local offset = 0
local epoch = ''
if size > 0 then
  epoch = redis.call('hget', KEYS[2], 'e')
  if not epoch then
    -- A new life of the channel: whatever stream is left belongs to a lost epoch.
    epoch = ARGV[6]
    redis.call('del', KEYS[1])
    redis.call('hset', KEYS[2], 'e', epoch)
  end
  offset = redis.call('hincrby', KEYS[2], 'o', 1)
  redis.call('pexpire', KEYS[2], ARGV[5])
end

local payload = offset .. '\t' .. epoch .. '\t' .. ARGV[2]
if size > 0 then
  redis.call('xadd', KEYS[1], 'MAXLEN', size, offset .. '-0', 'p', payload)
  redis.call('pexpire', KEYS[1], ARGV[4])
end
redis.call(publish_command, ARGV[1], payload)

if ARGV[9] == '1' then
  redis.call('set', KEYS[3], offset .. ':' .. epoch, 'PX', ARGV[7])
end
return {offset, epoch, 0}
