/**
 * Drives a CrossGuard policy pack over its Analyzer gRPC interface the way the Pulumi CLI does:
 * spawn `run-policy-pack` in the pack directory, read the port from the first stdout line, then
 * GetAnalyzerInfo / Configure / Analyze / AnalyzeStack. Used by the policy tests and meant for
 * offline plan/audit tooling, so it has no test-framework dependencies.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient, AnalyzerService } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { common, Field, Reader, Root, Type, Writer } from "protobufjs";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { resolvePackConfig, type EffectiveConfig, type PackConfig } from "./pack-config";

/**
 * The CLI dials plugins with a 400 MB receive limit instead of gRPC's 4 MB default (pulumi/pulumi
 * sdk/go/common/util/rpcutil `GrpcChannelOptions`, pulumi/pulumi#2319); @pulumi/policy's server
 * accepts the same. Without it a large stack's AnalyzeStack answer is refused by this client.
 */
const MAX_RPC_MESSAGE_BYTES = 400 * 1024 * 1024;

export type { PackConfig };

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";

export interface PolicyInfo {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  kind: "resource" | "stack" | "unknown";
  configSchema?: { properties: Record<string, Record<string, unknown>>; required: string[] };
}

export interface PackInfo {
  name: string;
  version: string;
  policies: PolicyInfo[];
}

export interface ResourceOptions {
  protect?: boolean;
  parent?: string;
  ignoreChanges?: string[];
  aliases?: string[];
  additionalSecretOutputs?: string[];
  deleteBeforeReplace?: boolean;
}

export interface AnalyzerResource {
  type: string;
  name: string;
  /** Derived from type and name when omitted. */
  urn?: string;
  properties: Record<string, unknown>;
  /** `properties` encoded earlier; sent instead of encoding them again. */
  encoded?: EncodedProperties;
  options?: ResourceOptions;
  dependencies?: string[];
}

export interface Diagnostic {
  policyName: string;
  policyPackName: string;
  policyPackVersion: string;
  description: string;
  message: string;
  enforcementLevel: EnforcementLevel;
  urn?: string;
}

export interface AnalyzeResult {
  diagnostics: Diagnostic[];
  notApplicable: { policyName: string; reason: string }[];
}

export interface StartOptions {
  /** Node binary; defaults to the one running this process (Node 22 under `npx`). */
  node?: string;
  /** Milliseconds to wait for the port line. */
  startTimeoutMs?: number;
  /** Names the config in error messages (the file it came from). */
  configSource?: string;
  /** URN prefix for resources without an explicit urn. */
  project?: string;
  stack?: string;
}

/** Wire-protocol sentinels the engine sends for values unknown during preview. */
export const UNKNOWN = {
  string: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  number: "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  boolean: "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  array: "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  object: "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
} as const;

const LEVEL_TO_PB: Record<EnforcementLevel, pb.EnforcementLevel> = {
  advisory: pb.EnforcementLevel.ADVISORY,
  mandatory: pb.EnforcementLevel.MANDATORY,
  remediate: pb.EnforcementLevel.REMEDIATE,
  disabled: pb.EnforcementLevel.DISABLED,
};

function levelFromPb(level: pb.EnforcementLevel): EnforcementLevel {
  const found = (Object.keys(LEVEL_TO_PB) as EnforcementLevel[]).find(
    (k) => LEVEL_TO_PB[k] === level,
  );
  if (!found) throw new Error(`unknown enforcement level ${level}`);
  return found;
}

function kindFromPb(type: pb.PolicyType): PolicyInfo["kind"] {
  if (type === pb.PolicyType.POLICY_TYPE_RESOURCE) return "resource";
  if (type === pb.PolicyType.POLICY_TYPE_STACK) return "stack";
  return "unknown";
}

/**
 * Properties go on the wire as google.protobuf.Struct. protobufjs encodes one from plain objects
 * (its bundled struct.proto) several times cheaper in CPU and garbage than building a
 * google-protobuf Struct/Value message object per value, which dominated the client's profile.
 */
const STRUCT = Root.fromJSON(bundledProto("google/protobuf/struct.proto")).lookupType(
  "google.protobuf.Struct",
);

function bundledProto(file: string) {
  const json = common.get(file);
  if (!json) throw new Error(`protobufjs does not bundle ${file}`);
  return json;
}

/** google.protobuf.Value as protobufjs encodes it from a plain object (one `kind` set). */
type ValueShape =
  | { nullValue: 0 }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: { fields: Record<string, ValueShape> } }
  | { listValue: { values: ValueShape[] } };

const NULL: ValueShape = { nullValue: 0 };

