/**
 * The generative corpus through the Analyzer protocol: one pack process for every family,
 * seeded sampling (SEED) so a failure reproduces; RUNS variants of each kind per policy keeps
 * the suite near a minute on two cores. `tests/policy/generative-measure.ts` prints the tally.
 */
import * as assert from "node:assert/strict";
import { FAMILIES, SEED } from "./generative";
import { tally } from "./generative-run";
import { usePack } from "./harness";

const RUNS = 8;

describe("generative corpus (fast-check, seeded)", () => {
  const pack = usePack();

  it("has a family for every policy except the seam policies (their own tests)", async () => {
    const info = await pack().getAnalyzerInfo();
    const names = info.policies.map((p) => p.name);
    const covered = new Set(FAMILIES.map((f) => f.policy));
    for (const f of covered) assert.ok(names.includes(f), `no policy ${f} in the pack`);
    const seams = /^(crowdsec-.*|tls-secret-owned|mta-sts-served|prometheus-reads-monitoring)$/;
    assert.deepEqual(
      names.filter((n) => !covered.has(n) && !seams.test(n)),
      [],
    );
  });

  for (const family of FAMILIES) {
    it(`${family.policy}: catches every violating variant, blocks no legitimate one`, async () => {
      const t = await tally(pack(), family, SEED, RUNS);
      assert.ok(t.violating >= RUNS);
      assert.ok(t.legit >= RUNS);
      assert.deepEqual(t.failures, []);
    });
  }
});
