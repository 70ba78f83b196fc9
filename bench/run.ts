/**
 * `npm run bench`: every figure beside its floor measured in the same run, as a ratio (no timed
 * assertions anywhere). Compiled tools run as `node bin/...`, the way `npm run` starts them.
 *
 * Each figure is given in wall time and in CPU time (bench/cost.ts): on this shared 2-core machine
 * wall time measures the other sessions' load as much as the code.
 *
 * 1. `plan --stack prod` and the program's start under mocks, each a fresh node process, against a
 *    process that only loads @pulumi/pulumi and the three providers. Plan also against what it
 *    cannot avoid: that load beside a do-nothing pack's start (bench/floor-pair.ts). Rounds
 *    alternate the four so load on this shared machine drifts over all of them alike. Median of
 *    BENCH_RUNS (5).
 * 2. The pack's start (run-policy-pack to a configured Analyzer, as the CLI starts it) against the
 *    same runner starting a one-policy pack that does nothing.
 * 3. Audit of synthetic 1,000- and 10,000-resource exports (copies of the prod plan with distinct
 *    names): parse, Analyze each, AnalyzeStack, on a started pack; the floor is the same pass
 *    against the do-nothing pack (the wire and the SDK's own work). Resources per second, and the
 *    per-resource cost at 10k over 1k (1.00 = linear).
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as path from "node:path";
import { analyze, startPack } from "../tools/analyzer/analysis";
import { PolicyPackClient } from "../tools/analyzer/client";
import { buildExport, parseExport } from "../tools/report/export";
import { loadStackConfig, runProgram } from "../tools/offline/mock-program";
import { loadWorld } from "../tools/world/load";
import { assertToolsFresh, PACK_DIR, ROOT } from "../tools/cli/project";
import type { Item } from "../tools/report/model";
import { readPackConfig } from "../tools/analyzer/config";
import { itemsFromRun } from "../tools/offline/run-items";
import { processCpuMs, timeNode, type Cost } from "./cost";
import { median } from "./stats";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FLOOR_PACK = path.join(ROOT, ".tmp", "bench-floor-pack");
const SHAPE_FLOOR_PACK = path.join(ROOT, ".tmp", "bench-shape-floor-pack");

function timeProcess(file: string, args: string[], okCodes: number[]): Cost {
  return timeNode([path.join(ROOT, "bin", file), ...args], { cwd: ROOT, okCodes });
}

/** Wall and CPU time of `fn`, the CPU of this process and of the pack's process together. */
async function timeWithPack(pack: PolicyPackClient, fn: () => Promise<unknown>): Promise<Cost> {
  const cpu0 = process.cpuUsage();
  const pack0 = processCpuMs(pack.pid);
  const start = process.hrtime.bigint();
  await fn();
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const own = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (own.user + own.system) / 1000 + processCpuMs(pack.pid) - pack0 };
}

function medianCost(costs: Cost[]): Cost {
  return { wallMs: median(costs.map((c) => c.wallMs)), cpuMs: median(costs.map((c) => c.cpuMs)) };
}

