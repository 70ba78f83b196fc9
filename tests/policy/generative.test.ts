/**
 * The generative corpus through the Analyzer protocol: one pack process for every family,
 * seeded sampling (SEED) so a failure reproduces; RUNS variants of each kind per policy keep the
 * suite short (about 11 s for 25 families on two cores). `tests/policy/generative-measure.ts`
 * prints the tally.
 */
import * as assert from "node:assert/strict";
import { FAMILIES, SEED } from "./generative";
import { PREFLIGHT_FAMILIES } from "./generative-preflight";
import { SEAM_FAMILIES } from "./generative-seams";
import { tally } from "./generative-run";
import { usePack } from "./harness";

const RUNS = 8;
const ALL = [...FAMILIES, ...SEAM_FAMILIES, ...PREFLIGHT_FAMILIES];

describe("generative corpus (fast-check, seeded)", () => {
  const pack = usePack();

  it("has a family for every policy of the pack", async () => {
    const info = await pack().getAnalyzerInfo();
    const names = info.policies.map((p) => p.name).sort();
    assert.deepEqual([...new Set(ALL.map((f) => f.policy))].sort(), names);
  });

  for (const family of ALL) {
    it(`${family.policy}: catches every violating variant, blocks no legitimate one`, async () => {
      const t = await tally(pack(), family, SEED, RUNS);
      assert.ok(t.violating >= RUNS);
      assert.ok(t.legit >= RUNS);
      assert.deepEqual(t.failures, []);
    });
  }
});
