// Collects the store keys an auction needs to read, each once, so they all travel in one
// round trip, and hands the values back by the index each key was given.
export class ReadPlan {
  readonly keys: string[] = [];
  readonly #index = new Map<string, number>();

  add(key: string): number {
    let index = this.#index.get(key);
    if (index === undefined) {
      index = this.keys.length;
      this.keys.push(key);
      this.#index.set(key, index);
    }
    return index;
  }
}
