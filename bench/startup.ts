/**
 * How the program starts under the CLI, measured under mocks: ts-node with type checking (what
 * Pulumi does by default for `typescript: true`), ts-node transpile-only, and compiled JavaScript.
 * Each mode runs as a fresh node process, several times; medians are printed as ratios of the
 * compiled run, and of a floor that only loads the SDKs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.RUNS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(args: string[], env: NodeJS.ProcessEnv = {}): number {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`${args.join(" ")} failed:\n${result.stderr}`);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(samples);
}

const floorScript =
  'require("@pulumi/pulumi");require("@pulumi/kubernetes");require("@pulumi/cloudflare");require("@pulumi/vault");';

execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "--outDir", "bin"], {
  cwd: ROOT,
});
// The probe script is read from beside the component at run time.
cpSync(path.join(ROOT, "components/probe"), path.join(ROOT, "bin/components/probe"), {
  recursive: true,
});
const modes: [string, number][] = [
  ["floor: load @pulumi/pulumi + 3 providers", time(["-e", floorScript])],
  ["compiled JavaScript (tsc → bin/)", time(["bin/bench/program-once.js"])],
  [
    "ts-node, transpile only",
    time(["-r", "ts-node/register", "bench/program-once.ts"], { TS_NODE_TRANSPILE_ONLY: "true" }),
  ],
  [
    "ts-node, type-checked (Pulumi's default)",
    time(["-r", "ts-node/register", "bench/program-once.ts"], { TS_NODE_TRANSPILE_ONLY: "false" }),
  ],
];
const compiled = modes[1][1];
console.log(`program start-up under mocks, median of ${RUNS} runs, node ${process.version}`);
for (const [mode, ms] of modes) {
  console.log(
    `${mode.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / compiled).toFixed(2)}x compiled`,
  );
}
