/**
 * The generative corpus through the Analyzer protocol: one pack process per config of
 * tests/policy/families.ts, seeded sampling (SEED) so a failure reproduces; RUNS variants of each
 * kind per policy keep the suite short. The families are dealt to PARTS test files so mocha's
 * workers run them side by side. `tests/policy/generative-measure.ts` prints the tally.
 */
import * as assert from "node:assert/strict";
import { RUNS_WITH } from "./families";
import { SEED } from "./generative";
import { tally } from "./generative-run";
import { usePack } from "./harness";

const RUNS = 8;
export const PARTS = 2;

/** Part `part` (0-based) of the families, every PARTS-th one from `part`. */
export function describeGenerative(part: number): void {
  describe(`generative corpus, part ${part + 1} of ${PARTS} (fast-check, seeded)`, () => {
    const all = RUNS_WITH.flatMap((r) =>
      r.families.map((family) => ({ config: r.config, family })),
    );
    const mine = all.filter((_, i) => i % PARTS === part);
    const used = new Set([
      ...(part === 0 ? [RUNS_WITH[0].config] : []),
      ...mine.map((m) => m.config),
    ]);
    const packs = new Map([...used].map((config) => [config, usePack(config)]));

    if (part === 0) {
      it("has a family for every policy of the pack", async () => {
        const info = await packs.get(RUNS_WITH[0].config)!().getAnalyzerInfo();
        const names = info.policies.map((p) => p.name).sort();
        const covered = all.map((f) => f.family.policy);
        assert.deepEqual([...new Set(covered)].sort(), names);
      });
    }

    for (const { config, family } of mine) {
      it(`${family.policy}: catches every violating variant, blocks no legitimate one`, async () => {
        const t = await tally(packs.get(config)!(), family, SEED, RUNS);
        assert.ok(t.violating >= RUNS);
        assert.ok(t.legit >= RUNS);
        assert.deepEqual(t.failures, []);
      });
    }
  });
}
