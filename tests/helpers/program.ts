/** One mocked run of the prod stack shared by the program tests, and lookups into it. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
  loadStackConfig,
  ROOT,
  runProgram,
  type CapturedResource,
  type ProgramRun,
} from "../../tools/mock-program";

let prod: Promise<ProgramRun> | undefined;

/** The prod stack under mocks, run once per test process. */
export function prodRun(): Promise<ProgramRun> {
  prod ??= runProgram({ config: loadStackConfig("prod") });
  return prod;
}

/** The one resource of a type whose Kubernetes or logical name matches. */
export function find(run: ProgramRun, type: string, name: string): CapturedResource {
  const hits = run.resources.filter(
    (r) =>
      r.type === type &&
      ((r.inputs.metadata as { name?: string } | undefined)?.name === name || r.name === name),
  );
  if (hits.length !== 1) {
    throw new Error(`expected one ${type} named ${name}, found ${hits.length}`);
  }
  return hits[0];
}

export function ofType(run: ProgramRun, type: string): CapturedResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** Typed access into a resource's inputs by a dotted path. */
export function at<T = unknown>(r: CapturedResource, dotted: string): T {
  return dotted
    .split(".")
    .reduce<unknown>(
      (node, key) =>
        node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined,
      r.inputs,
    ) as T;
}

/** Reference data committed with the policy pack (policy/data/README.md says where from). */
export function referenceFile(name: string): string {
  return readFileSync(path.join(ROOT, "policy", "data", name), "utf8");
}

export { loadStackConfig, runProgram };
