"""Lua scripts that make ingest and commit atomic, each touching one shard's slot.

``INGEST``: for each event, ``SADD`` its id digest to its session's dedup set; the events
whose digest was new go to the shard stream as one entry (NDJSON). Dedup and append are
one atomic step, so a retry after a lost ``202`` finds its events already there.

``COMMIT``: refuses unless the caller still holds the shard's lease and the batch is
newer than what was applied; then writes session blobs, the applied stream id, the
applied-event counter and dead letters together, and acks the batch's entries last.
Acking inside the script means an entry is never acked without its effect stored.

``BIND_OWNERS``: for each (id, org) pair, bind the id to the org unless it is bound, and
return every id's owner: one call per kind of id (one hash, one slot) per request.

``TAKE_TOKEN``: a token bucket per API key, refilled at ``rate`` per second up to ``burst``,
on the server's clock (every API process shares it); returns 0 when a token was taken, else
the milliseconds until one will be there.
"""

INGEST = """
local n = tonumber(ARGV[1])
local payloads = {}
local fresh = {}
for i = 0, n - 1 do
  local key = KEYS[tonumber(ARGV[2 + i * 3])]
  if redis.call('SADD', key, ARGV[3 + i * 3]) == 1 then
    payloads[#payloads + 1] = ARGV[4 + i * 3]
    fresh[i + 1] = 1
  else
    fresh[i + 1] = 0
  end
end
if #payloads > 0 then
  redis.call('XADD', KEYS[1], '*', 'n', #payloads, 'e', table.concat(payloads, '\\n'))
  redis.call('HINCRBY', KEYS[2], 'accepted', #payloads)
end
return fresh
"""

COMMIT = """
local function newer(a, b)
  if not b then return true end
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'lease_lost'
end
local applied = redis.call('GET', KEYS[2])
if not newer(ARGV[2], applied) then
  return 'stale'
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'applied', tonumber(ARGV[3]))
local n_dead = tonumber(ARGV[4])
local at = 5
for i = 1, n_dead do
  redis.call('XADD', KEYS[4], '*', 'source_id', ARGV[at], 'error', ARGV[at + 1], 'e', ARGV[at + 2])
  at = at + 3
end
redis.call('HINCRBY', KEYS[3], 'dead', n_dead)
for i = 6, #KEYS do
  redis.call('SET', KEYS[i], ARGV[at])
  at = at + 1
end
local n_ack = tonumber(ARGV[at])
for i = 1, n_ack do
  redis.call('XACK', KEYS[5], ARGV[at + 1], ARGV[at + 1 + i])
end
return 'ok'
"""

RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

BIND_OWNERS = """
local owners = {}
for i = 1, #ARGV, 2 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  owners[#owners + 1] = redis.call('HGET', KEYS[1], ARGV[i])
end
return owners
"""

TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait_ms
"""
