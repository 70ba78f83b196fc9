/** One policy pack process per test file, driven through tools/analyzer like the CLI does. */
import * as path from "node:path";
import {
  PolicyPackClient,
  type AnalyzerResource,
  type Diagnostic,
  type PackConfig,
} from "../../tools/analyzer/client";

export const PACK_DIR = path.join(__dirname, "..", "..", "policy");

/** Registers before/after hooks; the returned getter is valid inside tests. */
export function usePack(config?: PackConfig): () => PolicyPackClient {
  let pack: PolicyPackClient | undefined;
  before(async function () {
    this.timeout(120_000);
    pack = await PolicyPackClient.start(PACK_DIR, config);
  });
  after(async () => {
    await pack?.close();
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
