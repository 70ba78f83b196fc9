/**
 * Compiled output that can never be older than its sources.
 *
 * `npm run build` compiles with tsc, then runs this file to copy the assets (every non-TypeScript
 * file under a source root, e.g. the probe script read through `__dirname`) beside the JavaScript,
 * drop compiled files whose source is gone, and write `build-stamp.json` into the output
 * directory: the SHA-256 of every source and asset. Every compiled entry point (the program's
 * `main.js`, the pack's `main.js`, the plan and audit CLIs) calls `assertFreshBuild` first: when
 * the sources sit beside the build and any of them differs from the stamp (changed, added or
 * removed), it refuses to start and says to run `npm run build`. Content hashes, not mtimes, so a
 * checkout or a copy that keeps old timestamps cannot make a stale build look fresh.
 *
 * The pack is published alone (`npm pack` of policy/, sources left out), so it owns this file and
 * the program imports it from here; it uses nothing but Node's built-ins.
 */
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";

export const STAMP_FILE = "build-stamp.json";

interface Stamp {
  /** The project directory, relative to the output directory. */
  project: string;
  /** Source roots relative to the project: a directory (walked) or a top-level file pattern. */
  roots: string[];
  /** Every source and asset, project-relative with `/`, and its SHA-256. */
  files: Record<string, string>;
}

const SKIP_DIRS = new Set(["node_modules", ".git"]);

/** The roots of a tsconfig's `include` patterns: `lib/**\/*.ts` → `lib`, `*.ts` → `*.ts`. */
export function rootsOf(include: string[]): string[] {
  return include.map((pattern) => {
    const dir = pattern.split("/*")[0];
    return dir.includes("*") ? pattern : dir;
  });
}

/** Every file under `dir` as a path relative to `base` with `/`, skipping `skip` and SKIP_DIRS. */
function filesUnder(dir: string, base: string, skip = ""): string[] {
  if (!existsSync(dir) || path.resolve(dir) === skip) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIP_DIRS.has(entry.name) ? [] : filesUnder(full, base, skip);
    return entry.isFile() ? [path.relative(base, full).split(path.sep).join("/")] : [];
  });
}

/** Project-relative paths of every file under the roots, sorted; `outDir` is never walked. */
export function listSources(project: string, roots: string[], outDir: string): string[] {
  const skip = path.resolve(project, outDir);
  const found = roots.flatMap((root) =>
    root.startsWith("*")
      ? readdirSync(project, { withFileTypes: true })
          .filter((e) => e.isFile() && e.name.endsWith(root.slice(1)))
          .map((e) => e.name)
      : filesUnder(path.join(project, root), project, skip),
  );
  return [...new Set(found)].sort();
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

const isTypeScript = (file: string) => file.endsWith(".ts");

/** The compiled files tsc writes for a source: `x.ts` → `x.js` and `x.js.map`. */
function outputsOf(source: string): string[] {
  if (source.endsWith(".d.ts")) return [];
  const base = source.slice(0, -".ts".length);
  return [`${base}.js`, `${base}.js.map`];
}

/** Removes compiled files whose source no longer exists (tsc never deletes anything). */
function pruneOrphans(outDir: string, sources: string[]): void {
  const wanted = new Set(sources.flatMap((s) => (isTypeScript(s) ? outputsOf(s) : [s])));
  wanted.add(STAMP_FILE);
  for (const file of filesUnder(outDir, outDir)) {
    if (/\.js(\.map)?$/.test(file) && !wanted.has(file)) rmSync(path.join(outDir, file));
  }
}

/**
 * After tsc: copies the assets into `outDir`, prunes orphans and writes the stamp. `tsconfig` is
 * the file tsc compiled with; its `include` names the roots and its `outDir` the output.
 */
export function writeBuildStamp(project: string, tsconfig: string): string {
  const config = JSON.parse(readFileSync(path.join(project, tsconfig), "utf8")) as {
    include?: string[];
    compilerOptions?: { outDir?: string };
  };
  const outDirName = config.compilerOptions?.outDir;
  if (!config.include || !outDirName) {
    throw new Error(`${tsconfig} must set "include" and "compilerOptions.outDir"`);
  }
  const outDir = path.resolve(project, outDirName);
  const roots = rootsOf(config.include);
  const sources = listSources(project, roots, outDir);
  for (const asset of sources.filter((s) => !isTypeScript(s))) {
    mkdirSync(path.dirname(path.join(outDir, asset)), { recursive: true });
    copyFileSync(path.join(project, asset), path.join(outDir, asset));
  }
  pruneOrphans(outDir, sources);
  const stamp: Stamp = {
    project: path.relative(outDir, project).split(path.sep).join("/") || ".",
    roots,
    files: Object.fromEntries(sources.map((s) => [s, sha256(path.join(project, s))])),
  };
  writeFileSync(path.join(outDir, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
  return outDir;
}

/** What differs between the sources and the stamp in `outDir`; empty when the build is fresh. */
export function staleSources(outDir: string): string[] {
  const stampFile = path.join(outDir, STAMP_FILE);
  if (!existsSync(stampFile)) return [`(no ${STAMP_FILE}: not built by npm run build)`];
  const stamp = JSON.parse(readFileSync(stampFile, "utf8")) as Stamp;
  const project = path.resolve(outDir, stamp.project);
  const now = listSources(project, stamp.roots, outDir);
  // A published pack carries only its build: with no source present there is nothing to compare.
  if (now.length === 0) return [];
  const changed = now.filter((f) => stamp.files[f] !== sha256(path.join(project, f)));
  const removed = Object.keys(stamp.files).filter((f) => !now.includes(f));
  return [...changed, ...removed.map((f) => `${f} (removed)`)];
}

/**
 * Refuses to run a build that is older than its sources. `entry` is the caller's `__filename`:
 * run from TypeScript (ts-node in the tests) there is no build to check.
 */
export function assertFreshBuild(entry: string, outDir: string): void {
  if (entry.endsWith(".ts")) return;
  const stale = staleSources(outDir);
  if (stale.length === 0) return;
  const shown = stale.slice(0, 5).join(", ") + (stale.length > 5 ? `, … (${stale.length})` : "");
  throw new Error(
    `the build in ${outDir} is older than its sources (${shown}): run \`npm run build\``,
  );
}

// `node <out>/build/fresh-build.js <project> <tsconfig>`: the last step of `npm run build`.
if (require.main === module) {
  const [project, tsconfig] = process.argv.slice(2);
  if (!project || !tsconfig) {
    console.error("usage: node fresh-build.js <project dir> <tsconfig file>");
    process.exit(2);
  }
  console.log(`build stamp written in ${writeBuildStamp(project, tsconfig)}`);
}
