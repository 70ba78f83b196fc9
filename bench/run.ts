/**
 * `npm run bench`: figures for the README, as ratios (no timed assertions).
 *
 * 1. Plan wall time against a floor. Both are fresh node processes started the same way
 *    (`node -r ts-node/register/transpile-only <file>`): the floor only loads @pulumi/pulumi and
 *    the three providers; the plan is `tools/plan.ts --stack prod`. Median of BENCH_RUNS (5).
 *    For context, the policy pack's start-up alone (the CLI's way: ts-node with type checking)
 *    and the program run alone are timed in this process.
 * 2. Audit throughput on synthetic exports of 1,000 and 10,000 resources built here from the
 *    prod plan (copies with distinct names): export → parse → Analyze each + AnalyzeStack, on one
 *    started pack. Resources per second, and the per-resource cost at 10k over 1k (1.0 = linear).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { PolicyPackClient } from "../tools/analyzer";
import { auditItems } from "../tools/audit";
import { buildExport, itemsFromRun, parseExport } from "../tools/export";
import { loadStackConfig, runProgram } from "../tools/mock-program";
import { PACK_DIR, readPackConfig, startPack, type Item } from "../tools/report";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeProcess(args: string[], okCodes: number[]): number {
  const start = process.hrtime.bigint();
  const res = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status === null || !okCodes.includes(res.status)) {
    throw new Error(`${args.join(" ")} exited ${res.status}:\n${res.stderr}`);
  }
  return ms;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function suffixName(value: unknown, k: number): unknown {
  return typeof value === "string" ? `${value}-c${k}` : value;
}

/** `count` resources: the root stack once, then copies of everything else with distinct names. */
function synthesize(base: Item[], count: number): Item[] {
  const root = base.find((i) => i.type === "pulumi:pulumi:Stack" && !i.parent);
  const rest = base.filter((i) => i !== root);
  const out: Item[] = root ? [root] : [];
  for (let k = 0; out.length < count; k++) {
    const rename = (urn: string) => (urn === root?.urn || !urn ? urn : `${urn}-c${k}`);
    for (const item of rest) {
      if (out.length >= count) break;
      const inputs = structuredClone(item.inputs);
      const meta = inputs.metadata as Record<string, unknown> | undefined;
      if (meta) meta.name = suffixName(meta.name, k);
      if (typeof inputs.name === "string" && item.type.startsWith("cloudflare:")) {
        inputs.name = `c${k}.${inputs.name}`;
      }
      out.push({
        ...item,
        urn: rename(item.urn),
        name: `${item.name}-c${k}`,
        parent: rename(item.parent),
        dependencies: item.dependencies.map(rename),
        inputs,
        outputs: item.custom ? inputs : structuredClone(item.outputs),
      });
    }
  }
  return out;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${RUNS} runs per process figure (median)\n`);

  // 1. Plan against the floor, alternating so drift affects both alike.
  const floor: number[] = [];
  const plan: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(timeProcess(["bench/floor.ts"], [0]));
    plan.push(timeProcess(["tools/plan.ts", "--stack", "prod"], [0, 1]));
  }
  const packStart: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    let client: PolicyPackClient | undefined;
    packStart.push(await timeAsync(async () => (client = await PolicyPackClient.start(PACK_DIR))));
    await client?.close();
  }
  const config = loadStackConfig("prod");
  const programRuns: number[] = [];
  let run = await runProgram({ config });
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    programRuns.push(await timeAsync(async () => (run = await runProgram({ config }))));
  }
  const f = median(floor);
  const p = median(plan);
  console.log("plan wall time (child processes, ts-node transpile-only)");
  console.log(`  floor (load @pulumi/pulumi + kubernetes, cloudflare, vault)  ${f.toFixed(0)} ms`);
  console.log(`  plan --stack prod                                            ${p.toFixed(0)} ms`);
  console.log(
    `  ratio plan / floor                                           ${(p / f).toFixed(2)}x (target <= 2x)`,
  );
  console.log("  context, in this process:");
  console.log(
    `    policy pack start (run-policy-pack, type-checked ts-node)  ${median(packStart).toFixed(0)} ms`,
  );
  console.log(
    `    program run under mocks (warm)                             ${median(programRuns).toFixed(0)} ms`,
  );

  // 2. Audit throughput.
  const base = itemsFromRun(run);
  const { pack, info } = await startPack(
    readPackConfig(path.join(PACK_DIR, "config.prod.json")),
    "policy/config.prod.json",
    "prod",
  );
  const results: { n: number; ms: number; violations: number }[] = [];
  try {
    for (const n of [1000, 10000]) {
      const text = JSON.stringify(buildExport(synthesize(base, n), run.stackUrn));
      let violations = 0;
      const ms = await timeAsync(async () => {
        const parsed = parseExport(text, `synthetic-${n}.json`);
        violations = (await auditItems(pack, info, parsed.items, parsed.stackUrn)).length;
      });
      results.push({ n, ms, violations });
    }
  } finally {
    await pack.close();
  }
  console.log("\naudit throughput (one started pack; parse + Analyze each + AnalyzeStack)");
  for (const r of results) {
    console.log(
      `  ${String(r.n).padStart(6)} resources  ${r.ms.toFixed(0).padStart(7)} ms  ${((r.n / r.ms) * 1000).toFixed(0).padStart(6)} resources/s  (${r.violations} violations)`,
    );
  }
  const [small, large] = results;
  const growth = large.ms / large.n / (small.ms / small.n);
  console.log(
    `  per-resource cost at 10k / at 1k: ${growth.toFixed(2)} (1.00 = linear; ${(large.ms / small.ms).toFixed(1)}x time for 10x resources)`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
