// Lua for RedisStore, kept as TS strings so the build ships them without copying assets.
//
// Key layout under the store's keyPrefix (ioredis adds the prefix to every KEYS entry; scripts
// that build names themselves are passed the prefix):
//   ctr:<key>        integer counter (string value), TTL refreshed by each reservation
//   res:<id>         hash of a reservation still open: field = FULL counter key name (prefix
//                    included), value = amount it added; gone once committed or released
//   res:expiry       sorted set, member = reservation id, score = expiresAt (epoch ms); membership
//                    is what makes a reservation "open" (so a reservation with no counters works)
//   hold:<id>        hash { payload, reservations (JSON array of ids), claimed "0"|"1" }, PEXPIRE
//   lock:<key>       random token, SET NX PX
//   bucket:<key>     hash { tokens, at, h:<holder> = "<until>:<tokens>" per running lease } of a
//                    rate limit's token bucket, PEXPIRE once it would be full with no lease left
//
// The scripts an auction runs — BEGIN_AUCTION, CLAIM_HOLD, RESERVE and END_AUCTION — are passed
// the prefix and build every name themselves from packed arguments (newline-joined key lists, or
// JSON). An auction touches dozens of keys, and as KEYS each was one more argument the client
// prefixed, framed and sent on its own, and kept alive until Redis answered: packing them saved
// about 0.2 ms of the exchange's CPU per auction, a tenth of it (load/README.md, "Packed script
// arguments and pretenuring"). The other scripts take their keys in KEYS, except where the names
// can only be learnt inside the script: the counters a reservation record lists (stored as full
// names for that reason) and, in RELEASE_EXPIRED, the records of ids found in res:expiry. Names
// built inside a script are not declared to Redis, so the store needs one Redis (or a primary
// with replicas), not a Redis Cluster.

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
 * KEYS: none; the names are built here from the prefix (see BEGIN_AUCTION for why).
 * ARGV: [1] the store's key prefix, [2] the requests as JSON: per request
 *       [id, expiresAt, counters, pacers], each counter [key, amount, limit (null = none),
 *       ttlSeconds], each pacer [key, intervalMs, ttlSeconds, now (ms, the caller's clock)].
 * Returns per request: {0, counter values after...} = reserved, {n} with n > 0 = the n-th
 * counter or pacer (counters first, 1-based) did not fit and nothing was added.
 */
export const RESERVE = `
local prefix = ARGV[1]
local zset = prefix .. 'res:expiry'
local out = {}
for r, request in ipairs(cjson.decode(ARGV[2])) do
  local id, expires_at, counters, pacers = request[1], request[2], request[3], request[4]
  local record = prefix .. 'res:' .. id
  local keys = {}
  for c, counter in ipairs(counters) do keys[c] = prefix .. 'ctr:' .. counter[1] end
  if redis.call('ZSCORE', zset, id) then
    -- Already open under this id: a retried call must not count twice.
    local values = {0}
    for c = 1, #counters do values[c + 1] = tonumber(redis.call('GET', keys[c]) or '0') end
    out[r] = values
  else
    -- The same key may appear twice in one request; each check must see the earlier amounts.
    local pending = {}
    local failed = 0
    for c, counter in ipairs(counters) do
      local key = keys[c]
      local after = (pending[key] or 0) + counter[2]
      if counter[3] ~= cjson.null then
        local current = tonumber(redis.call('GET', key) or '0')
        if current + after > counter[3] then
          failed = c
          break
        end
      end
      pending[key] = after
    end
    if failed == 0 then
      for p, pacer in ipairs(pacers) do
        if tonumber(redis.call('GET', prefix .. 'ctr:' .. pacer[1]) or '0') > pacer[4] then
          failed = #counters + p
          break
        end
      end
    end
    if failed == 0 then
      local values = {0}
      for c, counter in ipairs(counters) do
        local key, amount = keys[c], string.format('%d', counter[2])
        values[c + 1] = redis.call('INCRBY', key, amount)
        redis.call('EXPIRE', key, string.format('%d', counter[4]))
        redis.call('HINCRBY', record, key, amount)
      end
      for _, pacer in ipairs(pacers) do
        local key, interval = prefix .. 'ctr:' .. pacer[1], pacer[2]
        local next_free = math.max(tonumber(redis.call('GET', key) or '0'), pacer[4]) + interval
        redis.call('SET', key, string.format('%d', next_free), 'EX', string.format('%d', pacer[3]))
        redis.call('HSET', record, 'p|' .. key, string.format('%d', interval))
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

// Shared by BEGIN_AUCTION and CLAIM_HOLD: takes the locks keys[first .. first + locks - 1], all
// or none, then reads every key after them. Returns {1, values...} or {0}.
const BEGIN_ONE = `
local function begin_auction(keys, first, locks, token, ttl)
  for i = first, first + locks - 1 do
    if not redis.call('SET', keys[i], token, 'PX', ttl, 'NX') then
      for j = first, i - 1 do redis.call('DEL', keys[j]) end
      return {0}
    end
  end
  local out = {1}
  -- MGET in slices rather than a GET per key: each redis.call has a fixed cost, and an auction
  -- reads dozens of keys here. Slices keep unpack() far below Lua's stack limit.
  for from = first + locks, #keys, 500 do
    local values = redis.call('MGET', unpack(keys, from, math.min(from + 499, #keys)))
    for _, value in ipairs(values) do out[#out + 1] = value end
  end
  return out
end
`;

// Shared by BEGIN_AUCTION and CLAIM_HOLD, which take an auction's start as the same six ARGV from
// `a` on: lock count, token, lock ttl ms, count of values to read, then the lock keys and the keys
// to read, each joined by newlines. unpack_auction_keys gives the full names, locks first, or nil
// when they do not match their counts; begin_packed then takes the locks and reads the values.
const UNPACK_AUCTION_KEYS = `
local function unpack_lines(text, prefix, into)
  -- Every newline splits, so an empty piece counts too: a key that held a newline shows as a
  -- count that does not match, never as another key.
  if text == '' then return end
  local from = 1
  while true do
    local at = string.find(text, '\\n', from, true)
    if not at then
      into[#into + 1] = prefix .. string.sub(text, from)
      return
    end
    into[#into + 1] = prefix .. string.sub(text, from, at - 1)
    from = at + 1
  end
end

local function unpack_auction_keys(prefix, a)
  local keys = {}
  unpack_lines(ARGV[a + 4], prefix .. 'lock:', keys)
  local taken = #keys
  unpack_lines(ARGV[a + 5], prefix .. 'ctr:', keys)
  if taken ~= tonumber(ARGV[a]) or #keys - taken ~= tonumber(ARGV[a + 3]) then return nil end
  return keys
end

local function begin_packed(keys, a)
  return begin_auction(keys, 1, tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2])
end
`;

/**
 * KEYS: none; the names are built here from the prefix (see BEGIN_AUCTION for why).
 * ARGV: [1] the store's key prefix, [2] the hold's id, [3] new expiry (ms) for its reservations,
 * [4] lock count ('' = no auction), then — only with an auction to begin — the rest of its start
 * as BEGIN_AUCTION takes it from [3]: [5] token, [6] lock ttl ms, [7] count of values to read,
 * [8] the lock keys and [9] the keys to read, each joined by newlines.
 * Returns {'missing'} | {'already_claimed'} | {'claimed', payload, reservations JSON} followed,
 * with an auction, by what BEGIN_AUCTION returns.
 * The hold is marked, not deleted, so later claims answer already_claimed until its TTL.
 */
export const CLAIM_HOLD = `${BEGIN_ONE}${UNPACK_AUCTION_KEYS}
local prefix = ARGV[1]
local keys = nil
if ARGV[4] ~= '' then
  -- Checked before the claim: a claim must not be spent on a call that cannot begin its auction.
  keys = unpack_auction_keys(prefix, 4)
  if keys == nil then return redis.error_reply('claim_hold: packed keys do not match their counts') end
end
local hold_key = prefix .. 'hold:' .. ARGV[2]
local hold = redis.call('HMGET', hold_key, 'claimed', 'payload', 'reservations')
if not hold[1] then return {'missing'} end
if hold[1] == '1' then return {'already_claimed'} end
redis.call('HSET', hold_key, 'claimed', '1')
local zset = prefix .. 'res:expiry'
for _, id in ipairs(cjson.decode(hold[3])) do
  -- XX: only reservations still open move; a finished one must not be resurrected.
  redis.call('ZADD', zset, 'XX', ARGV[3], id)
end
local out = {'claimed', hold[2], hold[3]}
if keys ~= nil then
  local start = begin_packed(keys, 4)
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
 * KEYS: none; the names travel packed in ARGV instead (see below).
 * ARGV: [1] the store's key prefix, [2] lock count, [3] token, [4] lock ttl ms, [5] count of
 * values to read, [6] the lock keys joined by newlines (each becomes <prefix>lock:<key>), [7] the
 * keys to read joined by newlines (each <prefix>ctr:<key>).
 * Returns {1, values...} with every lock taken, or {0} with none taken (someone holds one).
 *
 * An auction reads dozens of keys here. As KEYS, each was a string the client prefixed and
 * framed on its own; packed, the client sends two strings whatever the count. The counts are
 * checked so a key holding a newline (none of the exchange's can) fails loudly instead of
 * splitting in two.
 */
export const BEGIN_AUCTION = `${BEGIN_ONE}${UNPACK_AUCTION_KEYS}
local keys = unpack_auction_keys(ARGV[1], 2)
if keys == nil then return redis.error_reply('begin_auction: packed keys do not match their counts') end
return begin_packed(keys, 2)
`;

/**
 * KEYS: none; the names are built here from the prefix (see BEGIN_AUCTION for why).
 * ARGV: [1] token, [2] the store's key prefix, [3] JSON {l: lock keys, w: writes as [key, value,
 *       ttlSeconds, onlyIfAbsent (1|0)], c: ids to commit, o: ids that must be open}, [4] '1' with
 *       a hold, then its [5] id, [6] payload, [7] reservation ids JSON and [8] ttl ms.
 * Returns 1, or 0 having changed nothing when one of those ids is not open.
 * The commit and the hold come first: they are what must not be lost (a recorded sale, a bid the
 * affiliate was told about), and a script that fails halfway keeps what it did before.
 */
export const END_AUCTION = `${COMMIT_ONE}${PUT_HOLD_ONE}
local prefix = ARGV[2]
local zset = prefix .. 'res:expiry'
local e = cjson.decode(ARGV[3])
for _, id in ipairs(e.o) do
  if not redis.call('ZSCORE', zset, id) then return 0 end
end
for _, id in ipairs(e.c) do commit_one(zset, prefix .. 'res:' .. id, id) end
if ARGV[4] == '1' then put_hold(prefix .. 'hold:' .. ARGV[5], ARGV[6], ARGV[7], ARGV[8]) end
for _, w in ipairs(e.w) do
  local key, ttl = prefix .. 'ctr:' .. w[1], string.format('%d', w[3])
  if w[4] == 1 then
    redis.call('SET', key, w[2], 'EX', ttl, 'NX')
  else
    redis.call('SET', key, w[2], 'EX', ttl)
  end
end
for _, lock in ipairs(e.l) do
  local key = prefix .. 'lock:' .. lock
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
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
