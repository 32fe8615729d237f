// The cross-node state port. Two implementations: Redis (many exchange nodes) and in-process
// memory (the embedded default). Both must pass test/store/store-contract.ts.
import type { TokenLease, TokenRequest } from './token-bucket.ts';

export type { TokenGrant, TokenLease, TokenRequest } from './token-bucket.ts';

/** One counter a reservation touches, e.g. a campaign's leads-per-day or spend-per-month. */
export interface CounterSpec {
  key: string;
  /** Amount to add (integer: a lead count or cents). */
  amount: number;
  /** The counter after adding must stay <= limit; null means no limit (track only). */
  limit: number | null;
  /** Lifetime of the counter key; refreshed on each reservation. */
  ttlSeconds: number;
}

/**
 * A smooth rate limit (GCRA with no burst): one unit every `intervalMs`. The key holds the next
 * free instant; `nowMs` is the caller's clock (nodes are NTP-synced: a few ms of skew is nothing
 * next to a pacing interval, and the caller's eligibility check uses the same clock).
 */
export interface PacerSpec {
  key: string;
  intervalMs: number;
  ttlSeconds: number;
  nowMs: number;
}

export interface ReservationRequest {
  /** Caller-chosen unique id. */
  id: string;
  counters: CounterSpec[];
  /** Taken together with the counters, all or nothing; a release gives the slot back. */
  pacers?: PacerSpec[];
  /** Absolute epoch milliseconds after which the sweeper releases it if neither committed nor released. */
  expiresAt: number;
}

export type ReservationOutcome =
  /** `values`: each counter after this reservation, in request order (for threshold alerts). */
  | { id: string; ok: true; values: number[] }
  /** `failedKey`: the counter or pacer that did not fit. */
  | { id: string; ok: false; failedKey: string };

/** A plain value written when an auction ends (who bought whom, when an affiliate sent whom). */
export interface ValueWrite {
  key: string;
  value: string;
  ttlSeconds: number;
  /** Keep an existing value (and its TTL) instead of overwriting it. */
  onlyIfAbsent?: boolean;
}

/**
 * Fields of one hash to read when an auction starts. A consumer's history is one hash per contact
 * hash (who sent it, who bought it, who holds it exclusively), so an auction with many buyers
 * reads two keys for it, not two per buyer.
 */
export interface HashRead {
  key: string;
  fields: string[];
}

/**
 * A field set in a hash when an auction ends. A hash has one lifetime for all its fields: a write
 * makes it live at least `ttlSeconds` from now and never shortens it, so a field can outlive its
 * own window; readers judge each field by the time written in its value.
 */
export interface FieldWrite {
  key: string;
  field: string;
  value: string;
  ttlSeconds: number;
}

/** What endAuction does, all in one script. */
export interface AuctionEnd {
  /** The locks beginAuction took, and the token it answered. */
  lockKeys: string[];
  token: string;
  writes?: ValueWrite[];
  fieldWrites?: FieldWrite[];
  /** Reservations of the lead's sales, made permanent. */
  commitIds?: string[];
  /** A two-phase ping's hold, stored as by putHold(). */
  hold?: { id: string; record: HoldRecord; ttlMs: number };
  /**
   * End only if every one of these reservations is open (reserved, neither committed nor
   * released); otherwise change nothing. Lets the end go out right behind the reservation it
   * depends on, in the same round trip, without waiting for its answer.
   */
  ifOpen?: string[];
  /**
   * Nobody waits on this end's answer (a recorded sale's, say): the store may hold it back a few
   * milliseconds to send it with its next call, ahead of that call. Later calls of this store
   * still see it done; another node may see the lock a little longer.
   */
  unhurried?: boolean;
}

export type AuctionStartResult =
  | { locked: true; token: string; values: Array<string | null> }
  | { locked: false };

export interface HoldRecord {
  /** Opaque payload (JSON) for the caller. */
  payload: string;
  /** Reservations whose expiry moves with the hold. */
  reservationIds: string[];
}

/** A consumer auction to start, as beginAuction() does. */
export interface AuctionStart {
  lockKeys: string[];
  lockTtlMs: number;
  readKeys: string[];
  readHashes?: HashRead[];
}

export type ClaimResult =
  /** `start`: only when claimHold was asked to begin an auction, whether that auction began. */
  | { state: 'claimed'; hold: HoldRecord; start?: AuctionStartResult }
  | { state: 'missing' }
  | { state: 'already_claimed' };

