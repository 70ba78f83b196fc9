/**
 * The engine side of a mocked run: the answers `pulumi.runtime.setMocks` gives (resources, the
 * Vault and Cloudflare invokes, `.get()` reads), and the mock monitor wrapped so that every
 * registration and read is recorded with its parent, options and which inputs are secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { unwrapSecrets } from "../report/model";
import type { VaultAnswer } from "./mock-vault";
import type { ZoneRecordFact } from "./world-answers";

/** One registration (or `.get()` read) as the wrapped monitor recorded it. */
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
export function recordRegistrations(captured: CapturedResource[]): void {
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
export function recordReads(captured: CapturedResource[]): void {
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

/** What the mocks answer: resources, the Vault and Cloudflare invokes, `.get()` reads. */
export function mocks(
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
