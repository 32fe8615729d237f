// A real store with one of its methods put behind a test's own function (to delay it, gate it,
// or stop Redis first); every other call goes through unchanged.
import type { Store } from '../../src/store/store.ts';

type Method = { [K in keyof Store]: Store[K] extends (...args: any[]) => any ? K : never }[keyof Store];

export function withStoreMethod<K extends Method>(inner: Store, method: K, wrap: (original: Store[K]) => Store[K]): Store {
  // Bound to the inner store: its methods use private fields, which a Proxy receiver lacks.
  const replaced = wrap((inner[method] as (...args: unknown[]) => unknown).bind(inner) as Store[K]);
  return new Proxy(inner, {
    get(target, property) {
      if (property === method) return replaced;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
