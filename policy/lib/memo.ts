/**
 * Memoises a pure function of a string. The pack process lives for a whole preview and sees the
 * same few texts (acquisition YAML, globs, type tokens) for every resource and every policy, so
 * each is parsed once; the bound keeps a stack with many distinct texts from growing the cache
 * without limit (the oldest entry goes first).
 */
export function memoize<T>(fn: (key: string) => T, limit = 256): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as T;
    const value = fn(key);
    if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
    cache.set(key, value);
    return value;
  };
}

/** Runs `fn` on the first call only; later calls return its first result. */
export function once<T>(fn: () => T): () => T {
  let done: { value: T } | undefined;
  return () => (done ??= { value: fn() }).value;
}
