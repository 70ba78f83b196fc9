/**
 * `npm run bench:startup`: how the program could start under the CLI, measured under mocks, each
 * mode a fresh node process, medians printed as ratios of a floor that only loads the SDKs:
 *
 * - compiled JavaScript (`bin/`, what package.json `main` runs with `typescript: false`);
 * - Node's own type stripping (`typescript: false`, Node >= 22.18 strips `.ts` by default): the
 *   sources as ES modules, which stripping needs: a copy in .tmp/ with `.ts` on every relative
 *   import, `import.meta.dirname` for `__dirname`, and the one non-erasable construct (a parameter
 *   property in lib/config.ts) written as a field;
 * - ts-node transpile-only, and ts-node type-checked (what `typescript: true` does).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ROOT } from "../tools/cli/project";
import { timeNode, type Cost } from "./cost";
import { median } from "./stats";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const STRIP_DIR = path.join(ROOT, ".tmp", "strip");

/** The program's sources rewritten as ES modules that Node can strip (see the file comment). */
function writeStripCopy(): void {
  rmSync(STRIP_DIR, { recursive: true, force: true });
  mkdirSync(STRIP_DIR, { recursive: true });
  for (const part of ["index.ts", "components", "lib", "types"]) {
    cpSync(path.join(ROOT, part), path.join(STRIP_DIR, part), { recursive: true });
  }
  const files = ["index.ts", ...listTs(STRIP_DIR, "components"), ...listTs(STRIP_DIR, "lib")];
  for (const file of files) {
    const full = path.join(STRIP_DIR, file);
    const text = readFileSync(full, "utf8")
      .replace(/(from |import\()"(\.{1,2}\/[^"]+)"/g, '$1"$2.ts"')
      .replace(/\/\/\/ <reference path="[^"]+" \/>\n/g, "")
      .replace(/__dirname/g, "import.meta.dirname")
      .replace(
        "constructor(readonly problems: string[]) {",
        "readonly problems: string[] = [];\n  constructor(problems: string[]) {",
      );
    writeFileSync(full, text);
  }
  writeFileSync(path.join(STRIP_DIR, "package.json"), '{ "type": "module" }\n');
  symlinkSync(path.join(ROOT, "node_modules"), path.join(STRIP_DIR, "node_modules"));
}

function listTs(base: string, dir: string): string[] {
  return spawnSync("find", [dir, "-name", "*.ts"], { cwd: base, encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
}

const floorScript = path.join(ROOT, "bin", "bench", "floor.js");
const once = path.join(ROOT, "bin", "bench", "program-once.js");
const strippedIndex = path.join(STRIP_DIR, "index.ts");

writeStripCopy();
const modes: [string, string[], NodeJS.ProcessEnv][] = [
  ["floor: load @pulumi/pulumi + 3 providers", [floorScript], {}],
  ["compiled JavaScript (bin/, the choice)", [once], {}],
  ["Node type stripping (ES module copy)", [once, "--entry", strippedIndex], {}],
  [
    "ts-node, transpile only",
    ["-r", "ts-node/register", "bench/program-once.ts"],
    { TS_NODE_TRANSPILE_ONLY: "true" },
  ],
  [
    "ts-node, type-checked (typescript: true)",
    ["-r", "ts-node/register", "bench/program-once.ts"],
    { TS_NODE_TRANSPILE_ONLY: "false" },
  ],
];
// Rounds over all modes, so load on this shared machine drifts over every mode alike.
const samples = modes.map(() => [] as Cost[]);
for (let i = 0; i < RUNS; i++) {
  modes.forEach(([, args, env], m) => samples[m].push(timeNode(args, { cwd: ROOT, env })));
}
const med = (m: number, key: keyof Cost) => median(samples[m].map((c) => c[key]));
console.log(`program start-up under mocks, median of ${RUNS} runs, node ${process.version}`);
console.log(`${"".padEnd(44)} ${"wall, x floor".padStart(17)}  ${"CPU, x floor".padStart(17)}`);
modes.forEach(([mode], m) => {
  const cell = (key: keyof Cost) =>
    `${med(m, key).toFixed(0).padStart(7)} ms ${(med(m, key) / med(0, key)).toFixed(2).padStart(5)}x`;
  console.log(`${mode.padEnd(44)} ${cell("wallMs")}  ${cell("cpuMs")}`);
});