/** A pack `name` in `dir` whose entry is `index`, on the real pack's node_modules. */
function writePack(dir: string, name: string, index: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "PulumiPolicy.yaml"), `runtime: nodejs\ndescription: ${name}\n`);
  writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name, version: "0.0.0", main: "index.js" }),
  );
  writeFileSync(path.join(dir, "index.js"), index);
  symlinkSync(path.join(PACK_DIR, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** A pack with one policy that does nothing. */
const writeFloorPack = () =>
  writePack(
    FLOOR_PACK,
    "floor",
    'const { PolicyPack } = require("@pulumi/policy");\n' +
      'new PolicyPack("floor", { policies: [{ name: "noop", description: "nothing", ' +
      'enforcementLevel: "advisory", validateResource: () => {} }] });\n',
  );

/**
 * The real pack's policies (names, levels, resource or stack) with validators that do nothing.
 * `@pulumi/policy` deserialises every resource's properties again for each policy (server.js,
 * makeAnalyzeRpcFun and makeAnalyzeStackRpcFun), so this is what any pack of this shape costs
 * before a policy judges anything.
 */
const writeShapeFloorPack = () =>
  writePack(
    SHAPE_FLOOR_PACK,
    "shape-floor",
    [
      'const fs = require("node:fs");',
      'const path = require("node:path");',
      'const { PolicyPack } = require("@pulumi/policy");',
      `const dir = ${JSON.stringify(path.join(PACK_DIR, "bin", "policies"))};`,
      "const policies = fs.readdirSync(dir).filter((f) => f.endsWith('.js'))",
      "  .flatMap((f) => Object.values(require(path.join(dir, f))))",
      "  .filter((p) => p && typeof p.name === 'string' && p.enforcementLevel)",
      "  .map((p) => ({ name: p.name, description: p.description, enforcementLevel: p.enforcementLevel,",
      "    ...('validateStack' in p ? { validateStack: () => {} } : {}),",
      "    ...('validateResource' in p ? { validateResource: () => {} } : {}) }));",
      'new PolicyPack("shape-floor", { policies });',
      "",
    ].join("\n"),
  );

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

function row(label: string, cost: Cost, floor: Cost, note = ""): string {
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`.padStart(6);
  return [
    `  ${label.padEnd(44)}`,
    `${cost.wallMs.toFixed(0).padStart(7)} ms ${ratio(cost.wallMs, floor.wallMs)}`,
    `${cost.cpuMs.toFixed(0).padStart(7)} ms ${ratio(cost.cpuMs, floor.cpuMs)}`,
    note ? `  ${note}` : "",
  ].join("  ");
}

function header(title: string): void {
  console.log(`\n${title}`);
  console.log(
    `  ${"".padEnd(44)}  ${"wall, x floor".padStart(17)}  ${"CPU, x floor".padStart(17)}`,
  );
}

function benchProcesses(floorPack: string): void {
  const floor: Cost[] = [];
  const pair: Cost[] = [];
  const plan: Cost[] = [];
  const program: Cost[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(timeProcess("bench/floor.js", [], [0]));
    pair.push(timeProcess("bench/floor-pair.js", [floorPack], [0]));
    plan.push(timeProcess("tools/cli/plan.js", ["--stack", "prod"], [0, 1]));
    program.push(timeProcess("bench/program-once.js", [], [0]));
  }
  const f = medianCost(floor);
  const p = medianCost(pair);
  const planCost = medianCost(plan);
  header("processes (fresh node each, pack included for plan; median)");
  console.log(row("floor: load @pulumi/pulumi + 3 providers", f, f));
  console.log(row("npm run plan -- --stack prod", planCost, f, "goal <= 1.5x, limit 2x"));
  console.log(row("program start under mocks", medianCost(program), f, "limit 1.5x"));
  header("plan against what it cannot avoid (same runs)");
  console.log(row("floor: SDK load beside a do-nothing pack start", p, p));
  console.log(row("npm run plan -- --stack prod", planCost, p));
}

async function benchPackStart(floorPack: string): Promise<void> {
  const floor: Cost[] = [];
  const pack: Cost[] = [];
  const start = async (dir: string): Promise<Cost> => {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const client = await PolicyPackClient.start(dir);
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const own = process.cpuUsage(cpu0);
    const cpuMs = processCpuMs(client.pid) + (own.user + own.system) / 1000;
    await client.close();
    return { wallMs, cpuMs };
  };
  for (let i = 0; i < RUNS; i++) {
    floor.push(await start(floorPack));
    pack.push(await start(PACK_DIR));
  }
  const f = medianCost(floor);
  header("policy pack start to a configured Analyzer (run-policy-pack, as the CLI starts it)");
  console.log(row("floor: a one-policy pack that does nothing", f, f));
  console.log(row("mailserver-invariants (compiled)", medianCost(pack), f));
}

async function benchAudit(floorPack: string, shapePack: string): Promise<void> {
  const run = await runProgram({ config: loadStackConfig("prod"), world: loadWorld("ready") });
  const base = itemsFromRun(run);
  const exports = [1000, 10000].map((n) => ({
    n,
    text: JSON.stringify(buildExport(synthesize(base, n), run.stackUrn)),
  }));
  const auditOnce = (pack: PolicyPackClient, text: string, n: number) =>
    timeWithPack(pack, async () => {
      const parsed = parseExport(text, `synthetic-${n}.json`);
      await analyze(pack, parsed.items, parsed.stackUrn);
    });
  const real = await startPack(
    readPackConfig(path.join(PACK_DIR, "config.prod.json")),
    "policy/config.prod.json",
    "prod",
  );
  const floor = await PolicyPackClient.start(floorPack);
  const shape = await PolicyPackClient.start(shapePack);
  header("audit: parse + Analyze each + AnalyzeStack, client and pack processes together");
  const results: { n: number; cost: Cost }[] = [];
  const rate = (n: number, ms: number) => `${((n / ms) * 1000).toFixed(0)}/s`;
  try {
    for (const { n, text } of exports) {
      const f = await auditOnce(floor, text, n);
      const sh = await auditOnce(shape, text, n);
      const r = await auditOnce(real, text, n);
      results.push({ n, cost: r });
      console.log(row(`floor: ${n} resources, do-nothing pack`, f, f));
      console.log(row(`${n}, the same policies doing nothing`, sh, f));
      console.log(row(`${n} resources, x the same policies doing nothing`, r, sh));
      console.log(
        row(
          `${n} resources`,
          r,
          f,
          `${rate(n, r.wallMs)} wall, ${rate(n, r.cpuMs)} per CPU-second`,
        ),
      );
    }
  } finally {
    await real.close();
    await floor.close();
    await shape.close();
  }
  const [small, large] = results;
  const growth = (c: (x: Cost) => number) => c(large.cost) / large.n / (c(small.cost) / small.n);
  console.log(
    `  per-resource cost at 10k / at 1k: ${growth((c) => c.wallMs).toFixed(2)} wall, ${growth((c) => c.cpuMs).toFixed(2)} CPU (1.00 = linear)`,
  );
}

async function main(): Promise<void> {
  assertToolsFresh();
  console.log(
    `node ${process.version}, ${RUNS} runs per median, load average ${loadavg()[0]?.toFixed(1)}`,
  );
  const floorPack = writeFloorPack();
  benchProcesses(floorPack);
  await benchPackStart(floorPack);
  await benchAudit(floorPack, writeShapeFloorPack());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
