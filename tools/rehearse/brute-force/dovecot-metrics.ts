/**
 * Dovecot's auth counters from the stats listener the rendered dovecot.cf opens, read before and
 * after the guesses: each wrong guess, IMAP or SMTP (Postfix's SASL asks the same auth service),
 * must count once.
 */
import * as http from "node:http";
import { POD_ADDRESS, type MailPod } from "../pod";

const DOVECOT_CF = "/tmp/docker-mailserver/dovecot.cf";
export const FAILURES = "dovecot_auth_failures_total";
export const SUCCESSES = "dovecot_auth_success_total";

export interface Metrics {
  text: string;
  failures: number;
  successes: number;
}

/** The stats listener's port in the rendered dovecot.cf. */
export function statsPort(pod: MailPod): number {
  const cf = pod.files.find((f) => f.mountPath === DOVECOT_CF)?.content ?? "";
  const port = Number(/inet_listener http \{\s*port = (\d+)/.exec(cf)?.[1]);
  if (!(port > 0)) throw new Error(`the rendered dovecot.cf opens no stats http listener`);
  return port;
}

function get(port: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = http.get({ host: POD_ADDRESS, port, path: "/metrics", timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}

export async function metrics(port: number): Promise<Metrics> {
  const text = await get(port);
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    if (line === undefined) throw new Error(`Dovecot serves no ${series}`);
    return Number(line.slice(series.length + 1));
  };
  return { text, failures: value(FAILURES), successes: value(SUCCESSES) };
}

/** Scrapes until the failures counter reached `before + expected` (the stats process aggregates as events arrive), at most 3 s. */
export async function metricsUntil(
  port: number,
  before: Metrics,
  expected: number,
  signal: AbortSignal,
) {
  let m = await metrics(port);
  for (let i = 0; i < 15 && !signal.aborted && m.failures < before.failures + expected; i++) {
    await new Promise((r) => setTimeout(r, 200));
    m = await metrics(port);
  }
  // Once more a moment later: a counter that overshoots must show it.
  await new Promise((r) => setTimeout(r, 300));
  return metrics(port);
}

/** The auth series of a scrape, for the report. */
export function metricLines(text: string): string {
  return text
    .split("\n")
    .filter((l) => l.startsWith("dovecot_auth_"))
    .join("\n");
}
