import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { parse } from "yaml";
import type * as PulumiSdk from "@pulumi/pulumi";

export const ROOT = path.resolve(__dirname, "..", "..");
export const DEPLOY = path.join(ROOT, "deploy");
export const WORKFLOWS = path.join(ROOT, ".github", "workflows");

/**
 * Resolves modules the way deploy/ does. deploy/ has its own node_modules/@pulumi/pulumi: mocks
 * must be set on that instance, or the program registers with an SDK that has no mocks.
 */
export const deployRequire = createRequire(path.join(DEPLOY, "index.ts"));

export function deployPulumi(): typeof PulumiSdk {
  try {
    return deployRequire("@pulumi/pulumi") as typeof PulumiSdk;
  } catch (err) {
    throw new Error(
      `deploy/ dependencies are missing (run npm ci --prefix deploy): ${(err as Error).message}`,
    );
  }
}

/** `mailserver-deploy:*` keys of a deploy stack file, without the prefix. */
export function deployStackConfig(stack: string): Record<string, unknown> {
  const doc = parse(fs.readFileSync(path.join(DEPLOY, `Pulumi.${stack}.yaml`), "utf8")) as {
    config?: Record<string, unknown>;
  };
  const prefix = "mailserver-deploy:";
  return Object.fromEntries(
    Object.entries(doc.config ?? {})
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
}
