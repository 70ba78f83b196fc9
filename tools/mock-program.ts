/**
 * Runs the Pulumi program in this process under `pulumi.runtime.setMocks`, the way the engine would
 * run it, and records every registered resource with its parent, options and which inputs are
 * secret. Vault and the Cloudflare zone lookup are answered with placeholders.
 */
import * as path from "node:path";
// First: loading it starts the placeholder key generation, which then overlaps the SDK's load.
import { placeholderKeys, type PlaceholderKeys } from "./placeholder-keys";
import * as pulumi from "@pulumi/pulumi";
import type { ProgramIo } from "../index";
import type { LiveCluster } from "./live-cluster";
import { isSecretEnvelope } from "./model";
import { vaultPlaceholders } from "./placeholders";
import { loadStackConfig, ROOT } from "./project";
import {
  worldInventory,
  worldVaultData,
  zoneRecords,
  type VaultRead,
  type ZoneRecordFact,
} from "./world-answers";
import { kubernetesObjects, loadWorld, type World } from "./world";

export { loadStackConfig, placeholderKeys, ROOT };

/** The program's entry: index.ts, or index.js beside the compiled tools. */
const ENTRY = path.resolve(__dirname, "..", "index");
export const PROJECT = "mailserver";

export interface CapturedResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent; the stack's for top-level components. */
  parent: string;
  custom: boolean;
  /** Inputs as sent to the engine, secrets unwrapped. */
  inputs: Record<string, unknown>;
  /** Dotted paths of the inputs that were secret. */
  secretPaths: string[];
  /** A component's registered outputs (what AnalyzeStack sees of it), secrets unwrapped. */
  outputs?: Record<string, unknown>;
  outputSecretPaths?: string[];
  protect: boolean;
  retainOnDelete: boolean;
  /** The `import` option as sent to the engine ("" when the resource is created). */
  importId: string;
  ignoreChanges: string[];
  dependencies: string[];
}

export interface ProgramRun {
  stackUrn: string;
  resources: CapturedResource[];
  /** Objects read with `.get()`: inputs hold the live state answered; secretPaths its secret outputs. */
  reads: CapturedResource[];
  outputs: Record<string, unknown>;
}

export type VaultAnswer = (mount: string, name: string) => Record<string, string>;

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

/**
 * Vault answered from the world: the keys the owner holds at each path (world/today/vault.yaml),
 * each a placeholder derived from the config the run uses, stored in the owner's encoding.
 */
export function placeholderVault(
  config: Record<string, string>,
  keys: PlaceholderKeys,
  world: World = loadWorld("today"),
  /** Keys answered although the world lacks them (the plan reports them as blockers). */
  fill: VaultRead[] = [],
): VaultAnswer {
  const get = (key: string): unknown => JSON.parse(config[`${PROJECT}:${key}`] ?? "null");
  const domain = config[`${PROJECT}:domain`] ?? "example.org";
  const mail = get("mailserver") as { relay?: { host: string; port: number } } | null;
  const monitoring = get("monitoring") as { probe?: { imapUser?: string } } | null;
  const data = vaultPlaceholders(
    {
      domain,
      relay: mail?.relay ?? { host: "relay.invalid", port: 587 },
      probeMailbox: monitoring?.probe?.imapUser ?? `probe@${domain}`,
    },
    keys,
  );
  const all = { ...data.platform, ...data.personal };
  return (mount, name) => ({
    ...Object.fromEntries(
      fill
        .filter((k) => k.mount === mount && k.path === name && k.key in all)
        .map((k) => [k.key, all[k.key]]),
    ),
    ...worldVaultData(world, mount, name, all),
  });
}

/** Splits a wire value into the plain value and the paths of the secrets inside it. */
export function unwrapSecrets(value: unknown, at: string, secrets: string[]): unknown {
  if (Array.isArray(value)) {
    return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, secrets));
  }
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (isSecretEnvelope(obj)) {
      secrets.push(at);
      return unwrapSecrets(obj.value, at, []);
    }
    return Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, secrets)]),
    );
  }
  return value;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getImportid(): string;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}
type Callback = (err: unknown, response?: { getUrn(): string }) => void;
interface OutputsRequest {
  getUrn(): string;
  getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}
interface ReadRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
}
type ReadCallback = (
  err: unknown,
  response?: { getUrn(): string; getProperties(): { toJavaScript(): Record<string, unknown> } },
) => void;
interface Monitor {
  registerResource(req: RegisterRequest, cb: Callback): Promise<void>;
  readResource(req: ReadRequest, cb: ReadCallback): Promise<void>;
  registerResourceOutputs(req: OutputsRequest, cb: (err: unknown, res?: unknown) => void): void;
}

