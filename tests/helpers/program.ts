/**
 * One mocked run of the prod stack shared by the program tests, and lookups into it. The program
 * tests run against the ready world (world/ready/edits.yaml applied: the cluster as the runbook's
 * steps 1-4 leave it), where the program's plan is clean, so each test sees only what it changes;
 * tests/world and tests/plan/world.test.ts meet today's world.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
  loadStackConfig,
  ROOT,
  runProgram as runMocked,
  type CapturedResource,
  type ProgramRun,
  type RunOptions,
} from "../../tools/offline/mock-program";
import { loadWorld, type World } from "../../tools/world/load";

let ready: World | undefined;
/** The ready world, loaded once. */
export function readyWorld(): World {
  return (ready ??= loadWorld("ready"));
}

/** The program under mocks, against the ready world unless `opts.world` says otherwise. */
export function runProgram(opts: RunOptions): Promise<ProgramRun> {
  return runMocked({ world: readyWorld(), ...opts });
}

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

export { loadStackConfig };
