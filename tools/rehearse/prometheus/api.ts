/** Prometheus' HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/). */

/** GET of a URL's body (text). */
export async function getText(url: string, ms = 3000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

/** One API call: the `data` of a `success` answer, else a throw with the API's error. */
export async function api<T>(base: string, p: string, query: Record<string, string> = {}) {
  const qs = new URLSearchParams(query).toString();
  const body = JSON.parse(await getText(`${base}${p}${qs ? `?${qs}` : ""}`)) as {
    status: string;
    data: T;
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${p}: ${body.error ?? body.status}`);
  return body.data;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query's vector. */
export async function query(base: string, q: string): Promise<Sample[]> {
  return (await api<{ result: Sample[] }>(base, "/api/v1/query", { query: q })).result;
}

/** An instant query's values joined by commas, or "absent" for an empty vector. */
export async function value(base: string, q: string): Promise<string> {
  const r = await query(base, q);
  return r.length ? r.map((s) => s.value[1]).join(",") : "absent";
}
