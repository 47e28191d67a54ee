-- Ends a channel's history if its epoch is still the one the caller saw, so that the next publication
-- starts a new epoch. Used when the history can no longer be trusted (a failover lost acknowledged
-- writes and offsets are being handed out again). Guarded by the epoch, so when several nodes notice
-- the same problem only the first one ends the epoch.
--
-- KEYS[1]  history stream
-- KEYS[2]  meta hash (e = epoch, o = last offset)
-- ARGV[1]  the epoch to end
-- Returns 1 when the epoch was ended, 0 when the channel had moved on already.

if redis.call('hget', KEYS[2], 'e') ~= ARGV[1] then
  return 0
end
redis.call('del', KEYS[1], KEYS[2])
return 1
