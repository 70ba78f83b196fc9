/**
 * Prints, per policy, how many generated variants the pack catches and how many legitimate
 * ones it blocks. `npx ts-node --transpile-only tests/policy/generative-measure.ts [runs] [packDir]`
 */
import { PolicyPackClient } from "../../tools/analyzer/client";
import { RUNS_WITH } from "./families";
import { SEED } from "./generative";
import { tally } from "./generative-run";
import { PACK_DIR } from "./harness";

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 40);
  const started = Date.now();
  console.log("policy\tviolating\tcaught\tlegit\tfalse positives");
  for (const { config, families } of RUNS_WITH) {
    const pack = await PolicyPackClient.start(process.argv[3] ?? PACK_DIR, config);
    try {
      for (const family of families) {
        const t = await tally(pack, family, SEED, runs);
        console.log(`${t.policy}\t${t.violating}\t${t.caught}\t${t.legit}\t${t.falsePositives}`);
        if (process.env.VERBOSE)
          for (const f of t.failures) console.log(`  ${f.replace(/\n/g, "\n    ")}`);
      }
    } finally {
      await pack.close();
    }
  }
  console.log(`elapsed ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

void main();
