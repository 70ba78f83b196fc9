/** Policy pack processes driven through tools/analyzer like the CLI does, one per config. */
import * as path from "node:path";
import {
  PolicyPackClient,
  type AnalyzerResource,
  type Diagnostic,
  type PackConfig,
} from "../../tools/analyzer/client";
import { killChildren } from "../../tools/cli/children";

export const PACK_DIR = path.join(__dirname, "..", "..", "policy");

/**
 * Under `mocha --parallel` a worker process runs many test files in turn: there one pack process
 * per config serves them all (a pack holds no state between requests, and each start is a Node
 * process loading the SDK), ended when the worker leaves (tools/cli/children.ts tracks it). Run
 * serially, each file starts and closes its own, so mocha's process can drain and exit.
 */
const IN_WORKER = process.env.MOCHA_WORKER_ID !== undefined;
const shared = new Map<string, Promise<PolicyPackClient>>();

function workerPack(config?: PackConfig): Promise<PolicyPackClient> {
  if (shared.size === 0) {
    process.once("exit", killChildren);
    process.once("SIGTERM", () => {
      killChildren();
      process.exit(143);
    });
  }
  const key = JSON.stringify(config ?? null);
  let pack = shared.get(key);
  if (!pack) {
    pack = PolicyPackClient.start(PACK_DIR, config);
    shared.set(key, pack);
    pack.catch(() => shared.delete(key));
  }
  return pack;
}

/** Registers the hooks; the returned getter is valid inside tests. */
export function usePack(config?: PackConfig): () => PolicyPackClient {
  let pack: PolicyPackClient | undefined;
  before(async function () {
    this.timeout(120_000);
    pack = await (IN_WORKER ? workerPack(config) : PolicyPackClient.start(PACK_DIR, config));
  });
  after(async () => {
    if (!IN_WORKER) await pack?.close();
  });
  return () => {
    if (!pack) throw new Error("policy pack not started");
    return pack;
  };
}

/** What `pulumi preview` would report: Analyze per resource, then AnalyzeStack. */
export async function analyzeAll(
  pack: PolicyPackClient,
  resources: AnalyzerResource[],
): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  for (const r of resources) out.push(...(await pack.analyze(r)).diagnostics);
  out.push(...(await pack.analyzeStack(resources)).diagnostics);
  return out;
}

export function mandatory(ds: Diagnostic[]): Diagnostic[] {
  return ds.filter((d) => d.enforcementLevel === "mandatory");
}

/** Compact, value-free summary for assertion messages. */
export function summary(ds: Diagnostic[]): string {
  return ds
    .map((d) => `${d.enforcementLevel} ${d.policyName}: ${d.message.split("\n").pop() ?? ""}`)
    .join("\n");
}
