/**
 * Runs the Pulumi program in this process under `pulumi.runtime.setMocks`, the way the engine would
 * run it, and records every registered resource with its parent, options and which inputs are
 * secret (tools/offline/mock-monitor.ts). Vault (tools/offline/mock-vault.ts) and the Cloudflare zone lookup are
 * answered with placeholders.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ProgramIo } from "../../index";
import type { LiveCluster } from "../world/live-cluster";
import { placeholderKeys } from "./placeholder-keys";
import { mocks, recordReads, recordRegistrations, type CapturedResource } from "./mock-monitor";
import { placeholderVault, type VaultAnswer } from "./mock-vault";
import { loadStackConfig, PROJECT, ROOT } from "../cli/project";
import { worldInventory, zoneRecords, type VaultRead } from "./world-answers";
import { kubernetesObjects, loadWorld, type World } from "../world/load";

export { loadStackConfig, PROJECT, ROOT };
export type { CapturedResource };

/** The program's entry: index.ts, or index.js beside the compiled tools. */
const ENTRY = path.resolve(__dirname, "..", "..", "index");

export interface ProgramRun {
  stackUrn: string;
  resources: CapturedResource[];
  /** Objects read with `.get()`: inputs hold the live state answered; secretPaths its secret outputs. */
  reads: CapturedResource[];
  outputs: Record<string, unknown>;
}

export interface RunOptions {
  /** Flat Pulumi config: `mailserver:key` → string (objects JSON-encoded), as the engine passes it. */
  config: Record<string, string>;
  stack?: string;
  preview?: boolean;
  /** Data of a Vault path; defaults to placeholders matching the config, as the world holds them. */
  vault?: VaultAnswer;
  /** Keys the world's Vault lacks that the default answer still fills (the plan's blockers). */
  vaultFill?: VaultRead[];
  /** Filled with the registrations as they happen, also when the program fails. */
  record?: CapturedResource[];
  /** The recorded world the mocks answer from (world/); defaults to today's. */
  world?: World;
  /** Objects laid over the world's Kubernetes objects (by `<type> <namespace>/<name>`). */
  live?: LiveCluster;
  /** Loads the program's module; defaults to a fresh `require` of index (bench/startup.ts swaps it). */
  load?: () => Promise<Record<string, unknown>>;
}

/** Requires index afresh, so several runs (with different configs) can share one process. */
function requireFresh(): Promise<Record<string, unknown>> {
  const entry = require.resolve(ENTRY);
  delete require.cache[entry];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return Promise.resolve(require(entry) as Record<string, unknown>);
}

/**
 * Runs `index.ts` once as the stack's program. The module is loaded afresh each time, so several
 * runs (with different configs) can share one process.
 */
export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
  const stack = opts.stack ?? "prod";
  // Started first: the keys are generated in libuv's thread pool while the world loads.
  if (!opts.vault) void placeholderKeys();
  const world = opts.world ?? loadWorld("today");
  // Computed on the first read only: a run with a bad config fails before it reads anything.
  let live: Map<string, Record<string, unknown>> | undefined;
  const liveCluster = () =>
    (live ??= new Map([
      ...structuredClone(kubernetesObjects(world)),
      ...Object.entries(structuredClone(opts.live ?? {})),
    ]));
  const io: ProgramIo = { readInventory: worldInventory(world) };
  await pulumi.runtime.setMocks(
    mocks(
      opts.vault ??
        placeholderVault(opts.config, await placeholderKeys(), world, opts.vaultFill ?? []),
      liveCluster,
      zoneRecords(world),
    ),
    PROJECT,
    stack,
    opts.preview ?? false,
  );
  pulumi.runtime.setAllConfig(opts.config);
  const captured: CapturedResource[] = opts.record ?? [];
  recordRegistrations(captured);
  const reads: CapturedResource[] = [];
  recordReads(reads);

  const load = opts.load ?? requireFresh;
  const outputs = (await pulumi.runtime.runInPulumiStack(async () => {
    const mod = await load();
    // The program's default export is the stack; it reads the world through `io`.
    return typeof mod.default === "function"
      ? (mod.default as (io: ProgramIo) => Promise<Record<string, unknown>>)(io)
      : mod;
  })) as Record<string, unknown>;
  await pulumi.runtime.disconnect();

  const stackResource = captured.find((r) => r.type === "pulumi:pulumi:Stack");
  return {
    stackUrn: stackResource?.urn ?? "",
    resources: captured,
    reads,
    outputs: outputs ?? {},
  };
}
