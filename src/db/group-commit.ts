// Group commit: while one write is at the database, the records that arrive meanwhile gather and
// go together as one statement. An idle exchange writes each record at once (a group of one); a
// busy one writes fewer, bigger statements, so round trips per record fall as load rises instead
// of queueing up one per lead. Every caller still learns whether ITS record is durable.
import { isConnectionFailure } from './pg-errors.ts';

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  /** The most records in one statement (bounds its size and the blast radius of a bad record). */
  maxGroup: number;
}

export class GroupCommit<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #maxGroup: number;
  #queue: Array<Waiting<T>> = [];
  #busy = false;

  constructor(write: (items: T[]) => Promise<void>, options: GroupCommitOptions) {
    if (!Number.isInteger(options.maxGroup) || options.maxGroup < 1) throw new RangeError('maxGroup must be an integer >= 1');
    this.#write = write;
    this.#maxGroup = options.maxGroup;
  }

  /** Resolves once the record is committed; rejects with the error of the statement that carried it. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#busy) return;
      this.#busy = true;
      // A microtask later, so records added in the same tick already share the first statement.
      queueMicrotask(() => this.#next());
    });
  }

  #next(): void {
    const group = this.#queue.splice(0, this.#maxGroup);
    if (group.length === 0) {
      this.#busy = false;
      return;
    }
    void this.#commit(group).finally(() => this.#next());
  }

  async #commit(group: Array<Waiting<T>>): Promise<void> {
    try {
      await this.#write(group.map((w) => w.item));
      for (const waiting of group) waiting.resolve();
      return;
    } catch (error) {
      // An unreachable database fails every record alike: each caller decides whether to retry.
      if (group.length === 1 || isConnectionFailure(error)) {
        for (const waiting of group) waiting.reject(error);
        return;
      }
    }
    // The statement was refused (one record's unique key, say): that record must not take the
    // others down with it, so each one is tried alone and gets its own answer.
    await Promise.all(
      group.map(async (waiting) => {
        try {
          await this.#write([waiting.item]);
          waiting.resolve();
        } catch (error) {
          waiting.reject(error);
        }
      }),
    );
  }
}
