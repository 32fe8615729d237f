// The Store shared by many exchange nodes. Each method is one round trip; every write is one Lua
// script (src/store/redis-scripts.ts, which also documents the key layout).
import { Redis } from 'ioredis';
import { ServiceUnavailable } from '../errors/problems.ts';
import { pooledRandomHex } from '../ids/random-pool.ts';
import { checkFieldWrites, checkLimit, checkReservationRequests, positiveMs } from './memory-store.ts';
import { REFUND, BEGIN_AUCTION, CLAIM_HOLD, COMMIT, END_AUCTION, PUT_HOLD, REGROUP, RELEASE, RELEASE_EXPIRED, RELEASE_LOCK, RESERVE, TAKE_TOKENS } from './redis-scripts.ts';
import type { DeadlineTable } from '../clock/deadline-table.ts';
import { commandDeadlines, LuaScript, runScript, type KeyGroup, type ScriptArg, type ScriptCommand } from './script-command.ts';
import type { AuctionEnd, AuctionStart, AuctionStartResult, ClaimResult, FieldWrite, HashRead, HoldRecord, ReservationOutcome, ReservationRequest, Store } from './store.ts';
import { bucketLifetimeMs, checkTokenRequest, type TokenLease, type TokenRequest } from './token-bucket.ts';
import { TurnWrites } from './turn-writes.ts';

export interface RedisStoreOptions {
  url: string;
  /** Prepended to every key, e.g. "leadex:"; separates deployments (and tests) sharing a Redis. */
  keyPrefix?: string;
  /**
   * Accepted so both stores take the same options; unused, because Redis expires keys by its own
   * clock and every absolute time (expiresAt, releaseExpired's now) comes from the caller.
   */
  now?: () => number;
  /** How long any call may wait for Redis, connecting included, before it rejects. Default 1000. */
  commandTimeoutMs?: number;
  /** Shown in CLIENT LIST; handy to tell nodes apart. */
  connectionName?: string;
}

// Compiled into SHA1s once; Redis keeps each script after its first EVAL.
const SCRIPTS = {
  reserve: new LuaScript(RESERVE),
  release: new LuaScript(RELEASE),
  releaseExpired: new LuaScript(RELEASE_EXPIRED),
  commit: new LuaScript(COMMIT),
  putHold: new LuaScript(PUT_HOLD),
  claimHold: new LuaScript(CLAIM_HOLD),
  releaseLock: new LuaScript(RELEASE_LOCK),
  beginAuction: new LuaScript(BEGIN_AUCTION),
  endAuction: new LuaScript(END_AUCTION),
  refund: new LuaScript(REFUND),
  regroup: new LuaScript(REGROUP),
  takeTokens: new LuaScript(TAKE_TOKENS),
};

/**
 * How long an unhurried call may wait for another to leave with. At 200 auctions/s, two-phase,
 * the other calls leave about 600 times a second, so nearly every such call finds one in time.
 */
const UNHURRIED_HOLD_MS = 5;

// The kinds of key, each a prefix under the store's own (src/store/redis-scripts.ts has the layout).
const EXPIRY_KEY = 'res:expiry';
const COUNTER = 'ctr:';
const RECORD = 'res:';
const HOLD = 'hold:';
const LOCK = 'lock:';
const BUCKET = 'bucket:';
const REGROUPED = 'regrouped:';

export class RedisStore implements Store {
  readonly kind = 'redis' as const;

  readonly #client: Redis;
  readonly #deadlines: DeadlineTable<ScriptCommand>;
  readonly #keyPrefix: string;
  readonly #timeoutMs: number;
  #ready!: Promise<void>;
  #markReady!: () => void;
  #readyPending = false;
  #lastError: unknown = null;
  /** When the connection was lost (Date.now()), null while connected. */
  #disconnectedAt: number | null = null;
  #closed = false;
  readonly #url: string;
  readonly #channel: string;
  #subscriber: Redis | null = null;
  readonly #configListeners = new Set<() => void>();
  readonly #turnWrites = new TurnWrites();