/**
 * `type name` of registrations carrying an `import` option. The mock monitor hands the import ID
 * to `newResource` as `id`, exactly as it hands over a `.get()` read's ID; this tells them apart.
 */
const importing = new Set<string>();

/** Wraps the mock monitor so each registration is recorded with what `MockResourceArgs` omits. */
function recordRegistrations(captured: CapturedResource[]): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    if (req.getImportid()) importing.add(`${req.getType()} ${req.getName()}`);
    return register(req, (err, response) => {
      if (!err && response) {
        const secretPaths: string[] = [];
        const inputs = unwrapSecrets(req.getObject()?.toJavaScript() ?? {}, "", secretPaths);
        captured.push({
          urn: response.getUrn(),
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent(),
          custom: req.getCustom(),
          inputs: inputs as Record<string, unknown>,
          secretPaths,
          protect: req.getProtect(),
          retainOnDelete: req.getRetainondelete(),
          importId: req.getImportid(),
          ignoreChanges: req.getIgnorechangesList(),
          dependencies: req.getDependenciesList(),
        });
      }
      cb(err, response);
    });
  };
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    const r = captured.find((c) => c.urn === req.getUrn());
    if (r && !r.custom) {
      r.outputSecretPaths = [];
      const outputs = req.getOutputs()?.toJavaScript() ?? {};
      r.outputs = unwrapSecrets(outputs, "", r.outputSecretPaths) as Record<string, unknown>;
    }
    registerOutputs(req, cb);
  };
}

/** Records each `.get()` with the live state it returned; additionalSecretOutputs stay secret. */
function recordReads(captured: CapturedResource[]): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req, cb) =>
    read(req, (err, response) => {
      if (!err && response) {
        const state = unwrapSecrets(response.getProperties().toJavaScript(), "", []) as Record<
          string,
          unknown
        >;
        captured.push({
          urn: response.getUrn(),
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent(),
          custom: true,
          inputs: state,
          importId: "",
          ignoreChanges: [],
          secretPaths: req.getAdditionalsecretoutputsList().filter((k) => k in state),
          protect: false,
          retainOnDelete: false,
          dependencies: req.getDependenciesList(),
        });
      }
      cb(err, response);
    });
}

/** Answers a `.get()` read from the live objects; a missing one fails as a real read would. */
function readAnswer(live: () => Map<string, Record<string, unknown>>, type: string, id: string) {
  const state = live().get(`${type} ${id}`);
  if (!state) throw new Error(`read ${type} ${id}: not found in the mocked cluster`);
  return { id, state };
}

function mocks(
  vault: VaultAnswer,
  live: () => Map<string, Record<string, unknown>>,
  zone: ZoneRecordFact[],
): pulumi.runtime.Mocks {
  return {
    newResource: (args) =>
      // An import that matches (the engine's only success) leaves the program's inputs as state.
      args.id && importing.has(`${args.type} ${args.name}`)
        ? { id: args.id, state: args.inputs as Record<string, unknown> }
        : args.id
          ? readAnswer(live, args.type, args.id)
          : {
              id: `${args.name}-id`,
              state: args.inputs as Record<string, unknown>,
            },
    call: (args) => {
      const inputs = args.inputs as Record<string, unknown>;
      switch (args.token) {
        case "vault:kv/getSecretV2:getSecretV2": {
          const data = vault(String(inputs.mount), String(inputs.name));
          return { ...inputs, data, dataJson: JSON.stringify(data) };
        }
        case "cloudflare:index/getZone:getZone": {
          const filter = inputs.filter as { name?: string } | undefined;
          return {
            id: "PLACEHOLDER-zone-id",
            zoneId: "PLACEHOLDER-zone-id",
            name: filter?.name,
            account: { id: "PLACEHOLDER-account-id", name: "PLACEHOLDER" },
          };
        }
        case "cloudflare:index/getDnsRecords:getDnsRecords": {
          const name = (inputs.name as { exact?: string } | undefined)?.exact;
          const results = zone.filter(
            (r) => (!inputs.type || r.type === inputs.type) && (!name || r.name === name),
          );
          return { ...inputs, results };
        }
        default:
          throw new Error(`no mock answer for the invoke ${args.token}`);
      }
    },
  };
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
        placeholderVault(opts.config, await placeholderKeys, world, opts.vaultFill ?? []),
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
