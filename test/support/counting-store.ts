// A real store that also counts the calls made to it, per method: how the tests see how many
// round trips a request costs. Every call goes through to the wrapped store unchanged.
import type { Store } from '../../src/store/store.ts';

export interface CountingStore {
  store: Store;
  /** Calls per method name since the last reset. */
  counts: Map<string, number>;
  /** Every call since the last reset, in order, with its arguments and (once it came) its answer. */
  calls: Array<{ method: string; args: unknown[]; result?: unknown }>;
  count(...methods: string[]): number;
  reset(): void;
}

export function countingStore(inner: Store): CountingStore {
  const counts = new Map<string, number>();
  const calls: CountingStore['calls'] = [];
  // Bound to the inner store: its methods use private fields, which a Proxy receiver lacks.
  const store = new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        counts.set(property, (counts.get(property) ?? 0) + 1);
        const call: CountingStore['calls'][number] = { method: property, args };
        calls.push(call);
        const answer = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (answer instanceof Promise) void answer.then((result: unknown) => (call.result = result), () => {});
        return answer;
      };
    },
  });
  return {
    store,
    counts,
    calls,
    count: (...methods) => methods.reduce((sum, method) => sum + (counts.get(method) ?? 0), 0),
    reset: () => {
      counts.clear();
      calls.length = 0;
    },
  };
}
