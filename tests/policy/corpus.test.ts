import * as assert from "node:assert/strict";
import { CORPUS, FAKE_BREVO_KEY } from "./corpus";
import { analyzeAll, mandatory, summary, usePack } from "./harness";

describe("misconfiguration corpus", () => {
  const pack = usePack();

  it("has a case for every mandatory policy the pack serves", async () => {
    const info = await pack().getAnalyzerInfo();
    const covered = new Set(CORPUS.map((bad) => bad.policy));
    const uncovered = info.policies
      .filter((p) => p.enforcementLevel === "mandatory" && !covered.has(p.name))
      .map((p) => p.name);
    assert.deepEqual(uncovered, []);
  });

  for (const bad of CORPUS) {
    it(`${bad.policy} catches: ${bad.title}`, async () => {
      const ds = mandatory(await analyzeAll(pack(), bad.stack()));
      assert.deepEqual(
        [...new Set(ds.map((d) => d.policyName))].sort(),
        [bad.policy, ...(bad.also ?? [])].sort(),
        summary(ds),
      );
      assert.ok(
        ds.some((d) => bad.message.test(d.message)),
        summary(ds),
      );
      for (const d of ds) assert.ok(!d.message.includes(FAKE_BREVO_KEY), "message leaks a secret");
    });
  }
});
