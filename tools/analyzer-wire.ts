/**
 * The Analyzer protocol as this client speaks it: the types plan, audit and the tests share, and
 * requests and responses encoded and decoded the way the Pulumi CLI sends and reads them.
 * tools/analyzer.ts carries them over gRPC.
 */
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { common, Field, Reader, Root, Type, Writer } from "protobufjs";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";

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

/** Wire-protocol sentinels the engine sends for values unknown during preview. */
export const UNKNOWN = {
  string: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  number: "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  boolean: "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  array: "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  object: "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
} as const;

export const LEVEL_TO_PB: Record<EnforcementLevel, pb.EnforcementLevel> = {
  advisory: pb.EnforcementLevel.ADVISORY,
  mandatory: pb.EnforcementLevel.MANDATORY,
  remediate: pb.EnforcementLevel.REMEDIATE,
  disabled: pb.EnforcementLevel.DISABLED,
};

export function levelFromPb(level: pb.EnforcementLevel): EnforcementLevel {
  const found = (Object.keys(LEVEL_TO_PB) as EnforcementLevel[]).find(
    (k) => LEVEL_TO_PB[k] === level,
  );
  if (!found) throw new Error(`unknown enforcement level ${level}`);
  return found;
}

export function kindFromPb(type: pb.PolicyType): PolicyInfo["kind"] {
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
export function toStruct(value: Record<string, unknown>): Struct {
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
