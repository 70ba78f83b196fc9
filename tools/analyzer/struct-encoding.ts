/**
 * Resource properties as google.protobuf.Struct bytes, the way the engine's JSON-shaped wire
 * format would send them. tools/analyzer/wire.ts splices them into Analyzer requests.
 */
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { common, Root } from "protobufjs";

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
