// Collects what an auction needs to read from the store, so it all travels in one round trip, and
// hands the values back by the index each read was given: keys, and fields of a consumer's history.
//
// A key added twice is read twice: the plan does not look for repeats. With a hundred campaigns
// a lead's plan holds some two hundred keys, all built for this lead, and finding repeats meant
// hashing each of them into a Map that grew as it went, the largest of the auction's own costs
// per campaign. Only a buyer's reads can repeat (its budget and what it bought, shared by its
// campaigns), and the caller adds those once per buyer, by buyer id.
import type { HashRead } from '../store/store.ts';

export class ReadPlan {
  readonly keys: string[] = [];
  readonly hashes: HashRead[] = [];
  // Per read, in the order given: the hash it is a field of (-1 for a key), and its place in
  // `keys` or in that hash's fields.
  readonly #hashOf: number[] = [];
  readonly #placeOf: number[] = [];

  /** Reads a key; its value will be at the index returned. */
  add(key: string): number {
    this.#hashOf.push(-1);
    return this.#placeOf.push(this.keys.push(key) - 1) - 1;
  }

  /**
   * Reads a field of the hash at `hash`, an index from `addHash`; its value will be at the index
   * returned.
   */
  field(hash: number, field: string): number {
    this.#hashOf.push(hash);
    return this.#placeOf.push(this.hashes[hash]!.fields.push(field) - 1) - 1;
  }

  /** A hash whose fields are read with `field`. */
  addHash(key: string): number {
    return this.hashes.push({ key, fields: [] }) - 1;
  }

  /**
   * The store's answer (the keys' values, then each hash's fields: Store.beginAuction) in the
   * order the reads were given.
   */
  arrange(values: Array<string | null>): Array<string | null> {
    if (this.hashes.length === 0) return values;
    const starts: number[] = [];
    let at = this.keys.length;
    for (const hash of this.hashes) {
      starts.push(at);
      at += hash.fields.length;
    }
    const out = new Array<string | null>(this.#placeOf.length);
    for (let i = 0; i < out.length; i++) {
      const hash = this.#hashOf[i]!;
      out[i] = values[(hash === -1 ? 0 : starts[hash]!) + this.#placeOf[i]!] ?? null;
    }
    return out;
  }
}
