// The holds this node stored, kept in memory until posted or expired. A post that reaches the
// node of its ping then knows the hold's bids before claiming it, so the claim can also take the
// consumer lock and read the consumer's history in the same round trip. A post that reaches
// another node, or comes after a restart, claims first and reads after: the store stays the
// only truth, this is only what the node already knew.
import type { HoldPayload } from './holds.ts';

export class HoldCache {
  readonly #entries = new Map<string, HoldPayload>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  remember(id: string, hold: HoldPayload, now: number): void {
    // Holds are remembered in the order they expire (one TTL for all), so the expired ones are
    // the oldest: dropping them from the front keeps the map to the holds still postable.
    for (const [oldId, old] of this.#entries) {
      if (old.expires_at > now && this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(oldId);
    }
    this.#entries.set(id, hold);
  }

  /** The hold, once: whatever the claim answers, the node has no further use for it. */
  take(id: string, now: number): HoldPayload | undefined {
    const hold = this.#entries.get(id);
    if (hold === undefined) return undefined;
    this.#entries.delete(id);
    // An expired hold is the store's to answer (410), with its reservations given back.
    return hold.expires_at > now ? hold : undefined;
  }
}
