-- Publishes several publications to one channel atomically and in order, in one round trip: what
-- publish.lua does for one, with the per-call work done once. Idempotency keys are checked first, so
-- the offset grows by the number of new publications in one HINCRBY; each new publication is one
-- XADD (the stream is trimmed once at the end: the same history, one trim instead of one per entry);
-- expiries are refreshed once; and one PUBLISH (or SPUBLISH) carries every new publication, their
-- payloads joined by "\n" (payloads never contain one, see payload.ts). All keys share the channel's
-- hash tag.
--
-- KEYS[1]   history stream
-- KEYS[2]   meta hash (e = epoch, o = last offset)
-- KEYS[3..] the idempotency keys of the items that have one, in item order (declared, so that Cluster
--           routing sees them; they share the channel's slot)
-- ARGV[1]   pub/sub channel
-- ARGV[2]   history size (0 = no history: publish only, no positions)
-- ARGV[3]   history lifetime, ms
-- ARGV[4]   meta lifetime, ms
-- ARGV[5]   epoch to use if the channel has none yet
-- ARGV[6]   idempotency window, ms
-- ARGV[7]   "1" to publish with SPUBLISH (Redis Cluster), "0" for PUBLISH
-- ARGV[8]   one character per item: "1" when it has an idempotency key (the next of KEYS[3..]), else "0"
-- ARGV[9..] the items' publication tails, "<time>\t<info JSON or empty>\t<data JSON>", in item order
-- Returns {epoch, r1, ..., rN}: ri is item i's offset (an integer) when this call published it in
-- `epoch`, or, when the item repeats an idempotency key (used before, or earlier in this batch), the
-- first publish's result "<offset>:<epoch>" (a string). Offsets are 0 and epochs "" without history.

local size = tonumber(ARGV[2])
local flags = ARGV[8]
local count = #flags

-- First pass: which items are new. state[i] is true (new), the earlier result (a string), or the index
-- of the item of this batch that used the same key first.
local state = {}
local key_of = {}
local first_use = {}
local fresh = 0
local next_key = 2
for i = 1, count do
  if string.byte(flags, i) == 49 then
    next_key = next_key + 1
    local key = KEYS[next_key]
    local first = first_use[key]
    if first then
      state[i] = first
    else
      local earlier = redis.call('get', key)
      if earlier then
        state[i] = earlier
      else
        state[i] = true
        key_of[i] = key
        first_use[key] = i
        fresh = fresh + 1
      end
    end
  else
    state[i] = true
    fresh = fresh + 1
  end
end

local epoch = ''
local offset = 0
if fresh > 0 and size > 0 then
  epoch = redis.call('hget', KEYS[2], 'e')
  if not epoch then
    -- A new life of the channel: whatever stream is left belongs to a lost epoch.
    epoch = ARGV[5]
    redis.call('del', KEYS[1])
    redis.call('hset', KEYS[2], 'e', epoch)
  end
  offset = redis.call('hincrby', KEYS[2], 'o', fresh) - fresh
  redis.call('pexpire', KEYS[2], ARGV[4])
end

-- Second pass: store and record the new publications, answer every item.
local reply = {epoch}
local payloads = {}
local window = ARGV[6]
for i = 1, count do
  local s = state[i]
  if s == true then
    if size > 0 then
      offset = offset + 1
    end
    local payload = offset .. '\t' .. epoch .. '\t' .. ARGV[8 + i]
    if size > 0 then
      redis.call('xadd', KEYS[1], offset .. '-0', 'p', payload)
    end
    payloads[#payloads + 1] = payload
    reply[i + 1] = offset
    local key = key_of[i]
    if key then
      redis.call('set', key, offset .. ':' .. epoch, 'PX', window)
    end
  elseif type(s) == 'number' then
    reply[i + 1] = reply[s + 1] .. ':' .. epoch
  else
    reply[i + 1] = s
  end
end

if fresh > 0 then
  if size > 0 then
    redis.call('xtrim', KEYS[1], 'MAXLEN', size)
    redis.call('pexpire', KEYS[1], ARGV[3])
  end
  redis.call(ARGV[7] == '1' and 'spublish' or 'publish', ARGV[1], table.concat(payloads, '\n'))
end
return reply
