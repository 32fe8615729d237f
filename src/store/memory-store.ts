// The single-process Store: same answers as RedisStore (both pass test/store/store-contract.ts),
// with plain Maps. Every method does all its work synchronously before its promise settles, which
// is what makes each call atomic here the way one Lua script is atomic in Redis.
import { pooledRandomHex } from '../ids/random-pool.ts';
import type { AuctionEnd, AuctionStart, AuctionStartResult, ClaimResult, FieldWrite, HashRead, HoldRecord, ReservationOutcome, ReservationRequest, Store } from './store.ts';
import { MemoryBuckets, type TokenLease, type TokenRequest } from './token-bucket.ts';

interface Counter {
  value: number;
  expiresAt: number;
}

interface OpenReservation {
  expiresAt: number;
  /** What this reservation added, per counter key, so release gives back exactly that. */
  added: Map<string, number>;
  /** Pacer slots taken: key → interval, given back on release. */
  paced: Map<string, number>;
}

interface StoredValue {
  value: string;
  expiresAt: number;
}

interface StoredHash {
  fields: Map<string, string>;
  expiresAt: number;
}

interface StoredHold {
  payload: string;
  reservationIds: string[];
  claimed: boolean;
  expiresAt: number;
}

interface Lock {
  token: string;
  expiresAt: number;
}

