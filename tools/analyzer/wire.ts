/**
 * The Analyzer protocol as this client speaks it: the types plan, audit and the tests share, and
 * requests and responses encoded and decoded the way the Pulumi CLI sends and reads them
 * (properties as tools/analyzer/struct-encoding.ts encodes them). tools/analyzer/client.ts carries them over gRPC.
 */
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Field, Reader, Root, Type, Writer } from "protobufjs";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { encodeStruct, type EncodedProperties } from "./struct-encoding";

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
