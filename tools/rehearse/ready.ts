/**
 * Readiness waits for the rehearsal's daemons: whether a port accepts connections, and a poll
 * that gives up as soon as the daemon it waits for has ended, so a failed start is reported with
 * the daemon's last words at once instead of after the whole wait.
 */
import type { ChildProcess } from "node:child_process";
import * as net from "node:net";

/** Whether `host:port` accepts a TCP connection within `ms`. */
export function portOpen(host: string, port: number, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: ms });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

export interface Waited {
  /** The process whose end makes the wait pointless, and its name in the error. */
  proc: ChildProcess;
  name: string;
  ms: number;
  /** What the process said last (its log's tail), for the error. */
  why?: () => string;
  signal?: AbortSignal;
}

/** Polls `ok` every 100 ms until it holds; throws when the process ends, `signal` aborts or time is up. */
export async function waitUntil(what: string, ok: () => Promise<boolean>, w: Waited) {
  const until = Date.now() + w.ms;
  const why = () => (w.why ? `: ${w.why()}` : "");
  while (Date.now() < until) {
    if (w.signal?.aborted) throw new Error(`${what}: aborted`);
    const end = w.proc.exitCode ?? w.proc.signalCode;
    if (end !== null) throw new Error(`${w.name} ended (${end}) before ${what}${why()}`);
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${w.ms / 1000} s${why()}`);
}