// Keys expire lazily on access; this bounds how long never-read-again keys (last period's cap
// counters, unclaimed holds) linger before a full purge.
const PURGE_EVERY_MS = 60_000;

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;

  readonly #now: () => number;
  readonly #counters = new Map<string, Counter>();
  readonly #reservations = new Map<string, OpenReservation>();
  readonly #holds = new Map<string, StoredHold>();
  readonly #locks = new Map<string, Lock>();
  /** Plain values; counters and pacers live in #counters, the same key space as in Redis. */
  readonly #values = new Map<string, StoredValue>();
  /** Hashes of values, one lifetime each; Redis keeps them in the same key space too. */
  readonly #hashes = new Map<string, StoredHash>();
  /** What regroupValues has moved values into, as Redis remembers it. */
  readonly #regrouped = new Set<string>();
  readonly #configListeners = new Set<() => void>();
  readonly #buckets = new MemoryBuckets();
  #lastPurge: number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#lastPurge = this.#now();
  }

  async readCounters(keys: string[]): Promise<number[]> {
    const now = this.#now();
    return keys.map((key) => this.#counter(key, now)?.value ?? 0);
  }

  async reserve(requests: ReservationRequest[]): Promise<ReservationOutcome[]> {
    checkReservationRequests(requests);
    const now = this.#tick();
    const outcomes: ReservationOutcome[] = [];
    for (const request of requests) {
      if (this.#reservations.has(request.id)) {
        // Already open under this id: a retried call must not count twice.
        outcomes.push({ id: request.id, ok: true, values: request.counters.map((spec) => this.#counter(spec.key, now)?.value ?? 0) });
        continue;
      }
      const added = new Map<string, number>();
      let failedKey: string | null = null;
      for (const spec of request.counters) {
        const after = (added.get(spec.key) ?? 0) + spec.amount;
        if (spec.limit !== null && (this.#counter(spec.key, now)?.value ?? 0) + after > spec.limit) {
          failedKey = spec.key;
          break;
        }
        added.set(spec.key, after);
      }
      const pacers = request.pacers ?? [];
      if (failedKey === null) failedKey = pacers.find((pacer) => (this.#counter(pacer.key, now)?.value ?? 0) > pacer.nowMs)?.key ?? null;
      if (failedKey !== null) {
        outcomes.push({ id: request.id, ok: false, failedKey });
        continue;
      }
      const values: number[] = [];
      for (const spec of request.counters) {
        const counter = this.#counter(spec.key, now);
        const expiresAt = now + spec.ttlSeconds * 1000;
        if (counter) {
          counter.value += spec.amount;
          counter.expiresAt = expiresAt;
        } else {
          this.#counters.set(spec.key, { value: spec.amount, expiresAt });
        }
        values.push(this.#counters.get(spec.key)!.value);
      }
      const paced = new Map<string, number>();
      for (const pacer of pacers) {
        const nextFree = Math.max(this.#counter(pacer.key, now)?.value ?? 0, pacer.nowMs) + pacer.intervalMs;
        this.#counters.set(pacer.key, { value: nextFree, expiresAt: now + pacer.ttlSeconds * 1000 });
        paced.set(pacer.key, pacer.intervalMs);
      }
      this.#reservations.set(request.id, { expiresAt: request.expiresAt, added, paced });
      outcomes.push({ id: request.id, ok: true, values });
    }
    return outcomes;
  }

  async refundCounters(refunds: Array<{ key: string; amount: number }>): Promise<void> {
    const now = this.#tick();
    for (const { key, amount } of refunds) {
      const counter = this.#counter(key, now);
      if (counter) counter.value = Math.max(0, counter.value - amount);
    }
  }

  async beginAuction(lockKeys: string[], lockTtlMs: number, readKeys: string[], readHashes: HashRead[] = []): Promise<AuctionStartResult> {
    const ttl = positiveMs(lockTtlMs, 'lockTtlMs');
    return this.#begin(lockKeys, ttl, readKeys, readHashes, this.#tick());
  }

  #begin(lockKeys: string[], ttl: number, readKeys: string[], readHashes: HashRead[], now: number): AuctionStartResult {
    if (lockKeys.some((key) => (this.#locks.get(key)?.expiresAt ?? 0) > now)) return { locked: false };
    const token = pooledRandomHex(16);
    for (const key of lockKeys) this.#locks.set(key, { token, expiresAt: now + ttl });
    const values = readKeys.map((key) => this.#read(key, now));
    for (const { key, fields } of readHashes) {
      const hash = this.#hash(key, now);
      for (const field of fields) values.push(hash?.fields.get(field) ?? null);
    }
    return { locked: true, token, values };
  }

  async endAuction({ lockKeys, token, writes = [], fieldWrites = [], commitIds = [], hold, ifOpen = [] }: AuctionEnd): Promise<boolean> {
    // Refused before anything changes, as the Redis script would never start.
    if (hold) positiveMs(hold.ttlMs, 'ttlMs');
    checkFieldWrites(fieldWrites);
    const now = this.#tick();
    if (ifOpen.some((id) => !this.#reservations.has(id))) return false;
    for (const id of commitIds) this.#reservations.delete(id);
    if (hold) this.#putHold(hold.id, hold.record, hold.ttlMs, now);
    for (const write of writes) {
      if (write.onlyIfAbsent && this.#read(write.key, now) !== null) continue;
      this.#counters.delete(write.key);
      this.#values.set(write.key, { value: write.value, expiresAt: now + write.ttlSeconds * 1000 });
    }
    for (const write of fieldWrites) this.#setField(write.key, write.field, write.value, now + write.ttlSeconds * 1000, now);
    for (const key of lockKeys) if (this.#locks.get(key)?.token === token) this.#locks.delete(key);
    return true;
  }

  async announceConfigChange(): Promise<void> {
    for (const listener of this.#configListeners) listener();
  }

  async onConfigChange(listener: () => void): Promise<() => Promise<void>> {
    this.#configListeners.add(listener);
    return async () => {
      this.#configListeners.delete(listener);
    };
  }

  /** One key space for counters and values, as in Redis. */
  #read(key: string, now: number): string | null {
    const counter = this.#counter(key, now);
    if (counter) return String(counter.value);
    return unexpired(this.#values, key, now)?.value ?? null;
  }

  #hash(key: string, now: number): StoredHash | undefined {
    return unexpired(this.#hashes, key, now);
  }

  /** Sets a field; the hash lives until `until` at least, never less than it already would. */
  #setField(key: string, field: string, value: string, until: number, now: number): void {
    const hash = this.#hash(key, now);
    if (hash === undefined) {
      this.#hashes.set(key, { fields: new Map([[field, value]]), expiresAt: until });
      return;
    }
    hash.fields.set(field, value);
    hash.expiresAt = Math.max(hash.expiresAt, until);
  }

  async regroupValues(kinds: string[], into: string): Promise<number> {
    if (this.#regrouped.has(into)) return 0;
    const now = this.#tick();
    let moved = 0;
    for (const [key, stored] of this.#values) {
      const last = key.lastIndexOf(':');
      if (last === -1 || !kinds.some((kind) => key.startsWith(`${kind}:`))) continue;
      this.#values.delete(key);
      if (stored.expiresAt <= now) continue;
      const hashKey = `${into}:${key.slice(last + 1)}`;
      const field = key.slice(0, last);
      const hash = this.#hash(hashKey, now);
      if (hash?.fields.has(field)) hash.expiresAt = Math.max(hash.expiresAt, stored.expiresAt);
      else this.#setField(hashKey, field, stored.value, stored.expiresAt, now);
      moved++;
    }
    this.#regrouped.add(into);
    return moved;
  }

  async commit(ids: string[]): Promise<void> {
    for (const id of ids) this.#reservations.delete(id);
  }

  async release(ids: string[]): Promise<number> {
    const now = this.#tick();
    let released = 0;
    for (const id of ids) {
      if (this.#releaseOne(id, now)) released++;
    }
    return released;
  }

  async releaseExpired(nowMs: number, limit: number): Promise<string[]> {
    checkLimit(limit);
    const now = this.#tick();
    const due: Array<[string, number]> = [];
    for (const [id, reservation] of this.#reservations) {
      if (reservation.expiresAt <= nowMs) due.push([id, reservation.expiresAt]);
    }
    // Same order as ZRANGEBYSCORE: by expiry, then by id.
    due.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const ids = due.slice(0, limit).map(([id]) => id);
    for (const id of ids) this.#releaseOne(id, now);
    return ids;
  }

  async putHold(id: string, hold: HoldRecord, ttlMs: number): Promise<void> {
    this.#putHold(id, hold, ttlMs, this.#tick());
  }

  #putHold(id: string, hold: HoldRecord, ttlMs: number, now: number): void {
    this.#holds.set(id, {
      payload: hold.payload,
      reservationIds: [...hold.reservationIds],
      claimed: false,
      expiresAt: now + positiveMs(ttlMs, 'ttlMs'),
    });
  }

  async claimHold(id: string, extendReservationsTo: number, begin?: AuctionStart): Promise<ClaimResult> {
    // Refused before anything changes, as the Redis script would never start.
    const lockTtl = begin ? positiveMs(begin.lockTtlMs, 'lockTtlMs') : 0;
    const now = this.#tick();
    const hold = unexpired(this.#holds, id, now);
    if (!hold) return { state: 'missing' };
    if (hold.claimed) return { state: 'already_claimed' };
    hold.claimed = true;
    for (const reservationId of hold.reservationIds) {
      const reservation = this.#reservations.get(reservationId);
      if (reservation) reservation.expiresAt = extendReservationsTo;
    }
    const claimed: ClaimResult = { state: 'claimed', hold: { payload: hold.payload, reservationIds: [...hold.reservationIds] } };
    if (begin) claimed.start = this.#begin(begin.lockKeys, lockTtl, begin.readKeys, begin.readHashes ?? [], now);
    return claimed;
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    const now = this.#tick();
    const held = this.#locks.get(key);
    if (held && held.expiresAt > now) return null;
    const token = pooledRandomHex(16);
    this.#locks.set(key, { token, expiresAt: now + positiveMs(ttlMs, 'ttlMs') });
    return token;
  }

  async takeTokens(request: TokenRequest): Promise<TokenLease> {
    return this.#buckets.take(request);
  }

  async releaseLock(key: string, token: string): Promise<void> {
    if (this.#locks.get(key)?.token === token) this.#locks.delete(key);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  #counter(key: string, now: number): Counter | undefined {
    return unexpired(this.#counters, key, now);
  }

  #releaseOne(id: string, now: number): boolean {
    const reservation = this.#reservations.get(id);
    if (!reservation) return false;
    this.#reservations.delete(id);
    for (const [key, amount] of reservation.added) {
      // An expired counter stays gone (never recreated negative); clamp in case it was recreated.
      const counter = this.#counter(key, now);
      if (counter) counter.value = Math.max(0, counter.value - amount);
    }
    for (const [key, interval] of reservation.paced) {
      const pacer = this.#counter(key, now);
      if (pacer) pacer.value -= interval;
    }
    return true;
  }

  /** Reads the clock for a mutating call, purging expired entries now and then. */
  #tick(): number {
    const now = this.#now();
    if (now - this.#lastPurge >= PURGE_EVERY_MS) {
      this.#lastPurge = now;
      for (const entries of [this.#counters, this.#holds, this.#locks, this.#values, this.#hashes]) purgeExpired(entries, now);
    }
    return now;
  }
}

/**
 * Rejects what Redis would choke on halfway through a script (INCRBY of a fraction, EXPIRE 0
 * deleting the key), since a Lua error does not undo the writes made before it. Shared by both
 * stores so they refuse the same inputs.
 */
export function checkReservationRequests(requests: ReservationRequest[]): void {
  for (const request of requests) {
    if (typeof request.id !== 'string' || request.id === '') throw new TypeError('reservation id must be a non-empty string');
    if (!Number.isFinite(request.expiresAt)) throw new RangeError(`reservation ${request.id}: expiresAt must be a finite number`);
    for (const spec of request.counters) {
      if (typeof spec.key !== 'string' || spec.key === '') throw new TypeError(`reservation ${request.id}: counter key must be a non-empty string`);
      if (!Number.isSafeInteger(spec.amount) || spec.amount < 0) {
        throw new RangeError(`reservation ${request.id}: amount for ${spec.key} must be a non-negative integer, got ${spec.amount}`);
      }
      if (spec.limit !== null && !Number.isSafeInteger(spec.limit)) {
        throw new RangeError(`reservation ${request.id}: limit for ${spec.key} must be an integer or null, got ${spec.limit}`);
      }
      if (!Number.isSafeInteger(spec.ttlSeconds) || spec.ttlSeconds <= 0) {
        throw new RangeError(`reservation ${request.id}: ttlSeconds for ${spec.key} must be a positive integer, got ${spec.ttlSeconds}`);
      }
    }
  }
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`limit must be a positive integer, got ${limit}`);
}

/** The entry under `key` while it lives; one found expired is dropped, as Redis expires lazily. */
function unexpired<T extends { expiresAt: number }>(entries: Map<string, T>, key: string, now: number): T | undefined {
  const entry = entries.get(key);
  if (entry === undefined || entry.expiresAt > now) return entry;
  entries.delete(key);
  return undefined;
}

function purgeExpired(entries: Map<string, { expiresAt: number }>, now: number): void {
  for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
}

/** A hash's lifetime in whole seconds, as EXPIRE takes it: EXPIRE 0 would delete the hash. */
export function checkFieldWrites(writes: FieldWrite[]): void {
  for (const write of writes) {
    if (!Number.isSafeInteger(write.ttlSeconds) || write.ttlSeconds <= 0) {
      throw new RangeError(`ttlSeconds for ${write.key} ${write.field} must be a positive integer, got ${write.ttlSeconds}`);
    }
  }
}

/** Whole milliseconds, at least 1: PX/PEXPIRE refuse fractions, and 0 would mean "already gone". */
export function positiveMs(ms: number, name: string): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${name} must be a positive number of milliseconds, got ${ms}`);
  return Math.ceil(ms);
}
