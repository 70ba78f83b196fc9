/**
 * `npm run bench`: every figure beside its floor measured in the same run, as a ratio (no timed
 * assertions anywhere). Compiled tools run as `node bin/...`, the way `npm run` starts them.
 *
 * 1. `plan --stack prod` and the program's start under mocks, each a fresh node process, against a
 *    process that only loads @pulumi/pulumi and the three providers. Rounds alternate the three so
 *    load on this shared machine drifts over all of them alike. Median of BENCH_RUNS (5).
 * 2. The pack's start (run-policy-pack to a configured Analyzer, as the CLI starts it) against the
 *    same runner starting a one-policy pack that does nothing.
 * 3. Audit of synthetic 1,000- and 10,000-resource exports (copies of the prod plan with distinct
 *    names): parse, Analyze each, AnalyzeStack, on a started pack; the floor is the same pass
 *    against the do-nothing pack (the wire and the SDK's own work). Resources per second, and the
 *    per-resource cost at 10k over 1k (1.00 = linear).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { analyze, startPack } from "../tools/analysis";
import { PolicyPackClient } from "../tools/analyzer";
import { buildExport, itemsFromRun, parseExport } from "../tools/export";
import { loadStackConfig, runProgram } from "../tools/mock-program";
import { assertToolsFresh, PACK_DIR, ROOT } from "../tools/project";
import type { Item } from "../tools/model";
import { readPackConfig } from "../tools/pack-config";
import { median, timeAsync } from "./stats";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FLOOR_PACK = path.join(ROOT, ".tmp", "bench-floor-pack");

function timeProcess(file: string, args: string[], okCodes: number[]): number {
  const start = process.hrtime.bigint();
  const res = spawnSync(process.execPath, [path.join(ROOT, "bin", file), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status === null || !okCodes.includes(res.status)) {
    throw new Error(`${file} exited ${res.status}:\n${res.stderr}`);
  }
  return ms;
}

/** A pack with one policy that does nothing, on the real pack's node_modules. */
function writeFloorPack(): string {
  rmSync(FLOOR_PACK, { recursive: true, force: true });
  mkdirSync(FLOOR_PACK, { recursive: true });
  writeFileSync(
    path.join(FLOOR_PACK, "PulumiPolicy.yaml"),
    "runtime: nodejs\ndescription: floor\n",
  );
  writeFileSync(
    path.join(FLOOR_PACK, "package.json"),
    JSON.stringify({ name: "floor", version: "0.0.0", main: "index.js" }),
  );
  writeFileSync(
    path.join(FLOOR_PACK, "index.js"),
    'const { PolicyPack } = require("@pulumi/policy");\n' +
      'new PolicyPack("floor", { policies: [{ name: "noop", description: "nothing", ' +
      'enforcementLevel: "advisory", validateResource: () => {} }] });\n',
  );
  symlinkSync(path.join(PACK_DIR, "node_modules"), path.join(FLOOR_PACK, "node_modules"));
  return FLOOR_PACK;
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

function row(label: string, ms: number, floor: number, goal = ""): string {
  return `  ${label.padEnd(46)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / floor).toFixed(2)}x floor${goal}`;
}

function benchProcesses(): void {
  const floor: number[] = [];
  const plan: number[] = [];
  const program: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(timeProcess("bench/floor.js", [], [0]));
    plan.push(timeProcess("tools/plan.js", ["--stack", "prod"], [0, 1]));
    program.push(timeProcess("bench/program-once.js", [], [0]));
  }
  const f = median(floor);
  console.log("processes (fresh node each; median)");
  console.log(row("floor: load @pulumi/pulumi + 3 providers", f, f));
  console.log(row("npm run plan -- --stack prod", median(plan), f, "  (goal <= 1.5x, limit 2x)"));
  console.log(row("program start under mocks", median(program), f, "  (limit 1.5x)"));
}

async function benchPackStart(floorPack: string): Promise<void> {
  const floor: number[] = [];
  const pack: number[] = [];
  const start = async (dir: string) => {
    let client: PolicyPackClient | undefined;
    const ms = await timeAsync(async () => (client = await PolicyPackClient.start(dir)));
    await client?.close();
    return ms;
  };
  for (let i = 0; i < RUNS; i++) {
    floor.push(await start(floorPack));
    pack.push(await start(PACK_DIR));
  }
  const f = median(floor);
  console.log("\npolicy pack start (run-policy-pack, as the CLI starts it; median)");
  console.log(row("floor: a one-policy pack that does nothing", f, f));
  console.log(row("mailserver-invariants (compiled)", median(pack), f));
}

async function benchAudit(floorPack: string): Promise<void> {
  const run = await runProgram({ config: loadStackConfig("prod") });
  const base = itemsFromRun(run);
  const exports = [1000, 10000].map((n) => ({
    n,
    text: JSON.stringify(buildExport(synthesize(base, n), run.stackUrn)),
  }));
  const auditOnce = async (pack: PolicyPackClient, text: string, n: number) => {
    let violations = 0;
    const ms = await timeAsync(async () => {
      const parsed = parseExport(text, `synthetic-${n}.json`);
      violations = (await analyze(pack, parsed.items, parsed.stackUrn)).length;
    });
    return { ms, violations };
  };
  const real = await startPack(
    readPackConfig(path.join(PACK_DIR, "config.prod.json")),
    "policy/config.prod.json",
    "prod",
  );
  const floor = await PolicyPackClient.start(floorPack);
  console.log("\naudit (one started pack; parse + Analyze each + AnalyzeStack)");
  const results: { n: number; ms: number }[] = [];
  try {
    for (const { n, text } of exports) {
      const f = await auditOnce(floor, text, n);
      const r = await auditOnce(real, text, n);
      results.push({ n, ms: r.ms });
      const rate = (n / r.ms) * 1000;
      console.log(row(`floor: ${n} resources, do-nothing pack`, f.ms, f.ms));
      console.log(
        row(`${n} resources: ${rate.toFixed(0)} resources/s`, r.ms, f.ms) +
          `  (${r.violations} violations; goal >= 5000/s)`,
      );
    }
  } finally {
    await real.close();
    await floor.close();
  }
  const [small, large] = results;
  const growth = large.ms / large.n / (small.ms / small.n);
  console.log(`  per-resource cost at 10k / at 1k: ${growth.toFixed(2)} (1.00 = linear)`);
}

async function main(): Promise<void> {
  assertToolsFresh();
  console.log(`node ${process.version}, ${RUNS} runs per median\n`);
  const floorPack = writeFloorPack();
  benchProcesses();
  await benchPackStart(floorPack);
  await benchAudit(floorPack);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
