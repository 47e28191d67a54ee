-- A channel's presence: add or refresh clients, remove them, read a page, or count them.
--
-- KEYS[1]  sorted set: client id -> expiry time (ms, Redis clock)
-- KEYS[2]  hash: client id -> "<user>\t<entry JSON>"
-- KEYS[3]  hash: user -> number of its clients present (HLEN = distinct users; anonymous clients,
--          user "", are not counted as a user)
-- KEYS[4]  hash: client id -> 1, for the clients that expired (and were reported, so that the caller
--          announced their leaves), until they come back or leave; kept an hour after the last one
-- ARGV[1]  operation: add | remove | page | stats
--   add     ARGV[2] ttl (ms), then triples: client, user, entry JSON; returns two lists: the entry
--           JSON of each expired client it removed first (their node stopped refreshing them: they
--           left), and the given clients that had expired and are back (their node was cut off)
--   remove  clients; returns those that had expired (their leave was announced already)
--   page    ARGV[2] cursor ("0" for the first page), ARGV[3] count; returns the HSCAN reply's cursor and
--           fields, then the expired entries removed
--   stats   -; returns clients, users, then the expired entries removed
-- Expired clients (their node stopped refreshing them) are removed, up to 1000 per call, before
-- every add, page and stats, and returned, so that the caller announces their leaves.
local now_parts = redis.call('time')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)

-- Removes a client; returns its entry JSON, or nil when it was not there.
local function remove(client)
  if redis.call('zrem', KEYS[1], client) == 0 then return nil end
  local value = redis.call('hget', KEYS[2], client)
  redis.call('hdel', KEYS[2], client)
  if not value then return nil end
  -- The entry is JSON, which never holds a raw tab: the user is everything before the last one.
  local user, entry = string.match(value, '^(.*)\t(.*)$')
  if user ~= '' and redis.call('hincrby', KEYS[3], user, -1) <= 0 then redis.call('hdel', KEYS[3], user) end
  return entry
end

-- How long the marks of expired clients are kept (ms): a node cut off for longer, that comes back
-- with the same clients, does not announce them joining again.
local DEPARTED_TTL = 3600000

-- Removes expired clients and marks them departed; returns their entries' JSON.
local function prune()
  local removed = {}
  local expired = redis.call('zrangebyscore', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
  for _, client in ipairs(expired) do
    local entry = remove(client)
    if entry then
      removed[#removed + 1] = entry
      redis.call('hset', KEYS[4], client, 1)
    end
  end
  if #removed > 0 then redis.call('pexpire', KEYS[4], DEPARTED_TTL) end
  return removed
end

local op = ARGV[1]
if op == 'add' then
  local removed = prune()
  local back = {}
  local ttl = tonumber(ARGV[2])
  local expiry = now + ttl
  for i = 3, #ARGV, 3 do
    local client, user = ARGV[i], ARGV[i + 1]
    if redis.call('zadd', KEYS[1], expiry, client) == 1 then
      if user ~= '' then redis.call('hincrby', KEYS[3], user, 1) end
      if redis.call('hdel', KEYS[4], client) == 1 then back[#back + 1] = client end
    end
    redis.call('hset', KEYS[2], client, user .. '\t' .. ARGV[i + 2])
  end
  for i = 1, 3 do redis.call('pexpire', KEYS[i], ttl) end
  return { removed, back }
elseif op == 'remove' then
  local announced = {}
  for i = 2, #ARGV do
    if not remove(ARGV[i]) and redis.call('hdel', KEYS[4], ARGV[i]) == 1 then
      announced[#announced + 1] = ARGV[i]
    end
  end
  return announced
elseif op == 'page' then
  local removed = prune()
  local scan = redis.call('hscan', KEYS[2], ARGV[2], 'COUNT', ARGV[3])
  return { scan[1], scan[2], removed }
else
  local removed = prune()
  return { redis.call('zcard', KEYS[1]), redis.call('hlen', KEYS[3]), removed }
end
