// Lua for RedisStore, kept as TS strings so the build ships them without copying assets.
//
// Key layout under the store's keyPrefix (ioredis adds the prefix to every KEYS entry; scripts
// that build names themselves are passed the prefix):
//   ctr:<key>        integer counter (string value), TTL refreshed by each reservation; or a
//                    plain value an auction wrote (SET EX); or a hash of values an auction wrote
//                    (HSET, one TTL: the longest its writes asked for)
//   res:<id>         hash of a reservation still open: field = FULL counter key name (prefix
//                    included), value = amount it added; gone once committed or released
//   res:expiry       sorted set, member = reservation id, score = expiresAt (epoch ms); membership
//                    is what makes a reservation "open" (so a reservation with no counters works)
//   hold:<id>        hash { payload, reservations (JSON array of ids), claimed "0"|"1" }, PEXPIRE
//   lock:<key>       random token, SET NX PX
//   bucket:<key>     hash { tokens, at, h:<holder> = "<until>:<tokens>" per running lease } of a
//                    rate limit's token bucket, PEXPIRE once it would be full with no lease left
//   regrouped:<into> "1" once values of the older layout were moved into the hashes <into>:*
//
// Every script takes its keys in KEYS, as full names (the store's prefix included): the store
// frames them itself (src/store/script-command.ts), so however many an auction touches, Redis
// parses them natively. Until 2026-12-07 the scripts that start, reserve and end an auction were
// passed the prefix and packed names (or JSON) and built the names in Lua, which was half of what
// opening an auction cost Redis. Only RELEASE, RELEASE_EXPIRED and REGROUP still meet names inside
// a script: the counters a reservation record lists (which is why records hold full names), for
// RELEASE_EXPIRED the records of the ids it finds, built from the prefix it is passed, and for
// REGROUP the hashes the values it moves go to.
// Names built inside a script are not declared to Redis, so the store needs one Redis (or a
// primary with replicas), not a Redis Cluster.

// Shared by RELEASE and RELEASE_EXPIRED so both give back exactly what RESERVE added.
// Decrements only counters that still exist: a counter that expired (its period ended) must not
// come back as a negative number; and clamps at 0 in case the key was recreated since.
const RELEASE_ONE = `
local function release_one(zset, record, id)
  if redis.call('ZREM', zset, id) == 0 then
    redis.call('DEL', record)
    return false
  end
  local fields = redis.call('HGETALL', record)
  for j = 1, #fields, 2 do
    local field = fields[j]
    if string.sub(field, 1, 2) == 'p|' then
      -- A pacer slot: move the next free instant back by one interval (a past instant is free).
      local key = string.sub(field, 3)
      local next_free = tonumber(redis.call('GET', key) or '0')
      if next_free > 0 then
        redis.call('SET', key, string.format('%d', next_free - tonumber(fields[j + 1])), 'KEEPTTL')
      end
    elseif redis.call('EXISTS', field) == 1 then
      local left = redis.call('DECRBY', field, fields[j + 1])
      if left < 0 then redis.call('INCRBY', field, -left) end
    end
  end
  redis.call('DEL', record)
  return true
end
`;

/**
 * KEYS: [1] res:expiry, then per request its record (res:<id>), the keys of its counters and the
 *       keys of its pacers (ctr:<key> each).
 * ARGV: per request: id, expiresAt (ms), counter count, pacer count, then per counter its amount,
 *       limit ('' = none) and ttlSeconds, then per pacer its intervalMs, ttlSeconds and now (ms,
 *       the caller's clock).
 * Returns per request: {0, counter values after...} = reserved, {n} with n > 0 = the n-th
 * counter or pacer (counters first, 1-based) did not fit and nothing was added.
 */
