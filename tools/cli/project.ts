/**
 * Where the project is, whether these tools run from TypeScript (tools/) or compiled (bin/tools/cli/),
 * its stack config files, and the check that a compiled tool is not older than its sources.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { assertFreshBuild } from "../../policy/build/fresh-build";

/** The nearest directory above `dir` holding Pulumi.yaml. */
function projectRoot(dir: string): string {
  while (!existsSync(path.join(dir, "Pulumi.yaml"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no Pulumi.yaml above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** The Pulumi project's name (Pulumi.yaml), the prefix of its config keys and URNs. */
export const PROJECT = "mailserver";

/** The project directory (with Pulumi.yaml). */
export const ROOT = projectRoot(__dirname);
/** The policy pack the tools start, as the CLI would with `--policy-pack policy`. */
export const PACK_DIR = path.join(ROOT, "policy");

/** Compiled tools refuse to run when a source changed since `npm run build`. */
export function assertToolsFresh(): void {
  assertFreshBuild(__filename, path.resolve(__dirname, "..", ".."));
}

/** The flat config map of `Pulumi.<stack>.yaml`; throws naming the file when it is unusable. */
export function loadStackConfig(stack: string, root = ROOT): Record<string, string> {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`unknown stack "${stack}": ${path.relative(process.cwd(), file)} not found`);
  }
  const doc = parse(text) as { config?: Record<string, unknown> } | null;
  if (!doc?.config || typeof doc.config !== "object") {
    throw new Error(`${file}: expected a top-level "config:" map`);
  }
  return Object.fromEntries(
    Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}
