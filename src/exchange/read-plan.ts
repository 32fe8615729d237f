// Collects the store keys an auction needs to read, so they all travel in one round trip, and
// hands the values back by the index each key was given.
//
// A key added twice is read twice: the plan does not look for repeats. With a hundred campaigns
// a lead's plan holds some four hundred keys, all built for this lead, and finding repeats meant
// hashing each of them into a Map that grew as it went, the largest of the auction's own costs
// per campaign. Only a buyer's keys can repeat (its budget and what it bought, shared by its
// campaigns), and the caller adds those once per buyer, by buyer id.
export class ReadPlan {
  readonly keys: string[] = [];

  add(key: string): number {
    return this.keys.push(key) - 1;
  }
}