export const RESERVE = `
local zset = KEYS[1]
local out = {}
local k, a, r = 2, 1, 0
while a <= #ARGV do
  r = r + 1
  local id, expires_at, ncounters, npacers = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local record, counters = KEYS[k], k + 1
  local pacers = counters + ncounters
  local specs = a + 4
  local pacer_specs = specs + 3 * ncounters
  k = pacers + npacers
  a = pacer_specs + 3 * npacers
  if redis.call('ZSCORE', zset, id) then
    -- Already open under this id: a retried call must not count twice.
    local values = {0}
    for c = 0, ncounters - 1 do values[c + 2] = tonumber(redis.call('GET', KEYS[counters + c]) or '0') end
    out[r] = values
  else
    -- The same key may appear twice in one request; each check must see the earlier amounts.
    local pending = {}
    local failed = 0
    for c = 0, ncounters - 1 do
      local key, at = KEYS[counters + c], specs + 3 * c
      local after = (pending[key] or 0) + tonumber(ARGV[at])
      if ARGV[at + 1] ~= '' then
        local current = tonumber(redis.call('GET', key) or '0')
        if current + after > tonumber(ARGV[at + 1]) then
          failed = c + 1
          break
        end
      end
      pending[key] = after
    end
    if failed == 0 then
      for p = 0, npacers - 1 do
        if tonumber(redis.call('GET', KEYS[pacers + p]) or '0') > tonumber(ARGV[pacer_specs + 3 * p + 2]) then
          failed = ncounters + p + 1
          break
        end
      end
    end
    if failed == 0 then
      local values = {0}
      for c = 0, ncounters - 1 do
        local key, at = KEYS[counters + c], specs + 3 * c
        values[c + 2] = redis.call('INCRBY', key, ARGV[at])
        redis.call('EXPIRE', key, ARGV[at + 2])
        redis.call('HINCRBY', record, key, ARGV[at])
      end
      for p = 0, npacers - 1 do
        local key, at = KEYS[pacers + p], pacer_specs + 3 * p
        local next_free = math.max(tonumber(redis.call('GET', key) or '0'), tonumber(ARGV[at + 2])) + tonumber(ARGV[at])
        redis.call('SET', key, string.format('%d', next_free), 'EX', ARGV[at + 1])
        redis.call('HSET', record, 'p|' .. key, ARGV[at])
      end
      redis.call('ZADD', zset, string.format('%d', expires_at), id)
      out[r] = values
    else
      out[r] = {failed}
    end
  end
end
return out
`;

/** KEYS: ctr:<key> per refund. ARGV: the amounts. Like a release: never revives, never negative. */
export const REFUND = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local left = redis.call('DECRBY', KEYS[i], ARGV[i])
    if left < 0 then redis.call('INCRBY', KEYS[i], -left) end
  end
end
return 0
`;

/** KEYS: [1] res:expiry, [i+1] res:<ARGV[i]>. ARGV: ids. Returns how many were released. */
export const RELEASE = `${RELEASE_ONE}
local released = 0
for i = 1, #ARGV do
  if release_one(KEYS[1], KEYS[i + 1], ARGV[i]) then released = released + 1 end
end
return released
`;

/**
 * KEYS: [1] res:expiry. ARGV: [1] now (ms), [2] max to release, [3] full record prefix
 * (keyPrefix .. 'res:'). Returns the released ids, earliest expiry first.
 */
export const RELEASE_EXPIRED = `${RELEASE_ONE}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  release_one(KEYS[1], ARGV[3] .. id, id)
end
return ids
`;

// Shared by COMMIT and END_AUCTION. The counters keep what was added; forgetting the record and
// leaving res:expiry is what keeps the sweeper from giving it back.
const COMMIT_ONE = `
local function commit_one(zset, record, id)
  redis.call('ZREM', zset, id)
  redis.call('DEL', record)
end
`;

/** KEYS: [1] res:expiry, [i+1] res:<ARGV[i]>. ARGV: ids. Counters keep what was added. */
export const COMMIT = `${COMMIT_ONE}
for i = 1, #ARGV do commit_one(KEYS[1], KEYS[i + 1], ARGV[i]) end
return 0
`;

// Shared by PUT_HOLD and END_AUCTION.
const PUT_HOLD_ONE = `
local function put_hold(key, payload, reservations, ttl)
  redis.call('DEL', key)
  redis.call('HSET', key, 'payload', payload, 'reservations', reservations, 'claimed', '0')
  redis.call('PEXPIRE', key, ttl)
