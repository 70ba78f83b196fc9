/** Polls `find` every 250 ms until it answers, `ms` pass or `signal` aborts; a throw is no answer. */
export async function until<T>(
  find: () => Promise<T | undefined>,
  ms: number,
  signal: AbortSignal,
) {
  const end = Date.now() + ms;
  for (;;) {
    const hit = await find().catch(() => undefined);
    if (hit !== undefined || Date.now() >= end || signal.aborted) return hit;
    await new Promise((r) => setTimeout(r, 250));
  }
}