/**
 * `value` as JSON.stringify sees it (the engine's rules): undefined when JSON drops it (undefined,
 * functions, symbols), non-finite numbers as null, no -0; anything but plain objects, arrays and
 * primitives (a Date or Buffer with toJSON, boxed primitives, bigint) through JSON itself.
 */
function toValue(value: unknown): ValueShape | undefined {
  switch (typeof value) {
    case "string":
      return { stringValue: value };
    case "boolean":
      return { boolValue: value };
    case "number":
      return Number.isFinite(value) ? { numberValue: value + 0 } : NULL;
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return NULL;
  const proto: unknown = Object.getPrototypeOf(value);
  if (typeof (value as { toJSON?: unknown }).toJSON !== "function") {
    if (proto === Array.prototype) return { listValue: { values: toList(value as unknown[]) } };
    if (proto === Object.prototype || proto === null) {
      return { structValue: { fields: toFields(value as Record<string, unknown>) } };
    }
  }
  const text = JSON.stringify(value);
  return text === undefined ? undefined : toValue(JSON.parse(text));
}

/** In arrays JSON writes what it would drop as null (holes too). */
function toList(values: unknown[]): ValueShape[] {
  const out = new Array<ValueShape>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toValue(values[i]) ?? NULL;
  return out;
}

function toFields(object: Record<string, unknown>): Record<string, ValueShape> {
  // No prototype: a "__proto__" key is data here, as it is in JSON.
  const fields = Object.create(null) as Record<string, ValueShape>;
  for (const key of Object.keys(object)) {
    const v = toValue(object[key]);
    if (v !== undefined) fields[key] = v;
  }
  return fields;
}

/** `value` as google.protobuf.Struct bytes, exactly what a JSON round trip would send. */
export function encodeStruct(value: Record<string, unknown>): Uint8Array {
  const v = toValue(value);
  if (!v || !("structValue" in v)) throw new Error("properties must encode to a JSON object");
  return STRUCT.encode(v.structValue).finish();
}

/** For the few google-protobuf messages that still carry a Struct (Configure). */
function toStruct(value: Record<string, unknown>): Struct {
  return Struct.deserializeBinary(encodeStruct(value));
}

/**
 * Properties encoded once, for a caller that sends the same object more than once (a resource
 * whose outputs are its inputs goes to Analyze and AnalyzeStack). The object must not change.
 */
export class EncodedProperties {
  readonly bytes: Uint8Array;

  constructor(readonly source: Record<string, unknown>) {
    this.bytes = encodeStruct(source);
  }
}

/**
 * The key (field number and wire type) the generated encoder writes for a field, read from a
 * message where only that field is set, so no field number is copied from analyzer.proto.
 */
function fieldKey(message: { serializeBinary(): Uint8Array }): number {
  return Reader.create(message.serializeBinary()).uint32();
}

const KEY = {
  analyzeProperties: fieldKey(new pb.AnalyzeRequest().setProperties(new Struct())),
  resourceProperties: fieldKey(new pb.AnalyzerResource().setProperties(new Struct())),
  stackResources: fieldKey(
    new pb.AnalyzeStackRequest().setResourcesList([new pb.AnalyzerResource()]),
  ),
};

/**
 * `message` (a generated message without its properties) with the properties appended: protobuf
 * parsers accept fields in any order, so this is the same message the generated encoder writes.
 */
function withProperties(message: Uint8Array, key: number, resource: AnalyzerResource): Buffer {
  return Buffer.concat([
    message,
    Writer.create().uint32(key).bytes(propertyBytes(resource)).finish(),
  ]);
}

function propertyBytes(resource: AnalyzerResource): Uint8Array {
  const { encoded, properties } = resource;
  if (!encoded) return encodeStruct(properties);
  if (encoded.source !== properties)
    throw new Error(`encoded properties of another object for ${resource.name}`);
  return encoded.bytes;
}

function unary<Req, Res>(
  call: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export class PolicyPackClient {
  private stderrText = "";
  private info?: PackInfo;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly client: AnalyzerClient,
    private readonly urnPrefix: string,
  ) {
    child.stderr.on("data", (chunk: Buffer) => (this.stderrText += chunk.toString()));
    // Keep draining stdout after the port line so a chatty pack cannot block on a full pipe.
    child.stdout.resume();
  }

  /** Starts the pack in `packDir` and configures it once (schema defaults plus `config`). */
  static async start(
    packDir: string,
    config: PackConfig = {},
    options: StartOptions = {},
  ): Promise<PolicyPackClient> {
    const dir = path.resolve(packDir);
    const runner = path.join(dir, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
    // The engine address argument is required but never dialled by the pack.
    const child = spawn(options.node ?? process.execPath, [runner, "127.0.0.1:0", dir], {
      cwd: dir,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let port: number;
    try {
      port = await readPort(child, options.startTimeoutMs ?? 90_000);
    } catch (err) {
      child.kill("SIGKILL");
      throw err;
    }
    const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_RPC_MESSAGE_BYTES,
      // Per-call bookkeeping a loopback channel to a child process has no use for (transparent
      // retries, channelz statistics); ~7% of the client's CPU per Analyze at 10,000 resources.
      "grpc.enable_retries": 0,
      "grpc.enable_channelz": 0,
    });
    const prefix = `urn:pulumi:${options.stack ?? "test"}::${options.project ?? "mailserver"}::`;
    const pack = new PolicyPackClient(child, client, prefix);
    try {
      await pack.configure(config, options.configSource);
    } catch (err) {
      await pack.close();
      throw err;
    }
    return pack;
  }

  /** The pack's process id (the benchmarks read its CPU time). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** What the pack wrote to stderr so far (diagnostics when something goes wrong). */
  get stderr(): string {
    return this.stderrText;
  }

  async getAnalyzerInfo(): Promise<PackInfo> {
    const res = await unary<Empty, pb.AnalyzerInfo>(
      (r, cb) => this.client.getAnalyzerInfo(r, cb),
      new Empty(),
    );
    this.info = {
      name: res.getName(),
      version: res.getVersion(),
      policies: res.getPoliciesList().map((p) => {
        const schema = p.getConfigschema();
        const info: PolicyInfo = {
          name: p.getName(),
          description: p.getDescription(),
          enforcementLevel: levelFromPb(p.getEnforcementlevel()),
          kind: kindFromPb(p.getPolicyType()),
        };
        if (schema) {
          info.configSchema = {
            properties: (schema.getProperties()?.toJavaScript() ?? {}) as Record<
              string,
              Record<string, unknown>
            >,
            required: schema.getRequiredList(),
          };
        }
        return info;
      }),
    };
    return this.info;
  }

  /** The pack's metadata, read by the first Configure. */
  get packInfo(): PackInfo {
    if (!this.info) throw new Error("the pack has not been configured");
    return this.info;
  }

  /** Sends Configure for every policy (tools/pack-config.ts rules); returns what was sent. */
  async configure(config: PackConfig = {}, source?: string): Promise<EffectiveConfig> {
    const info = this.info ?? (await this.getAnalyzerInfo());
    const effective = resolvePackConfig(info, config, source);
    const req = new pb.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const [name, c] of Object.entries(effective)) {
      const pc = new pb.PolicyConfig();
      pc.setEnforcementlevel(LEVEL_TO_PB[c.enforcementLevel]);
      pc.setProperties(toStruct(c.properties));
      map.set(name, pc);
    }
    await unary<pb.ConfigureAnalyzerRequest, Empty>((r, cb) => this.client.configure(r, cb), req);
    return effective;
  }

  urn(type: string, name: string): string {
    return `${this.urnPrefix}${type}::${name}`;
  }

  private urnOf(resource: AnalyzerResource): string {
    return resource.urn ?? this.urn(resource.type, resource.name);
  }

  async analyze(resource: AnalyzerResource): Promise<AnalyzeResult> {
    return this.send(AnalyzerService.analyze.path, analyzeRequest(resource, this.urnOf(resource)));
  }

  async analyzeStack(resources: AnalyzerResource[]): Promise<AnalyzeResult> {
    const request = analyzeStackRequest(resources, (r) => this.urnOf(r));
    return this.send(AnalyzerService.analyzeStack.path, request);
  }

  /** A call with the request already encoded and the response decoded by decodeAnalyzeResponse. */
  private send(path: string, request: Buffer): Promise<AnalyzeResult> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        path,
        (bytes: Buffer) => bytes,
        decodeAnalyzeResponse,
        request,
        (err, res) =>
          err || !res ? reject(err ?? new Error(`${path}: no response`)) : resolve(res),
      );
    });
  }

  /** Closes the channel and stops the pack process; resolves once it has exited. */
  async close(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The fields a single-resource request and a stack request's resource share, but properties. */
function describe<M extends pb.AnalyzeRequest | pb.AnalyzerResource>(
  message: M,
  resource: AnalyzerResource,
  urn: string,
): M {
  message.setType(resource.type);
  message.setName(resource.name);
  message.setUrn(urn);
  message.setOptions(toOptions(resource.options));
  return message;
}

/** AnalyzeRequest bytes: the generated encoder's fields, then the properties. */
export function analyzeRequest(resource: AnalyzerResource, urn: string): Buffer {
  const header = describe(new pb.AnalyzeRequest(), resource, urn).serializeBinary();
  return withProperties(header, KEY.analyzeProperties, resource);
}

/** AnalyzeStackRequest bytes, one AnalyzerResource a resource in order. */
export function analyzeStackRequest(
  resources: AnalyzerResource[],
  urnOf: (resource: AnalyzerResource) => string,
): Buffer {
  const w = Writer.create();
  for (const resource of resources) {
    const r = describe(new pb.AnalyzerResource(), resource, urnOf(resource));
    if (resource.options?.parent) r.setParent(resource.options.parent);
    r.setDependenciesList(resource.dependencies ?? []);
    const bytes = withProperties(r.serializeBinary(), KEY.resourceProperties, resource);
    w.uint32(KEY.stackResources).bytes(bytes);
  }
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toOptions(options: ResourceOptions = {}): pb.AnalyzerResourceOptions {
  const o = new pb.AnalyzerResourceOptions();
  o.setProtect(options.protect ?? false);
  o.setIgnorechangesList(options.ignoreChanges ?? []);
  o.setAliasesList(options.aliases ?? []);
  o.setAdditionalsecretoutputsList(options.additionalSecretOutputs ?? []);
  if (options.deleteBeforeReplace !== undefined) {
    o.setDeletebeforereplacedefined(true);
    o.setDeletebeforereplace(options.deleteBeforeReplace);
  }
  if (options.parent) o.setParent(options.parent);
  return o;
}

/**
 * The AnalyzeResponse fields this client reads, decoded by protobufjs: google-protobuf's generated
 * decoder spends most of a large response (tens of thousands of diagnostics) in its JavaScript
 * UTF-8 decoding. Field numbers and types are those the generated decoder reads
 * (@pulumi/pulumi/proto/analyzer_pb.js, `deserializeBinaryFromReader` of AnalyzeResponse,
 * AnalyzeDiagnostic, PolicyNotApplicable); other fields are skipped. The wire tests decode a
 * generated response with every field set both ways.
 */
const RESPONSE = new Root()
  .add(
    new Type("AnalyzeDiagnostic")
      .add(new Field("policyName", 1, "string"))
      .add(new Field("policyPackName", 2, "string"))
      .add(new Field("policyPackVersion", 3, "string"))
      .add(new Field("description", 4, "string"))
      .add(new Field("message", 5, "string"))
      .add(new Field("enforcementLevel", 7, "int32"))
      .add(new Field("urn", 8, "string")),
  )
  .add(
    new Type("PolicyNotApplicable")
      .add(new Field("policyName", 1, "string"))
      .add(new Field("reason", 2, "string")),
  )
  .add(
    new Type("AnalyzeResponse")
      .add(new Field("diagnostics", 2, "AnalyzeDiagnostic", "repeated"))
      .add(new Field("notApplicable", 3, "PolicyNotApplicable", "repeated")),
  )
  .lookupType("AnalyzeResponse");

/** A decoded response: proto3 defaults ("" and 0) for absent fields, like the generated getters. */
interface ResponseShape {
  diagnostics: (Omit<Diagnostic, "enforcementLevel" | "urn"> & {
    enforcementLevel: pb.EnforcementLevel;
    urn: string;
  })[];
  notApplicable: { policyName: string; reason: string }[];
}

export function decodeAnalyzeResponse(bytes: Uint8Array): AnalyzeResult {
  const res = RESPONSE.decode(bytes) as unknown as ResponseShape;
  return {
    diagnostics: res.diagnostics.map((d) => {
      const diag: Diagnostic = {
        policyName: d.policyName,
        policyPackName: d.policyPackName,
        policyPackVersion: d.policyPackVersion,
        description: d.description,
        message: d.message,
        enforcementLevel: levelFromPb(d.enforcementLevel),
      };
      if (d.urn) diag.urn = d.urn;
      return diag;
    }),
    notApplicable: res.notApplicable.map((n) => ({ policyName: n.policyName, reason: n.reason })),
  };
}

/** Resolves with the port from the first stdout line; rejects on exit or timeout. */
function readPort(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const onErr = (chunk: Buffer) => (err += chunk.toString());
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      child.stdout.off("data", onOut);
      child.stderr.off("data", onErr);
      child.off("exit", onExit);
      fn();
    };
    const onOut = (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf("\n");
      if (newline < 0) return;
      const port = Number(out.slice(0, newline).trim());
      finish(() =>
        Number.isInteger(port) && port > 0
          ? resolve(port)
          : reject(new Error(`first stdout line is not a port: ${out.slice(0, newline)}`)),
      );
    };
    const onExit = (code: number | null) =>
      finish(() => reject(new Error(`policy pack exited (${code}) before serving:\n${err}`)));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`no port from policy pack in ${timeoutMs} ms:\n${err}`))),
      timeoutMs,
    );
    child.stdout.on("data", onOut);
    child.stderr.on("data", onErr);
    child.on("exit", onExit);
  });
}
