-- Removes a channel's history but keeps its epoch and offset, like the memory engine.
--
-- KEYS[1]  history stream
return redis.call('del', KEYS[1])
