/**
 * The Analyzer requests tools/analyzer/wire.ts encodes itself (protobufjs Struct from
 * tools/analyzer/struct-encoding.ts, spliced after the generated encoder's fields) are the messages the
 * generated google-protobuf code writes, with undefined dropped exactly as the JSON round trip the
 * engine's wire format implies.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Struct, type JavaScriptValue } from "google-protobuf/google/protobuf/struct_pb";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { PolicyPackClient } from "../../tools/analyzer/client";
import {
  analyzeRequest,
  analyzeStackRequest,
  decodeAnalyzeResponse,
  type AnalyzerResource,
} from "../../tools/analyzer/wire";
import { encodeStruct, EncodedProperties } from "../../tools/analyzer/struct-encoding";
import { analyze } from "../../tools/analyzer/analysis";
import type { Item } from "../../tools/report/model";
import { PACK_DIR } from "../policy/harness";

/** What the engine's JSON-shaped wire value would be: JSON.stringify's rules. */
function viaJson(value: Record<string, unknown>): Record<string, JavaScriptValue> {
  return JSON.parse(JSON.stringify(value)) as Record<string, JavaScriptValue>;
}

/** google-protobuf's own Struct for the JSON round trip (what the client sent before). */
function jspbStruct(value: Record<string, unknown>): Struct {
  return Struct.fromJavaScript(viaJson(value));
}

/** Values JSON treats specially: undefined in objects and arrays, holes, NaN, -0, toJSON, … */
function awkward(): Record<string, unknown> {
  const holes = new Array<unknown>(3);
  holes[1] = "middle";
  return {
    gone: undefined,
    fn: () => 1,
    sym: Symbol("s"),
    list: [1, undefined, { drop: undefined, keep: "x" }, () => 2, null, [undefined, [undefined]]],
    holes,
    nested: { deeper: { gone: undefined, zero: -0, nan: NaN, inf: -Infinity, ok: 1.5 } },
    when: new Date(0),
    buf: Buffer.from("ab"),
    // An own "__proto__" key (as JSON.parse makes it) is data, not a prototype.
    ["__proto__"]: { data: true },
    unicode: "δ✓ — \u0000",
    empty: {},
    emptyList: [],
    big: 2 ** 60,
    bool: false,
  };
}

function options(o: {
  protect: boolean;
  parent?: string;
  ignoreChanges?: string[];
}): pb.AnalyzerResourceOptions {
  const m = new pb.AnalyzerResourceOptions();
  m.setProtect(o.protect);
  m.setIgnorechangesList(o.ignoreChanges ?? []);
  if (o.parent) m.setParent(o.parent);
  return m;
}

const bytes = (m: { serializeBinary(): Uint8Array }) => Buffer.from(m.serializeBinary());

describe("analyzer wire encoding", () => {
  it("encodes a Struct exactly as the JSON round trip does (undefined dropped, null in arrays)", () => {
    const value = awkward();
    const ours = Struct.deserializeBinary(encodeStruct(value));
    assert.deepEqual(bytes(ours), bytes(jspbStruct(value)));
    assert.deepStrictEqual(ours.toJavaScript().nested, {
      deeper: { zero: 0, nan: null, inf: null, ok: 1.5 },
    });
    const list = ours.toJavaScript().list as unknown[];
    assert.deepStrictEqual(list, [1, null, { keep: "x" }, null, null, [null, [null]]]);
    assert.deepStrictEqual(ours.toJavaScript().holes, [null, "middle", null]);
  });

  it("refuses what JSON refuses (bigint) and a non-object top level", () => {
    assert.throws(() => encodeStruct({ n: 1n }), TypeError);
    assert.throws(() => encodeStruct(new Date(0) as unknown as Record<string, unknown>), /object/);
  });

  it("writes the AnalyzeRequest the generated encoder writes", () => {
    const resource: AnalyzerResource = {
      type: "kubernetes:core/v1:Service",
      name: "mail",
      properties: awkward(),
      options: { protect: true, parent: "urn:pulumi:s::p::a:b:C::parent", ignoreChanges: ["x"] },
    };
    const urn = "urn:pulumi:s::p::kubernetes:core/v1:Service::mail";
    const expected = new pb.AnalyzeRequest();
    expected.setType(resource.type);
    expected.setName(resource.name);
    expected.setUrn(urn);
    expected.setProperties(jspbStruct(resource.properties));
    expected.setOptions(
      options({ protect: true, parent: resource.options?.parent, ignoreChanges: ["x"] }),
    );
    const decoded = pb.AnalyzeRequest.deserializeBinary(analyzeRequest(resource, urn));
    assert.deepEqual(decoded.toObject(), expected.toObject());
    assert.deepEqual(bytes(decoded), bytes(expected));
  });

  it("writes the AnalyzeStackRequest the generated encoder writes, resources in order", () => {
    const shared = { spec: { ports: [25, undefined, 587] } };
    const resources: AnalyzerResource[] = [
      { type: "a:b:C", name: "one", properties: shared, encoded: new EncodedProperties(shared) },
      {
        type: "a:b:D",
        name: "two",
        properties: awkward(),
        options: { protect: false, parent: "urn:pulumi:s::p::a:b:C::one" },
        dependencies: ["urn:pulumi:s::p::a:b:C::one"],
      },
      { type: "a:b:E", name: "three", properties: {} },
    ];
    const urnOf = (r: AnalyzerResource) => `urn:pulumi:s::p::${r.type}::${r.name}`;
    const expected = new pb.AnalyzeStackRequest();
    expected.setResourcesList(
      resources.map((r) => {
        const m = new pb.AnalyzerResource();
        m.setType(r.type);
        m.setName(r.name);
        m.setUrn(urnOf(r));
        m.setProperties(jspbStruct(r.properties));
        m.setOptions(options({ protect: false, parent: r.options?.parent }));
        if (r.options?.parent) m.setParent(r.options.parent);
        m.setDependenciesList(r.dependencies ?? []);
        return m;
      }),
    );
    const decoded = pb.AnalyzeStackRequest.deserializeBinary(analyzeStackRequest(resources, urnOf));
    assert.deepEqual(decoded.toObject(), expected.toObject());
    assert.deepEqual(bytes(decoded), bytes(expected));
  });

  it("decodes the AnalyzeResponse the generated encoder writes, every field set", () => {
    const diag = (i: number, urn: string) => {
      const d = new pb.AnalyzeDiagnostic();
      d.setPolicyname(`policy-${i}`);
      d.setPolicypackname("pack");
      d.setPolicypackversion("1.2.3");
      d.setDescription("why — δ✓");
      d.setMessage(`fix it ${"é".repeat(i * 50)}`);
      d.setEnforcementlevel(
        i === 0 ? pb.EnforcementLevel.MANDATORY : pb.EnforcementLevel.REMEDIATE,
      );
      d.setUrn(urn);
      d.setSeverity(pb.PolicySeverity.POLICY_SEVERITY_HIGH);
      return d;
    };
    const res = new pb.AnalyzeResponse();
    res.setDiagnosticsList([diag(0, "urn:pulumi:s::p::a:b:C::x"), diag(1, "")]);
    const na = new pb.PolicyNotApplicable();
    na.setPolicyName("skipped");
    na.setReason("not this type");
    res.setNotApplicableList([na]);
    const common = { policyPackName: "pack", policyPackVersion: "1.2.3", description: "why — δ✓" };
    assert.deepStrictEqual(decodeAnalyzeResponse(res.serializeBinary()), {
      diagnostics: [
        {
          policyName: "policy-0",
          ...common,
          message: "fix it ",
          enforcementLevel: "mandatory",
          urn: "urn:pulumi:s::p::a:b:C::x",
        },
        {
          policyName: "policy-1",
          ...common,
          message: `fix it ${"é".repeat(50)}`,
          enforcementLevel: "remediate",
        },
      ],
      notApplicable: [{ policyName: "skipped", reason: "not this type" }],
    });
    assert.deepStrictEqual(decodeAnalyzeResponse(new pb.AnalyzeResponse().serializeBinary()), {
      diagnostics: [],
      notApplicable: [],
    });
  });

  it("refuses an encoding made for another object", () => {
    const resource: AnalyzerResource = {
      type: "a:b:C",
      name: "x",
      properties: { a: 1 },
      encoded: new EncodedProperties({ a: 1 }),
    };
    assert.throws(() => analyzeRequest(resource, "urn:pulumi:s::p::a:b:C::x"), /another object/);
  });
});

