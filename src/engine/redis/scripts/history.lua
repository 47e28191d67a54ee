-- Reads a channel's position and a window of its history atomically, creating the epoch when the
-- channel has none, so that a reader and a later publisher agree on it.
--
-- KEYS[1]  history stream
-- KEYS[2]  meta hash (e = epoch, o = last offset)
-- ARGV[1]  epoch to use if the channel has none yet
-- ARGV[2]  meta lifetime, ms
-- ARGV[3]  only publications after this offset ("" = from the oldest, or the newest when reversed)
-- ARGV[4]  at most this many publications (0 = position only)
-- ARGV[5]  "1" newest first, "0" oldest first
-- Returns {offset, epoch, entries} where entries is XRANGE's reply ({id, {"p", payload}} pairs).

local epoch = redis.call('hget', KEYS[2], 'e')
local offset = 0
if not epoch then
  epoch = ARGV[1]
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'e', epoch, 'o', 0)
else
  offset = tonumber(redis.call('hget', KEYS[2], 'o') or '0')
end
redis.call('pexpire', KEYS[2], ARGV[2])

local limit = tonumber(ARGV[4])
if limit == 0 then
  return {offset, epoch, {}}
end
local from = '-'
if ARGV[3] ~= '' then
  from = '(' .. ARGV[3] .. '-0'
end
local entries
if ARGV[5] == '1' then
  entries = redis.call('xrevrange', KEYS[1], '+', from, 'COUNT', limit)
else
  entries = redis.call('xrange', KEYS[1], from, '+', 'COUNT', limit)
end
return {offset, epoch, entries}
