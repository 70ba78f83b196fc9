/**
 * Scenario 6 "MTA-STS": the Worker the program deploys (./mta-sts/plan.ts), run by Cloudflare's
 * own runtime, workerd, with its planned module, bindings and compatibility date
 * (./mta-sts/workerd.ts), and fetched over HTTPS by mailauth's strict RFC 8461 client the way a
 * sending MTA does (./mta-sts/client.ts). Then every MX of the zone must pass the served policy,
 * an attacker's host must not, and the `_mta-sts` id the program plans must follow the bytes
 * workerd served (./mta-sts/checks.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fetchPolicy, type Served } from "./mta-sts/client";
import { attackerCheck, fetchCheck, idCheck, mxCheck, type Check } from "./mta-sts/checks";
import {
  plannedStsTxt,
  plannedWorker,
  PlanError,
  zoneMx,
  type PlannedWorker,
} from "./mta-sts/plan";
import { certOrReason, started, startWorkerd, type Tls } from "./mta-sts/workerd";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";

const NAME = "6 MTA-STS";
const SERVED_FILE = "mta-sts/served.txt";

function result(checks: Check[], files: string[]): ScenarioResult {
  return {
    name: NAME,
    verdict: checks.every((c) => c.ok) ? "pass" : "fail",
    evidence: checks.map((c) => `${c.ok ? "pass" : "FAIL"}: ${c.line}`),
    files,
  };
}

/** Rejects as soon as `signal` aborts, so a stopped rehearsal does not wait for a fetch. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Starts workerd, lets mailauth fetch through it and judges the answers; always disposes workerd. */
async function rehearse(ctx: RehearsalContext, worker: PlannedWorker, tls: Tls) {
  const mf = startWorkerd(worker, tls);
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= mf.dispose());
  const onAbort = () => void dispose();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const url = await abortable(started(mf), ctx.signal);
    if (typeof url === "string") return { checks: [{ ok: false, line: url }] };
    const txt = plannedStsTxt(ctx.run, worker.domain);
    const workerd = { port: Number(url.port), ca: tls.cert };
    const { value: fetched, served } = await abortable(
      fetchPolicy(worker, txt, workerd),
      ctx.signal,
    );
    const checks = [
      fetchCheck(worker, fetched, served),
      ...zoneMx(ctx.run, worker.domain).map((mx) => mxCheck(mx, fetched)),
      attackerCheck(fetched),
      idCheck(txt, served),
    ];
    return { checks, served };
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    await dispose();
  }
}

function writeServed(out: string, served: Served | undefined): string[] {
  if (!served?.complete) return [];
  mkdirSync(path.join(out, path.dirname(SERVED_FILE)), { recursive: true });
  writeFileSync(path.join(out, SERVED_FILE), served.body);
  return [SERVED_FILE];
}

/**
 * The scenario. A plan without a served policy host fails; without openssl nothing is rehearsed.
 * When `ctx.signal` aborts it rejects with the abort's reason, once workerd has ended.
 */
export const mtaSts: Scenario = async (ctx) => {
  let worker: PlannedWorker;
  try {
    worker = plannedWorker(ctx.run);
  } catch (err) {
    if (err instanceof PlanError) return result([{ ok: false, line: err.message }], []);
    throw err;
  }
  const tls = await certOrReason(worker.host, ctx.signal);
  if (typeof tls === "string") {
    return { name: NAME, verdict: "not rehearsed", evidence: [tls], files: [] };
  }
  const { checks, served } = await rehearse(ctx, worker, tls);
  return result(checks, writeServed(ctx.out, served));
};
