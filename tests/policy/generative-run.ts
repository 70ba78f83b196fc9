/** Runs generated variants through one shared pack process and judges them. */
import fc from "fast-check";
import type { AnalyzerResource, Diagnostic, PolicyPackClient } from "../../tools/analyzer/client";
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
    const mine = ds.filter((d) => d.policyName === v.policy);
    // An advisory (e.g. a value unknown during preview) must not also block.
    const blocked = v.level === "advisory" && mine.some((d) => d.enforcementLevel === "mandatory");
    if (blocked) return `blocked instead of advisory by ${v.policy}: ${v.title}\n${summary(mine)}`;
    const hit = mine.some((d) => d.enforcementLevel === v.level);
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

/** The path a variant exercises: its title up to the first ":", "(", "=", "{" or " in ". */
export function pathOf(title: string): string {
  return (title.split(/[:(={]| in | on | at /)[0] ?? title).trim();
}

/**
 * A seeded draw that exercises every path: a pool of candidates, then round-robin over the
 * paths until each has one variant and at least `runs` are chosen.
 */
export function pick(arb: fc.Arbitrary<Variant>, seed: number, runs: number): Variant[] {
  const groups = new Map<string, Variant[]>();
  for (const v of fc.sample(arb, { seed, numRuns: runs * 25 })) {
    const key = pathOf(v.title);
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  const out: Variant[] = [];
  const want = Math.max(runs, groups.size);
  while (out.length < want) {
    for (const list of groups.values()) {
      const v = list.shift();
      if (v && out.length < want) out.push(v);
    }
  }
  return out;
}

/** Draws variants of each kind (seeded, every path) and counts the pack's verdicts. */
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
  for (const v of pick(family.violating, seed, runs)) {
    t.violating++;
    const why = misjudged(v, await analyzeVariant(pack, v.stack));
    if (why) t.failures.push(why);
    else t.caught++;
  }
  for (const v of pick(family.legit, seed + 1, runs)) {
    t.legit++;
    const why = misjudged(v, await analyzeVariant(pack, v.stack));
    if (why) {
      t.falsePositives++;
      t.failures.push(why);
    }
  }
  return t;
}
