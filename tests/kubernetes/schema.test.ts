/**
 * Every Kubernetes object the program plans, checked against the upstream schema of the cluster's
 * Kubernetes minor (config `kubernetesVersion`): kubernetes-models' compiled OpenAPI validation
 * (types, required fields, enums) and its generated interfaces (unknown or misspelt fields).
 * Custom resources are checked against the prometheus-operator CRD models. A kind no model covers
 * fails: nothing passes unchecked.
 */
import * as assert from "node:assert/strict";
import { parseConfig, rawConfigFromPulumi } from "../../lib/config";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";
import { loadStackConfig, prodRun } from "../helpers/program";
import {
  findModel,
  installedVersion,
  minorOf,
  schemaErrors,
  SCHEMA_RELEASES,
  typeErrors,
  type FoundModel,
} from "./models";

/** Planned Kubernetes objects: custom resources of the kubernetes provider (not the provider). */
function kubernetesObjects(run: ProgramRun): CapturedResource[] {
  return run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
}

function describeObject(r: CapturedResource): string {
  const name = (r.inputs.metadata as { name?: string } | undefined)?.name ?? r.name;
  return `${String(r.inputs.apiVersion)} ${String(r.inputs.kind)} ${name}`;
}

/** The object with `key` renamed by swapping its 3rd and 4th letters. */
function renamed(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const typo = key.slice(0, 2) + key[3] + key[2] + key.slice(4);
  const { [key]: value, ...rest } = object;
  return { ...rest, [typo]: value };
}

/** The first field after apiVersion, kind and metadata misspelt (in metadata when none). */
function misspeltField(object: Record<string, unknown>): Record<string, unknown> {
  const key = Object.keys(object).find((k) => !["apiVersion", "kind", "metadata"].includes(k));
  if (key) return renamed(object, key);
  const metadata = object.metadata as Record<string, unknown>;
  return { ...object, metadata: renamed(metadata, Object.keys(metadata)[0]) };
}

/** Replaces the first string value below the top level (apiVersion, kind aside) with an object. */
function wrongType(value: unknown, depth = 0): { value: unknown; done: boolean } {
  if (typeof value === "string" && depth > 1) return { value: { wrong: true }, done: true };
  if (value && typeof value === "object") {
    const copy = (Array.isArray(value) ? [...(value as unknown[])] : { ...value }) as Record<
      string,
      unknown
    >;
    for (const key of Object.keys(copy)) {
      if (depth === 0 && (key === "apiVersion" || key === "kind")) continue;
      const inner = wrongType(copy[key], depth + 1);
      if (inner.done) {
        copy[key] = inner.value;
        return { value: copy, done: true };
      }
    }
  }
  return { value, done: false };
}

describe("Kubernetes objects against the upstream schema", function () {
  this.timeout(120_000);
  let checked: { r: CapturedResource; model: FoundModel }[];
  before(async () => {
    const run = await prodRun();
    checked = kubernetesObjects(run).flatMap((r) => {
      const model = findModel(String(r.inputs.apiVersion), String(r.inputs.kind));
      return model ? [{ r, model }] : [];
    });
  });

  it("uses the schema of the cluster's Kubernetes minor, never a newer one", () => {
    const cluster = parseConfig(rawConfigFromPulumi(loadStackConfig("prod"))).kubernetesVersion;
    const models = installedVersion("kubernetes-models");
    const schema = SCHEMA_RELEASES[models];
    assert.ok(schema, `kubernetes-models ${models}: add its Kubernetes release to SCHEMA_RELEASES`);
    const lag = minorOf(cluster) - minorOf(schema);
    // A newer schema would accept fields the cluster does not know; one minor older is the closest
    // published (no kubernetes-models release carries 1.34) and only ever refuses more.
    assert.ok(
      lag >= 0 && lag <= 1,
      `cluster runs Kubernetes ${cluster}, kubernetes-models ${models} has the ${schema} schema: ` +
        "pin the release whose schema is the cluster's minor (or the one before it)",
    );
  });

  it("has a model for every planned kind", async () => {
    const run = await prodRun();
    const missing = kubernetesObjects(run)
      .filter((r) => !findModel(String(r.inputs.apiVersion), String(r.inputs.kind)))
      .map(describeObject);
    assert.deepEqual(
      missing,
      [],
      "no upstream model: add its CRD models package to MODEL_PACKAGES",
    );
  });

  it("every planned object passes its schema", () => {
    const failures = checked
      .map(({ r, model }) => [describeObject(r), schemaErrors(model, r.inputs)])
      .filter(([, errors]) => errors !== "");
    assert.deepEqual(failures, []);
  });

  it("no planned object has an unknown or mistyped field", () => {
    const errors = typeErrors(checked.map(({ r, model }) => ({ model, object: r.inputs })));
    const failures = checked
      .map(({ r }, i) => [describeObject(r), ...errors[i]])
      .filter((f) => f.length > 1);
    assert.deepEqual(failures, []);
  });

  it("negative control: a wrong type fails the schema, for every planned object", () => {
    const unnoticed = checked
      .filter(({ model, r }) => {
        const broken = wrongType(r.inputs);
        assert.ok(broken.done, `${describeObject(r)} has no string field to break`);
        return schemaErrors(model, broken.value) === "";
      })
      .map(({ r }) => describeObject(r));
    assert.deepEqual(unnoticed, []);
  });

  it("negative control: a misspelt field fails the type check, for every planned object", () => {
    const errors = typeErrors(
      checked.map(({ r, model }) => ({ model, object: misspeltField(r.inputs) })),
    );
    const unnoticed = checked
      .filter((_, i) => errors[i].length === 0)
      .map(({ r }) => describeObject(r));
    assert.deepEqual(unnoticed, []);
  });
});
