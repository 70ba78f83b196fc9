/**
 * A Patch resource merged into the object it patches, as the API server merges it. The
 * @pulumi/kubernetes Patch kinds (`DeploymentPatch`, `ConfigMapPatch`, ...) are Server-Side Apply
 * requests: a map is merged key by key, a list marked `listType=map` is merged item by item on its
 * map keys, and every other list, and every struct or map marked atomic, is replaced whole. The
 * markers are those of the types the pack judges, from kubernetes/api v0.34.0.
 */
import { isObject, type Plain, type PlainObject } from "./plain";

/** Lists merged item by item, by the fields that identify an item (`+listMapKey`). */
const MAP_LISTS: Record<string, { keys: string[]; source: string }> = {
  "PodSpec.volumes": { keys: ["name"], source: "core/v1/types.go:4096" },
  "PodSpec.initContainers": { keys: ["name"], source: "core/v1/types.go:4114" },
  "PodSpec.containers": { keys: ["name"], source: "core/v1/types.go:4123" },
  "PodSpec.ephemeralContainers": { keys: ["name"], source: "core/v1/types.go:4133" },
  "PodSpec.imagePullSecrets": { keys: ["name"], source: "core/v1/types.go:4228" },
  "PodSpec.hostAliases": { keys: ["ip"], source: "core/v1/types.go:4255" },
  "PodSpec.topologySpreadConstraints": {
    keys: ["topologyKey", "whenUnsatisfiable"],
    source: "core/v1/types.go:4318",
  },
  "PodSpec.schedulingGates": { keys: ["name"], source: "core/v1/types.go:4385" },
  "PodSpec.resourceClaims": { keys: ["name"], source: "core/v1/types.go:4402" },
  "Container.ports": { keys: ["containerPort", "protocol"], source: "core/v1/types.go:2944" },
  "Container.env": { keys: ["name"], source: "core/v1/types.go:2961" },
  "Container.volumeMounts": { keys: ["mountPath"], source: "core/v1/types.go:3012" },
  "Container.volumeDevices": { keys: ["devicePath"], source: "core/v1/types.go:3019" },
  "ServiceSpec.ports": { keys: ["port", "protocol"], source: "core/v1/types.go:5849" },
};

/**
 * Maps and structs replaced whole (`+mapType=atomic`, `+structType=atomic`): a patch that sets
 * one selector label drops the others.
 */
const ATOMIC: Record<string, string> = {
  "PodSpec.nodeSelector": "core/v1/types.go:4167",
  "ServiceSpec.selector": "core/v1/types.go:5858",
  "EnvVar.valueFrom.secretKeyRef": "core/v1/types.go:2566 (SecretKeySelector)",
  "EnvVar.valueFrom.configMapKeyRef": "core/v1/types.go:2554 (ConfigMapKeySelector)",
  "EnvVar.valueFrom.fieldRef": "core/v1/types.go:2531 (ObjectFieldSelector)",
  "EnvVar.valueFrom.resourceFieldRef": "core/v1/types.go:2541 (ResourceFieldSelector)",
};

/** `protocol` is defaulted to TCP before the merge (core/v1/types.go ContainerPort.Protocol). */
const KEY_DEFAULTS: Record<string, Plain> = { protocol: "TCP" };

/** Where a kind keeps the structs the tables name, as schema names of each path prefix. */
const ROOTS: Record<string, [string, string][]> = {
  Pod: [["spec", "PodSpec"]],
  CronJob: [["spec.jobTemplate.spec.template.spec", "PodSpec"]],
  Service: [["spec", "ServiceSpec"]],
};
const TEMPLATE_ROOT: [string, string][] = [["spec.template.spec", "PodSpec"]];

/** The schema name of a field path ("spec.template.spec.containers" -> "PodSpec.containers"). */
function schemaPath(kind: string, path: string[]): string | undefined {
  for (const [prefix, schema] of ROOTS[kind] ?? TEMPLATE_ROOT) {
    const p = prefix.split(".");
    if (path.length <= p.length || p.some((k, i) => path[i] !== k)) continue;
    return structPath(schema, path.slice(p.length));
  }
  return undefined;
}

/** Descends from a struct into containers and env entries, which the tables name by type. */
function structPath(schema: string, rest: string[]): string {
  const [field, ...tail] = rest;
  if (schema === "PodSpec" && tail.length > 0 && /^(initC|c|ephemeralC)ontainers$/.test(field)) {
    return structPath("Container", tail);
  }
  if (schema === "Container" && field === "env" && tail.length > 0) {
    return structPath("EnvVar", tail);
  }
  return [schema, ...rest].join(".");
}

const keyOf = (item: Plain, keys: string[]): string =>
  JSON.stringify(keys.map((k) => (isObject(item) ? (item[k] ?? KEY_DEFAULTS[k] ?? null) : null)));

function mergeList(kind: string, path: string[], base: Plain, patch: Plain[]): Plain {
  const spec = MAP_LISTS[schemaPath(kind, path) ?? ""];
  if (!spec || !Array.isArray(base)) return patch;
  const out = [...base];
  for (const item of patch) {
    const i = out.findIndex((b) => keyOf(b, spec.keys) === keyOf(item, spec.keys));
    if (i < 0) out.push(item);
    else out[i] = mergeValue(kind, path, out[i], item);
  }
  return out;
}

function mergeValue(kind: string, path: string[], base: Plain, patch: Plain): Plain {
  if (Array.isArray(patch)) return mergeList(kind, path, base, patch);
  if (!isObject(patch) || !isObject(base)) return patch;
  if (ATOMIC[schemaPath(kind, path) ?? ""]) return patch;
  const out: PlainObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    // A field the patch leaves out (null after copying) is not applied.
    if (value === null) continue;
    out[key] = key in base ? mergeValue(kind, [...path, key], base[key], value) : value;
  }
  return out;
}

/** The object `target` of `kind` once `patch` (the Patch resource's properties) is applied. */
export function applyPatch(kind: string, target: PlainObject, patch: PlainObject): PlainObject {
  return mergeValue(kind, [], target, patch) as PlainObject;
}

/** "DeploymentPatch" -> "Deployment"; undefined for a kind that is not a Patch. */
export function patchedKind(kind: string | undefined): string | undefined {
  return kind?.endsWith("Patch") ? kind.slice(0, -"Patch".length) : undefined;
}