/** A pack that reports, as the message, the properties it received (Analyze and AnalyzeStack). */
function writeEchoPack(dir: string): void {
  fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\ndescription: echo\n");
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "echo", version: "0.0.0", main: "index.js" }),
  );
  fs.writeFileSync(
    path.join(dir, "index.js"),
    [
      'const { PolicyPack } = require("@pulumi/policy");',
      'new PolicyPack("echo", { policies: [',
      '  { name: "resource", description: "echo", enforcementLevel: "advisory",',
      "    validateResource: (args, report) => report(JSON.stringify(args.props)) },",
      '  { name: "stack", description: "echo", enforcementLevel: "advisory",',
      "    validateStack: (args, report) => {",
      "      for (const r of args.resources) report(JSON.stringify(r.props), r.urn);",
      "    } },",
      "] });",
      "",
    ].join("\n"),
  );
  fs.symlinkSync(path.join(PACK_DIR, "node_modules"), path.join(dir, "node_modules"));
}

describe("analysis over the wire: a resource whose outputs are its inputs", () => {
  let dir = "";
  let pack: PolicyPackClient | undefined;
  before(async function () {
    this.timeout(120_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "echo-pack-"));
    writeEchoPack(dir);
    pack = await PolicyPackClient.start(dir);
  });
  after(async () => {
    await pack?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("sends Analyze and AnalyzeStack the same properties, undefined dropped as JSON does", async () => {
    if (!pack) throw new Error("echo pack not started");
    const stackUrn = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s";
    const item = (name: string, inputs: Record<string, unknown>, outputs = inputs): Item => ({
      urn: `urn:pulumi:s::p::a:b:C::${name}`,
      type: "a:b:C",
      name,
      parent: stackUrn,
      custom: true,
      protect: false,
      retainOnDelete: false,
      dependencies: [],
      inputs,
      outputs,
    });
    // The pack's own decoding would take a "__proto__" key for the prototype.
    const sharedProps = awkward();
    Reflect.deleteProperty(sharedProps, "__proto__");
    const shared = item("shared", sharedProps);
    const distinct = item("distinct", { in: [undefined, 1] }, { out: { x: undefined, y: [2] } });
    const violations = await analyze(pack, [shared, distinct], stackUrn);
    const seen = (policy: string, urn: string) =>
      violations
        .filter((v) => v.policy === policy && v.urn === urn)
        // @pulumi/policy puts the policy description on the message's first line.
        .map((v) => JSON.parse(v.message.slice(v.message.indexOf("\n") + 1)) as unknown);
    assert.deepStrictEqual(seen("resource", shared.urn), [viaJson(sharedProps)]);
    assert.deepStrictEqual(seen("stack", shared.urn), [viaJson(sharedProps)]);
    assert.deepStrictEqual(seen("resource", distinct.urn), [{ in: [null, 1] }]);
    assert.deepStrictEqual(seen("stack", distinct.urn), [{ out: { y: [2] } }]);
  });
});