/**
 * Calls take effect in the order they are made, whether or not the caller waits for each answer
 * (Redis: one connection, commands pipelined in order; memory: at once). The exchange relies on
 * it to reserve the next bid without waiting for the release of a refused one.
 */
export interface Store {
  readonly kind: 'redis' | 'memory';

  /** Current values of integer counters, missing keys read as 0. One round trip. */
  readCounters(keys: string[]): Promise<number[]>;

  /**
   * Starts an auction in one round trip: takes every lock in `lockKeys` (all or none; the
   * consumer locks that keep two nodes from auctioning one consumer at once) and, when they are
   * taken, reads `readKeys` (counters and values share one key space), then the fields of
   * `readHashes`. `values` holds the keys' values in order, then each hash's fields in order.
   */
  beginAuction(lockKeys: string[], lockTtlMs: number, readKeys: string[], readHashes?: HashRead[]): Promise<AuctionStartResult>;

  /**
   * Ends an auction in one atomic round trip: commits `commitIds` (as commit()), stores `hold`
   * (as putHold()), writes `writes` and `fieldWrites`, then releases the locks `token` still holds. All but the
   * release happen whoever holds the locks by then: they record what the auction already decided.
   * Answers false, having changed nothing, when a reservation in `ifOpen` is not open.
   */
  endAuction(end: AuctionEnd): Promise<boolean>;

  /**
   * Reserve each request all-or-nothing (every counter fits its limit, or nothing is added),
   * independently of the others, in one atomic round trip. Outcomes keep the request order.
   */
  reserve(requests: ReservationRequest[]): Promise<ReservationOutcome[]>;

  /** Make reservations permanent: counters keep their amounts, the records are forgotten. */
  commit(ids: string[]): Promise<void>;

  /** Undo reservations still open. Idempotent; returns how many were actually released. */
  release(ids: string[]): Promise<number>;

  /**
   * Takes amounts off counters outside any reservation (an approved return giving back a sale's
   * cap usage). Counters that no longer exist stay gone; none goes below zero.
   */
  refundCounters(refunds: Array<{ key: string; amount: number }>): Promise<void>;

  /** Release open reservations whose expiresAt <= nowMs; returns the released ids. */
  releaseExpired(nowMs: number, limit: number): Promise<string[]>;

  /** Store a hold; it can be claimed once. The record stays readable for ttlMs. */
  putHold(id: string, hold: HoldRecord, ttlMs: number): Promise<void>;

  /**
   * Claim a hold exactly once across all nodes; on success its reservations' expiry is moved
   * to extendReservationsTo (absolute epoch ms) so a post in progress is not swept. With
   * `begin`, a successful claim also starts that auction as beginAuction() would, in the same
   * atomic round trip; a hold that is missing or already claimed takes no lock.
   */
  claimHold(id: string, extendReservationsTo: number, begin?: AuctionStart): Promise<ClaimResult>;

  /** A lease-style lock: returns a token when acquired, null when someone else holds it. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  releaseLock(key: string, token: string): Promise<void>;

  /**
   * Takes up to `wanted` tokens at once from the bucket `key` (created full: `burst` tokens,
   * refilled at `ratePerSecond`), atomically across all nodes: as many as are whole and left,
   * never more than wanted. When none is left, says how long until one is back. `nowMs` is the
   * caller's clock; a bucket never refills backwards when nodes' clocks differ. Tokens a holder
   * keeps to spend until `holdUntilMs` keep their room in the bucket until then, or until that
   * holder asks again (src/store/token-bucket.ts says why).
   */
  takeTokens(request: TokenRequest): Promise<TokenLease>;

  /**
   * Configuration changed on some node: every node's listener runs (within about a second).
   * The in-process store has one node, so it just calls its own listeners.
   */
  announceConfigChange(): Promise<void>;
  onConfigChange(listener: () => void): Promise<() => Promise<void>>;

  /**
   * Moves values kept before hashes into them, once per store: every value `<kind>:<rest>:<last>`
   * of one of `kinds` becomes field `<kind>:<rest>` of hash `<into>:<last>`, which then lives at
   * least as long as the value had left. A field already in the hash is newer and is kept.
   * Answers how many values it moved; a store that has regrouped into `into` before answers 0
   * without looking. Auctions may run meanwhile: each value moves atomically.
   */
  regroupValues(kinds: string[], into: string): Promise<number>;

  /** Throws when the backing service cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
