"""Lua scripts that make ingest and commit atomic, each touching one shard's slot.

``INGEST``: for each event, ``SADD`` its id digest to its session's dedup set; the events
whose digest was new go to the shard stream as one entry (NDJSON). Dedup and append are
one atomic step, so a retry after a lost ``202`` finds its events already there. A
compacted session has no dedup set but a seen mark (``seen_mark``), held in its cold
pointer, or, once the worker woke it, in its seen key: an event dated at or before the mark
is a duplicate, a later one starts a new dedup set (the session wakes). The pointer's head
is read first (``GETRANGE``), so a live session's record is never copied into the script.
A seen value written before marks is a Bloom filter of the ids and is still honoured.

``COMMIT``: refuses unless the caller still holds the shard's lease and the batch is
newer than what was applied; then writes session blobs, the applied stream id, the
applied-event counter and dead letters together, acks the batch's entries, and notes when
each session was last touched (what the compactor walks).
Acking inside the script means an entry is never acked without its effect stored.

``COMPACT``: for each session, unless it was touched or sent an event since the compactor
read it (its ``touched`` score and its dedup set's size still match), write its cold
pointer (which holds its seen mark), drop its dedup set, its seen key (a woken session's
copy of its older mark) and its ``touched`` entry; only while the caller holds the
shard's lease. Returns how many sessions were compacted.

``BIND_OWNERS``: for each (id, org) pair, bind the id to the org unless it is bound, and
return every id's owner: one call per kind of id (one hash, one slot) per request.

``TAKE_TOKEN``: a token bucket per API key, refilled at ``rate`` per second up to ``burst``,
on the server's clock (every API process shares it); takes up to ``wanted`` tokens and
returns how many it took and, when none, the milliseconds until one will be there.

``APPEND_ONCE``: append each entry to its field (a 5 s position bucket) of a replay-index
hash (``sessions.replay_entry``) unless the field holds it already: a redone batch adds
nothing. One key per call, so it stays in one slot on a cluster.

``REQUEUE_DEAD``: move dead letters back onto their shard's stream (after the cause was
fixed, e.g. a cold file restored): each entry's events go back as a new entry, the dead
letter is deleted, and the shard's counters no longer count them as dead or applied — all
in one step, so a letter is never both requeued and still dead.
"""

INGEST = """
local n = tonumber(ARGV[1])
local payloads = {}
local fresh = {}
local seen = {}
local function held(filter, digest)
  local text = string.gsub(digest, '-', '')
  local h1 = tonumber(string.sub(text, -9))
  local h2 = (tonumber(string.sub(text, -18, -10)) or 0) * 2 + 1
  local bits = (#filter - 4) * 8
  for i = 0, 4 do
    local pos = (h1 + i * h2) % bits
    local byte = string.byte(filter, 5 + math.floor(pos / 8))
    if bit.band(byte, bit.lshift(1, pos % 8)) == 0 then return false end
  end
  return true
end
for i = 0, n - 1 do
  local at = 2 + i * 4
  local index = tonumber(ARGV[at])
  local digest = ARGV[at + 1]
  local prior = seen[index]
  if prior == nil then
    local value = redis.call('GET', KEYS[index + 1])
    if not value then
      prior = false
      if redis.call('GETRANGE', KEYS[index + 2], 0, 0) == '\\193' then
        local pointer = cmsgpack.unpack(string.sub(redis.call('GET', KEYS[index + 2]), 2))
        if pointer[3] then prior = tonumber(pointer[3]) end
      end
    elseif string.byte(value, 1) == 109 then
      prior = tonumber(string.match(value, ':(%d+)$'))
    else
      prior = value
    end
    seen[index] = prior
  end
  local known = false
  if type(prior) == 'number' then
    known = tonumber(ARGV[at + 2]) <= prior
  elseif prior then
    known = held(prior, digest)
  end
  if known or redis.call('SADD', KEYS[index], digest) == 0 then
    fresh[i + 1] = 0
  else
    payloads[#payloads + 1] = ARGV[at + 3]
    fresh[i + 1] = 1
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
for i = 7, #KEYS do
  redis.call('SET', KEYS[i], ARGV[at])
  at = at + 1
end
local n_ack = tonumber(ARGV[at])
for i = 1, n_ack do
  redis.call('XACK', KEYS[5], ARGV[at + 1], ARGV[at + 1 + i])
end
at = at + 2 + n_ack
for i = at + 1, #ARGV do
  redis.call('ZADD', KEYS[6], ARGV[at], ARGV[i])
end
return 'ok'
"""

COMPACT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local done = 0
local at = 2
for i = 3, #KEYS, 3 do
  local session, touched, size = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  if redis.call('ZSCORE', KEYS[2], session) == touched and redis.call('SCARD', KEYS[i + 1]) == size then
    redis.call('SET', KEYS[i], ARGV[at + 3])
    redis.call('DEL', KEYS[i + 1], KEYS[i + 2])
    redis.call('ZREM', KEYS[2], session)
    done = done + 1
  end
  at = at + 4
end
return done
"""

# Move compacted sessions' summaries from a learner x course record's live part to its archive
# (``sessions.SessionIndex.archive_summaries``), under the shard's lease, and only where
# neither part changed since the compactor read them (else that pair is left as it was: its
# summaries stay live, which every reader merges the same).
# KEYS[1] the lease, then per pair its live part and its archive; ARGV[1] the owner, then per
# pair the parts as read ('' when absent) and as they become.
ARCHIVE_SUMMARIES = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local done = 0
local at = 2
for i = 2, #KEYS, 2 do
  if (redis.call('GET', KEYS[i]) or '') == ARGV[at] and (redis.call('GET', KEYS[i + 1]) or '') == ARGV[at + 1] then
    redis.call('SET', KEYS[i], ARGV[at + 2])
    redis.call('SET', KEYS[i + 1], ARGV[at + 3])
    done = done + 1
  end
  at = at + 4
end
return done
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
local wanted = tonumber(ARGV[3]) or 1
local granted = 0
local wait_ms = 0
if tokens >= 1 then
  granted = math.min(wanted, math.floor(tokens))
  tokens = tokens - granted
else
  wait_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {granted, wait_ms}
"""

REQUEUE_DEAD = """
local moved = 0
for i = 1, #ARGV do
  local found = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #found == 1 then
    local fields = found[1][2]
    local payload = nil
    for j = 1, #fields, 2 do
      if fields[j] == 'e' then payload = fields[j + 1] end
    end
    if payload then
      local n = select(2, string.gsub(payload, '\\n', '\\n')) + 1
      redis.call('XADD', KEYS[2], '*', 'n', n, 'e', payload)
      redis.call('HINCRBY', KEYS[3], 'applied', -n)
    end
    redis.call('XDEL', KEYS[1], ARGV[i])
    redis.call('HINCRBY', KEYS[3], 'dead', -1)
    moved = moved + 1
  end
end
return moved
"""

APPEND_ONCE = """
local added = 0
for i = 1, #ARGV, 2 do
  local held = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  if not string.find(held, ARGV[i + 1], 1, true) then
    redis.call('HSET', KEYS[1], ARGV[i], held .. ARGV[i + 1])
    added = added + 1
  end
end
return added
"""
