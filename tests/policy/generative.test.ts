/**
 * The generative corpus through the Analyzer protocol: one pack process per config of
 * tests/policy/families.ts, seeded sampling (SEED) so a failure reproduces; RUNS variants of each
 * kind per policy keep the suite short. `tests/policy/generative-measure.ts` prints the tally.
 */
import * as assert from "node:assert/strict";
import { RUNS_WITH } from "./families";
import { SEED } from "./generative";
import { tally } from "./generative-run";
import { usePack } from "./harness";

const RUNS = 8;

describe("generative corpus (fast-check, seeded)", () => {
  const runs = RUNS_WITH.map((r) => ({ ...r, pack: usePack(r.config) }));

  it("has a family for every policy of the pack", async () => {
    const info = await runs[0].pack().getAnalyzerInfo();
    const names = info.policies.map((p) => p.name).sort();
    const covered = RUNS_WITH.flatMap((r) => r.families.map((f) => f.policy));
    assert.deepEqual([...new Set(covered)].sort(), names);
  });

  for (const { families, pack } of runs) {
    for (const family of families) {
      it(`${family.policy}: catches every violating variant, blocks no legitimate one`, async () => {
        const t = await tally(pack(), family, SEED, RUNS);
        assert.ok(t.violating >= RUNS);
        assert.ok(t.legit >= RUNS);
        assert.deepEqual(t.failures, []);
      });
    }
  }
});