  constructor(options: RedisStoreOptions) {
    this.#keyPrefix = options.keyPrefix ?? '';
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#newReadyPromise();
    this.#client = new Redis(options.url, {
      keyPrefix: this.#keyPrefix,
      connectionName: options.connectionName,
      // A call must fail fast while Redis is down so the exchange answers 503 instead of hanging.
      // No offline queue at all (calls wait for 'ready' themselves, see #call): a queued command
      // that already timed out for its caller would still run on reconnect, e.g. reserving a cap
      // for a lead the exchange has given up on.
      enableOfflineQueue: false,
      // Same reason for a command in flight when the connection dropped: Redis may have run it.
      // (Both also keep a script command to one write: src/store/script-command.ts.)
      autoResendUnfulfilledCommands: false,
      // Also bounds a command written to a connection that died without a close being noticed.
      commandTimeout: this.#timeoutMs,
      maxRetriesPerRequest: 1,
      // No auto-pipelining: each of its batches is a Pipeline whose own accessor closes over it,
      // and V8's scavenger kept every such batch, with its commands, keys and replies, until the
      // next full collection. At 200 auctions/s each scavenge copied half as much again (6.3
      // against 4.1 MB) and an auction cost 7% more CPU (load/FINDINGS.md, "What the young
      // generation keeps"). TurnWrites saves the writes it would, with no object per batch.
      enableAutoPipelining: false,
      connectTimeout: Math.max(this.#timeoutMs, 5000),
      // Never give up: the node must recover by itself when Redis comes back; capped at 1 s so it
      // notices soon.
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    });
    this.#client.on('ready', () => {
      this.#lastError = null;
      this.#disconnectedAt = null;
      this.#markReady();
    });
    this.#client.on('close', () => this.#markLost());
    // Without a listener ioredis prints every reconnect failure; keep the last for error messages.
    this.#client.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    this.#url = options.url;
    this.#channel = `${this.#keyPrefix}config-changed`;
    this.#deadlines = commandDeadlines(this.#timeoutMs);
  }

  async readCounters(keys: string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await this.#call(() => this.#client.mget(keys.map((key) => COUNTER + key)));
    return values.map((value) => (value === null ? 0 : Number(value)));
  }

  async reserve(requests: ReservationRequest[]): Promise<ReservationOutcome[]> {
    if (requests.length === 0) return [];
    checkReservationRequests(requests);
    const keys: KeyGroup[] = [this.#keys('', [EXPIRY_KEY])];
    const args: ScriptArg[] = [];
    for (const request of requests) {
      const pacers = request.pacers ?? [];
      keys.push(this.#keys(RECORD, [request.id]), this.#keys(COUNTER, request.counters.map((spec) => spec.key)), this.#keys(COUNTER, pacers.map((pacer) => pacer.key)));
      args.push(request.id, Math.trunc(request.expiresAt), request.counters.length, pacers.length);
      for (const spec of request.counters) args.push(spec.amount, spec.limit ?? '', spec.ttlSeconds);
      // Whole milliseconds and seconds, as the script stores them.
      for (const pacer of pacers) args.push(Math.trunc(pacer.intervalMs), Math.trunc(pacer.ttlSeconds), pacer.nowMs);
    }
    const results = await this.#call(() => this.#run<number[][]>(SCRIPTS.reserve, keys, args));
    return requests.map((request, i): ReservationOutcome => {
      const [failed = 0, ...values] = results[i] ?? [];
      if (failed === 0) return { id: request.id, ok: true, values: values.map(Number) };
      const failedKey = [...request.counters, ...(request.pacers ?? [])][failed - 1]?.key;
      if (!failedKey) throw new Error(`reserve script answered item ${failed} for ${request.id}`);
      return { id: request.id, ok: false, failedKey };
    });
  }

  async refundCounters(refunds: Array<{ key: string; amount: number }>): Promise<void> {
    if (refunds.length === 0) return;
    const keys = [this.#keys(COUNTER, refunds.map((r) => r.key))];
    await this.#call(() => this.#run(SCRIPTS.refund, keys, refunds.map((r) => r.amount)));
  }

  async beginAuction(lockKeys: string[], lockTtlMs: number, readKeys: string[], readHashes: HashRead[] = []): Promise<AuctionStartResult> {
    const ttl = positiveMs(lockTtlMs, 'lockTtlMs');
    const token = pooledRandomHex(16);
    const keys = [this.#keys(LOCK, lockKeys), this.#keys(COUNTER, readKeys), this.#keys(COUNTER, readHashes.map((h) => h.key))];
    const args: ScriptArg[] = [lockKeys.length, token, ttl, readKeys.length];
    pushFieldReads(args, readHashes);
    const [locked, ...values] = await this.#call(() => this.#run<Array<number | string | null>>(SCRIPTS.beginAuction, keys, args));
    if (locked !== 1) return { locked: false };
    return { locked: true, token, values: startValues(readCount(readKeys, readHashes), values) };
  }

  async endAuction({ lockKeys, token, writes = [], fieldWrites = [], commitIds = [], hold, ifOpen = [], unhurried = false }: AuctionEnd): Promise<boolean> {
    if (lockKeys.length === 0 && writes.length === 0 && fieldWrites.length === 0 && commitIds.length === 0 && !hold && ifOpen.length === 0) return true;
    checkFieldWrites(fieldWrites);
    const hashes = byHash(fieldWrites);
    const keys: KeyGroup[] = [
      this.#keys('', [EXPIRY_KEY]),
      this.#keys(LOCK, lockKeys),
      this.#keys(COUNTER, writes.map((w) => w.key)),
      this.#keys(RECORD, commitIds),
      this.#keys(COUNTER, [...hashes.keys()]),
    ];
    if (hold) keys.push(this.#keys(HOLD, [hold.id]));
    const args: ScriptArg[] = [token, lockKeys.length, writes.length, commitIds.length, ifOpen.length, hold ? '1' : '0', hashes.size, ...ifOpen, ...commitIds];
    // Whole seconds, as SET EX takes them.
    for (const write of writes) args.push(write.value, Math.trunc(write.ttlSeconds), write.onlyIfAbsent ? '1' : '0');
    for (const fields of hashes.values()) {
      args.push(Math.max(...fields.map((w) => w.ttlSeconds)), fields.length);
      for (const write of fields) args.push(write.field, write.value);
    }
    if (hold) args.push(hold.record.payload, JSON.stringify(hold.record.reservationIds), positiveMs(hold.ttlMs, 'ttlMs'));
    return (await this.#call(() => this.#run<number>(SCRIPTS.endAuction, keys, args), unhurried)) === 1;
  }

  async announceConfigChange(): Promise<void> {
    await this.#call(() => this.#client.publish(this.#channel, String(Date.now())));
  }

  async onConfigChange(listener: () => void): Promise<() => Promise<void>> {
    this.#configListeners.add(listener);
    if (!this.#subscriber) {
      // A subscribed connection can do nothing else, hence its own; it resubscribes by itself
      // after a reconnect (ioredis autoResubscribe).
      const subscriber = new Redis(this.#url, { lazyConnect: true, retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000) });
      subscriber.on('error', () => {});
      subscriber.on('message', (channel: string) => {
        if (channel === this.#channel) for (const l of this.#configListeners) l();
      });
      this.#subscriber = subscriber;
      await subscriber.connect().catch(() => {});
      await subscriber.subscribe(this.#channel).catch(() => {});
    }
    return async () => {
      this.#configListeners.delete(listener);
    };
  }

  async commit(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = [this.#keys('', [EXPIRY_KEY]), this.#keys(RECORD, ids)];
    await this.#call(() => this.#run(SCRIPTS.commit, keys, ids));
  }

  async release(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const keys = [this.#keys('', [EXPIRY_KEY]), this.#keys(RECORD, ids)];
    return this.#call(() => this.#run<number>(SCRIPTS.release, keys, ids));
  }

  async releaseExpired(nowMs: number, limit: number): Promise<string[]> {
    checkLimit(limit);
    // The script finds ids first and only then their records, so it builds those names itself.
    const recordPrefix = this.#keyPrefix + RECORD;
    return this.#call(() => this.#run<string[]>(SCRIPTS.releaseExpired, [this.#keys('', [EXPIRY_KEY])], [nowMs, limit, recordPrefix]));
  }

  async putHold(id: string, hold: HoldRecord, ttlMs: number): Promise<void> {
    const ttl = positiveMs(ttlMs, 'ttlMs');
    await this.#call(() =>
      this.#run(SCRIPTS.putHold, [this.#keys(HOLD, [id])], [hold.payload, JSON.stringify(hold.reservationIds), ttl]),
    );
  }

  async claimHold(id: string, extendReservationsTo: number, begin?: AuctionStart): Promise<ClaimResult> {
    const token = begin ? pooledRandomHex(16) : '';
    const keys: KeyGroup[] = [this.#keys(HOLD, [id]), this.#keys('', [EXPIRY_KEY])];
    // Without an auction to begin, an empty lock count tells the script to take no lock.
    let args: ScriptArg[] = [extendReservationsTo, ''];
    const readHashes = begin?.readHashes ?? [];
    if (begin) {
      keys.push(this.#keys(LOCK, begin.lockKeys), this.#keys(COUNTER, begin.readKeys), this.#keys(COUNTER, readHashes.map((h) => h.key)));
      args = [extendReservationsTo, begin.lockKeys.length, token, positiveMs(begin.lockTtlMs, 'lockTtlMs'), begin.readKeys.length];
      pushFieldReads(args, readHashes);
    }
    const [state, payload, reservations, locked, ...values] = await this.#call(() => this.#run<Array<number | string | null>>(SCRIPTS.claimHold, keys, args));
    if (state === 'missing') return { state: 'missing' };
    if (state === 'already_claimed') return { state: 'already_claimed' };
    if (state !== 'claimed' || typeof payload !== 'string' || typeof reservations !== 'string') {
      throw new Error(`claim script answered ${String(state)}`);
    }
    const result: ClaimResult = { state: 'claimed', hold: { payload, reservationIds: JSON.parse(reservations) as string[] } };
    if (begin) result.start = locked === 1 ? { locked: true, token, values: startValues(readCount(begin.readKeys, readHashes), values) } : { locked: false };
    return result;
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    const ttl = positiveMs(ttlMs, 'ttlMs');
    const token = pooledRandomHex(16);
    const answer = await this.#call(() => this.#client.set(LOCK + key, token, 'PX', ttl, 'NX'));
    return answer === 'OK' ? token : null;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.#call(() => this.#run(SCRIPTS.releaseLock, [this.#keys(LOCK, [key])], [token]));
  }

  async takeTokens(request: TokenRequest): Promise<TokenLease> {
    checkTokenRequest(request);
    const { key, ratePerSecond, burst, nowMs, wanted, holder, holdUntilMs } = request;
    const [granted = 0, retryAfterMs = 0] = await this.#call(() =>
      this.#run<number[]>(SCRIPTS.takeTokens, [this.#keys(BUCKET, [key])], [ratePerSecond, burst, nowMs, wanted, holder, holdUntilMs ?? '', bucketLifetimeMs(request)]),
    );
    return { granted: Number(granted), retryAfterMs: Number(retryAfterMs) };
  }

  async regroupValues(kinds: string[], into: string): Promise<number> {
    const marker = REGROUPED + into;
    if ((await this.#call(() => this.#client.exists(marker))) === 1) return 0;
    // SCAN's pattern is not prefixed by ioredis, and the names it finds are full ones.
    const under = this.#keyPrefix + COUNTER;
    const hashPrefix = `${under}${into}:`;
    let moved = 0;
    for (const kind of kinds) {
      const pattern = `${globEscaped(under + kind)}:*`;
      let cursor = '0';
      do {
        const [next, found] = await this.#call(() => this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'string'));
        cursor = next;
        if (found.length > 0) {
          moved += await this.#call(() => this.#run<number>(SCRIPTS.regroup, [['', found]], [hashPrefix, Buffer.byteLength(under)]));
        }
      } while (cursor !== '0');
    }
    await this.#call(() => this.#client.set(marker, '1'));
    return moved;
  }

  async ping(): Promise<void> {
    await this.#call(() => this.#client.ping());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadlines.close();
    this.#subscriber?.disconnect();
    if (this.#client.status === 'ready') {
      await this.#client.quit().catch(() => this.#client.disconnect());
    } else {
      this.#client.disconnect();
    }
  }

  /** The connection is gone: calls from now on wait (once, together) for it to come back. */
  #markLost(): void {
    this.#disconnectedAt ??= Date.now();
    if (!this.#readyPending) this.#newReadyPromise();
  }

  #newReadyPromise(): void {
    // One pending promise per outage, shared by every call waiting for the connection.
    this.#readyPending = true;
    this.#ready = new Promise<void>((resolve) => {
      this.#markReady = () => {
        this.#readyPending = false;
        resolve();
      };
    });
  }

  /** Keys of one kind, under the store's prefix: scripts are given full names (src/store/script-command.ts). */
  #keys(kind: string, keys: readonly string[]): KeyGroup {
    return [this.#keyPrefix + kind, keys];
  }

  #run<T = unknown>(script: LuaScript, keys: KeyGroup[], args: ScriptArg[]): Promise<T> {
    return runScript(this.#client, script, keys, args, this.#deadlines) as Promise<T>;
  }

  /**
   * Runs a command once connected, waiting for the connection at most the command timeout, and
   * turns "Redis is unreachable" into ServiceUnavailable (answers from Redis, e.g. a script
   * error, pass through: they are bugs, not outages).
   */
  async #call<T>(command: () => Promise<T>, unhurried = false): Promise<T> {
    if (this.#closed) throw new Error('RedisStore is closed');
    try {
      if (this.#client.status !== 'ready') await this.#waitReady();
      try {
        if (unhurried) this.#turnWrites.holdBriefly(this.#client.stream, UNHURRIED_HOLD_MS);
        else this.#turnWrites.hold(this.#client.stream);
        return await command();
      } catch (error) {
        if (!neverWritten(error)) throw error;
        // The socket died before ioredis said so (its 'close' comes a moment later). The command
        // never left, so it waits for the connection like every call of this outage, then runs.
        this.#markLost();
        await this.#waitReady();
        this.#turnWrites.hold(this.#client.stream);
        return await command();
      }
    } catch (error) {
      if (error instanceof Error && error.name === 'ReplyError') throw error;
      const unavailable = new ServiceUnavailable(`Redis unavailable: ${describe(error)}`);
      unavailable.cause = error;
      throw unavailable;
    }
  }

  async #waitReady(): Promise<void> {
    // A blip is waited out, but only once: every call of an outage shares the one timeout that
    // started when the connection was lost, so calls during a long outage fail at once (503).
    const downForMs = this.#disconnectedAt === null ? 0 : Date.now() - this.#disconnectedAt;
    const waitMs = this.#timeoutMs - downForMs;
    const last = () => (this.#lastError === null ? '' : ` (last error: ${describe(this.#lastError)})`);
    if (waitMs <= 0) throw new Error(`not connected for ${downForMs} ms${last()}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`not connected after ${this.#timeoutMs} ms${last()}`));
      }, waitMs);
    });
    try {
      await Promise.race([this.#ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** How many values an auction's start reads: its keys, then every field of its hashes. */
function readCount(readKeys: string[], readHashes: HashRead[]): number {
  let count = readKeys.length;
  for (const hash of readHashes) count += hash.fields.length;
  return count;
}

/** Per hash to read, its field count and its fields, as BEGIN_ONE takes them. */
function pushFieldReads(args: ScriptArg[], readHashes: HashRead[]): void {
  for (const hash of readHashes) args.push(hash.fields.length, ...hash.fields);
}

/** Field writes grouped by hash, in the order each hash first appears: one HSET each. */
function byHash(fieldWrites: FieldWrite[]): Map<string, FieldWrite[]> {
  const hashes = new Map<string, FieldWrite[]>();
  for (const write of fieldWrites) {
    const fields = hashes.get(write.key);
    if (fields === undefined) hashes.set(write.key, [write]);
    else fields.push(write);
  }
  return hashes;
}

/** The values an auction's start read, as many as it asked for. */
function startValues(count: number, values: Array<number | string | null>): Array<string | null> {
  // Lua drops trailing nils from a table: missing trailing values come back short.
  const out = new Array<string | null>(count);
  for (let i = 0; i < count; i++) out[i] = values[i] === undefined || values[i] === null ? null : String(values[i]);
  return out;
}

/** A name matched literally by SCAN's glob pattern. */
export function globEscaped(name: string): string {
  return name.replace(/[*?[\]\\]/g, '\\$&');
}

/** ioredis refused to write the command at all (the stream is gone and the offline queue is off). */
function neverWritten(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Stream isn't writeable");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
