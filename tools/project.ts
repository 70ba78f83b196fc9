/**
 * Where the project is, whether these tools run from TypeScript (tools/) or compiled (bin/tools/),
 * and the check that a compiled tool is not older than its sources.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { assertFreshBuild } from "../policy/build/fresh-build";

/** The nearest directory above `dir` holding Pulumi.yaml. */
function projectRoot(dir: string): string {
  while (!existsSync(path.join(dir, "Pulumi.yaml"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no Pulumi.yaml above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** The project directory (with Pulumi.yaml). */
export const ROOT = projectRoot(path.resolve(__dirname, ".."));
/** The policy pack the tools start, as the CLI would with `--policy-pack policy`. */
export const PACK_DIR = path.join(ROOT, "policy");

/** Compiled tools refuse to run when a source changed since `npm run build`. */
export function assertToolsFresh(): void {
  assertFreshBuild(__filename, path.resolve(__dirname, ".."));
}
