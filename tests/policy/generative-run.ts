/** Runs generated variants through one shared pack process and judges them. */
import fc from "fast-check";
import type { AnalyzerResource, Diagnostic, PolicyPackClient } from "../../tools/analyzer";
import { goodStack } from "./fixtures";
import type { Family, Variant } from "./generative";
import { summary } from "./harness";

/**
 * What `pulumi preview` reports for a variant. Resources identical to the good stack's are
 * known clean per resource (the good-stack test proves it), so only changed ones are analyzed
 * one by one; the stack view always sees everything.
 */
export async function analyzeVariant(
  pack: PolicyPackClient,
  stack: AnalyzerResource[],
): Promise<Diagnostic[]> {
  const good = new Set(goodStack().map((r) => JSON.stringify(r)));
  const out: Diagnostic[] = [];
  for (const r of stack) {
    if (!good.has(JSON.stringify(r))) out.push(...(await pack.analyze(r)).diagnostics);
  }
  out.push(...(await pack.analyzeStack(stack)).diagnostics);
  return out;
}

/** Why the pack's verdict on `v` is wrong, or undefined when it is right. */
export function misjudged(v: Variant, ds: Diagnostic[]): string | undefined {
  if (v.expect === "violation") {
    const hit = ds.some((d) => d.policyName === v.policy && d.enforcementLevel === v.level);
    return hit ? undefined : `missed by ${v.policy} (${v.level}): ${v.title}\n${summary(ds)}`;
  }
  const blocked = ds.filter((d) => d.enforcementLevel === "mandatory");
  return blocked.length ? `false block of ${v.title}\n${summary(blocked)}` : undefined;
}

export interface Tally {
  policy: string;
  violating: number;
  caught: number;
  legit: number;
  falsePositives: number;
  failures: string[];
}

/** Samples `runs` variants of each kind (seeded) and counts the pack's verdicts. */
export async function tally(
  pack: PolicyPackClient,
  family: Family,
  seed: number,
  runs: number,
): Promise<Tally> {
  const t: Tally = {
    policy: family.policy,
    violating: 0,
    caught: 0,
    legit: 0,
    falsePositives: 0,
    failures: [],
  };
  for (const v of fc.sample(family.violating, { seed, numRuns: runs })) {
    t.violating++;
    const why = misjudged(v, await analyzeVariant(pack, v.stack));
    if (why) t.failures.push(why);
    else t.caught++;
  }
  for (const v of fc.sample(family.legit, { seed: seed + 1, numRuns: runs })) {
    t.legit++;
    const why = misjudged(v, await analyzeVariant(pack, v.stack));
    if (why) {
      t.falsePositives++;
      t.failures.push(why);
    }
  }
  return t;
}