end
`;

/** KEYS: [1] hold:<id>. ARGV: [1] payload, [2] reservation ids JSON, [3] ttl ms. */
export const PUT_HOLD = `${PUT_HOLD_ONE}
put_hold(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 0
`;

// Shared by BEGIN_AUCTION and CLAIM_HOLD: takes the locks KEYS[first .. first + locks - 1], all
// or none, then reads the `reads` keys after them, then the fields of each remaining key (a hash):
// ARGV from `fa` holds, per hash, its field count and then its fields. Returns {1, values...},
// the keys' values and then the fields', or {0}.
const BEGIN_ONE = `
local function begin_auction(first, locks, reads, token, ttl, fa)
  for i = first, first + locks - 1 do
    if not redis.call('SET', KEYS[i], token, 'PX', ttl, 'NX') then
      for j = first, i - 1 do redis.call('DEL', KEYS[j]) end
      return {0}
    end
  end
  local out = {1}
  local last = first + locks + reads - 1
  -- MGET in slices rather than a GET per key: each redis.call has a fixed cost, and an auction
  -- reads dozens of keys here. Slices keep unpack() far below Lua's stack limit.
  for from = first + locks, last, 500 do
    local values = redis.call('MGET', unpack(KEYS, from, math.min(from + 499, last)))
    for _, value in ipairs(values) do out[#out + 1] = value end
  end
  local a = fa
  for k = last + 1, #KEYS do
    local n = tonumber(ARGV[a])
    for from = a + 1, a + n, 500 do
      local values = redis.call('HMGET', KEYS[k], unpack(ARGV, from, math.min(from + 499, a + n)))
      for _, value in ipairs(values) do out[#out + 1] = value end
    end
    a = a + 1 + n
  end
  return out
end
`;

/**
 * KEYS: [1] hold:<id>, [2] res:expiry, then, with an auction to begin, its lock keys, the keys
 * to read and the hashes to read, as BEGIN_AUCTION takes them.
 * ARGV: [1] new expiry (ms) for the hold's reservations, [2] lock count ('' = no auction), [3]
 * token, [4] lock ttl ms, [5] count of keys to read, then per hash its field count and fields.
 * Returns {'missing'} | {'already_claimed'} | {'claimed', payload, reservations JSON} followed,
 * with an auction, by what BEGIN_AUCTION returns.
 * The hold is marked, not deleted, so later claims answer already_claimed until its TTL.
 */
export const CLAIM_HOLD = `${BEGIN_ONE}
local hold = redis.call('HMGET', KEYS[1], 'claimed', 'payload', 'reservations')
if not hold[1] then return {'missing'} end
if hold[1] == '1' then return {'already_claimed'} end
redis.call('HSET', KEYS[1], 'claimed', '1')
for _, id in ipairs(cjson.decode(hold[3])) do
  -- XX: only reservations still open move; a finished one must not be resurrected.
  redis.call('ZADD', KEYS[2], 'XX', ARGV[1], id)
end
local out = {'claimed', hold[2], hold[3]}
if ARGV[2] ~= '' then
  local start = begin_auction(3, tonumber(ARGV[2]), tonumber(ARGV[5]), ARGV[3], ARGV[4], 6)
  for i = 1, #start do out[3 + i] = start[i] end
end
return out
`;

/** KEYS: [1] lock:<key>. ARGV: [1] token. */
export const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * KEYS: the lock keys (lock:<key>), then the keys to read (ctr:<key>), then the hashes to read
 * (ctr:<key>).
 * ARGV: [1] lock count, [2] token, [3] lock ttl ms, [4] count of keys to read, then per hash its
 * field count and its fields.
 * Returns {1, values...} with every lock taken, or {0} with none taken (someone holds one).
 */
export const BEGIN_AUCTION = `${BEGIN_ONE}
return begin_auction(1, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[2], ARGV[3], 5)
`;

/**
 * KEYS: [1] res:expiry, then L lock keys, W keys to write (ctr:<key>), C records of the
 * reservations to commit (res:<id>), H hashes to write fields in (ctr:<key>), and with a hold its
 * hold:<id>.
 * ARGV: [1] token, [2] L, [3] W, [4] C, [5] O, [6] '1' with a hold, [7] H; then O ids that must be
 * open, the C ids to commit, a triple per write (value, ttl seconds, '1' = only if absent), per
 * hash its ttl seconds, its field count n and n field-value pairs, and with a hold its payload,
 * reservation ids JSON and ttl ms.
 * Returns 1, or 0 having changed nothing when one of the O ids is not open.
 * The commit and the hold come first: they are what must not be lost (a recorded sale, a bid the
 * affiliate was told about), and a script that fails halfway keeps what it did before.
 */
export const END_AUCTION = `${COMMIT_ONE}${PUT_HOLD_ONE}
local locks, writes, commits, open, hashes = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local zset = KEYS[1]
local a = 8
for i = 0, open - 1 do
  if not redis.call('ZSCORE', zset, ARGV[a + i]) then return 0 end
end
a = a + open
for i = 0, commits - 1 do commit_one(zset, KEYS[2 + locks + writes + i], ARGV[a + i]) end
a = a + commits
local written = a
a = a + 3 * writes
local hashed = a
for h = 1, hashes do a = a + 2 + 2 * tonumber(ARGV[a + 1]) end
local first_hash = 2 + locks + writes + commits
if ARGV[6] == '1' then put_hold(KEYS[first_hash + hashes], ARGV[a], ARGV[a + 1], ARGV[a + 2]) end
for i = 0, writes - 1 do
  local key, at = KEYS[2 + locks + i], written + 3 * i
  if ARGV[at + 2] == '1' then
    redis.call('SET', key, ARGV[at], 'EX', ARGV[at + 1], 'NX')
  else
    redis.call('SET', key, ARGV[at], 'EX', ARGV[at + 1])
  end
end
a = hashed
for h = 0, hashes - 1 do
  local key, ttl, n = KEYS[first_hash + h], tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  redis.call('HSET', key, unpack(ARGV, a + 2, a + 1 + 2 * n))
  -- One lifetime for all its fields: the longest asked for; TTL is -1 on a hash just made.
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
  a = a + 2 + 2 * n
end
for i = 2, 1 + locks do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
`;

/**
 * KEYS: values kept before hashes (full names). ARGV: [1] full name prefix of the hashes, [2]
 * byte length of the name prefix to take off each value's name (the store's prefix and ctr:).
 * Each value <kind>:<rest>:<last> becomes field <kind>:<rest> of hash ARGV[1] .. <last>, unless
 * the hash has that field already (written since, so newer); the hash then lives at least as long
 * as the value had left. Returns how many values were moved. Names are built here, undeclared.
 */
export const REGROUP = `
local moved = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local value = redis.call('GET', key)
  local ttl = redis.call('PTTL', key)
  local name = string.sub(key, tonumber(ARGV[2]) + 1)
  local last = string.match(name, ':([^:]*)$')
  if value and last then
    local hash = ARGV[1] .. last
    redis.call('HSETNX', hash, string.sub(name, 1, #name - #last - 1), value)
    if ttl > 0 and redis.call('PTTL', hash) < ttl then redis.call('PEXPIRE', hash, ttl) end
    redis.call('DEL', key)
    moved = moved + 1
  end
end
return moved
`;

/**
 * A token bucket (src/store/token-bucket.ts has the same arithmetic in TS, and says why leases
 * keep room in the bucket).
 * KEYS: [1] bucket:<key>. ARGV: [1] rate per second, [2] burst, [3] now (ms, the caller's clock),
 * [4] tokens wanted, [5] holder, [6] hold until (ms, '' = spent at once), [7] lifetime (ms) after
 * which an untouched bucket is full anyway.
 * Returns {granted, 0 while a whole token is left, else ms until one is back}.
 */
export const TAKE_TOKENS = `
local rate, burst, now, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local own = 'h:' .. ARGV[5]
local fields = redis.call('HGETALL', KEYS[1])
local tokens, at, held, out = burst, now, {}, 0
for i = 1, #fields, 2 do
  local field, value = fields[i], fields[i + 1]
  if field == 'tokens' then
    tokens = tonumber(value)
  elseif field == 'at' then
    at = tonumber(value)
  else
    local ends, n = string.match(value, '^(.-):(%d+)$')
    held[#held + 1] = {field = field, ends = tonumber(ends), n = tonumber(n)}
    out = out + tonumber(n)
  end
end
local function refill_to(to)
  local room = burst - out
  if tokens < room then tokens = math.min(room, tokens + (to - at) * rate / 1000) end
  at = to
end
if now > at then
  -- Piece by piece: the room kept for a lease comes back only once the lease has ended.
  table.sort(held, function(a, b) return a.ends < b.ends end)
  for _, lease in ipairs(held) do
    if lease.ends > now then break end
    if lease.ends > at then refill_to(lease.ends) end
    out = out - lease.n
    redis.call('HDEL', KEYS[1], lease.field)
  end
  refill_to(now)
end
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
local answer = {granted, 0}
if tokens < 1 then answer[2] = math.ceil((1 - tokens) * 1000 / rate) end
-- %.17g round-trips a double exactly, so both stores keep the same fractions of a token.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
-- Only now: until this call the holder may still have been spending its previous lease.
local hold_until = tonumber(ARGV[6])
if granted > 0 and hold_until and hold_until > at then
  redis.call('HSET', KEYS[1], own, string.format('%.17g', hold_until) .. ':' .. granted)
else
  redis.call('HDEL', KEYS[1], own)
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return answer
`;
