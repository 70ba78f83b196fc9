/** Stack-wide views shared by the stack policies. */
import type { PolicyResource } from "@pulumi/policy";
import { mergePatches, patchedType } from "./patches";
import {
  containersOf,
  isDmsContainer,
  kindOf,
  nameOf,
  namespaceOf,
  podSpecOf,
  type ContainerRef,
} from "./k8s";
import {
  at,
  keysOf,
  list,
  pickPlain,
  PreviewGaps,
  str,
  toPlain,
  Unknown,
  type Plain,
} from "./plain";

export interface StackResource {
  type: string;
  name: string;
  urn: string;
  props: Plain;
  protect: boolean;
}

/** Which resources a stack policy reads, decided on the type token alone. */
export type ReadsType = (type: string) => boolean;

/**
 * The stack's resources of the types a policy reads, as plain data, in stack order. Copying is
 * most of a stack policy's cost, and every policy gets its own proxies from the SDK, so each
 * copies only what it judges; the others cannot change its verdict, unknown values in them
 * included.
 */
export function plainResources(
  resources: PolicyResource[],
  reads: ReadsType,
): readonly StackResource[] {
  const out: StackResource[] = [];
  for (const r of resources) {
    const patched = patchedType(r.type);
    if (reads(r.type) || (patched && reads(patched))) out.push(plainResource(r, toPlain(r.props)));
  }
  // A policy judges each object as the stack's Patches leave it (lib/patches.ts).
  return Object.freeze(mergePatches(out).merged);
}

/** Every resource of the stack with only its top-level property `key` copied (see pickPlain). */
export function plainProperty(resources: PolicyResource[], key: string): readonly StackResource[] {
  return Object.freeze(resources.map((r) => plainResource(r, pickPlain(r.props, key))));
}

function plainResource(r: PolicyResource, props: Plain): StackResource {
  return { type: r.type, name: r.name, urn: r.urn, props, protect: r.opts.protect };
}

export interface DmsContainer {
  workload: StackResource;
  workloadName: string;
  namespace: string;
  container: ContainerRef;
}

/** docker-mailserver containers of every workload in the stack. */
export function dmsContainers(
  resources: readonly StackResource[],
  repoName: string,
  gaps: PreviewGaps,
): DmsContainer[] {
  const out: DmsContainer[] = [];
  for (const r of resources) {
    const podSpec = podSpecOf(r.type, r.props);
    if (!kindOf(r.type) || podSpec === undefined) continue;
    for (const c of containersOf(podSpec)) {
      const dms = isDmsContainer(c.container, repoName);
      if (gaps.check(dms, r.name)) continue;
      if (!dms) continue;
      const name = nameOf(r.props, r.name);
      const ns = namespaceOf(r.props);
      if (gaps.check(name, r.name) || gaps.check(ns, r.name)) continue;
      out.push({ workload: r, workloadName: name, namespace: ns, container: c });
    }
  }
  return out;
}

type ObjectKind = "ConfigMap" | "Secret";

const objectKey = (kind: string, namespace: string, name: string) =>
  JSON.stringify([kind, namespace, name]);

/**
 * ConfigMaps and Secrets of a resource list by kind, namespace and name (the first of each wins),
 * built once per list (plainResources freezes it): every docker-mailserver container looks
 * several of them up.
 */
const objectIndexes = new WeakMap<readonly StackResource[], Map<string, StackResource>>();

function objectIndex(resources: readonly StackResource[]): Map<string, StackResource> {
  let index = objectIndexes.get(resources);
  if (index) return index;
  index = new Map();
  for (const r of resources) {
    const kind = kindOf(r.type);
    if (kind !== "ConfigMap" && kind !== "Secret") continue;
    const ns = namespaceOf(r.props);
    const name = nameOf(r.props, r.name);
    if (typeof ns !== "string" || typeof name !== "string") continue;
    const key = objectKey(kind, ns, name);
    if (!index.has(key)) index.set(key, r);
  }
  objectIndexes.set(resources, index);
  return index;
}

/** The stack's ConfigMap or Secret of that namespace and name, if the stack has one. */
export function findObject(
  resources: readonly StackResource[],
  kind: ObjectKind,
  namespace: string,
  name: string,
): StackResource | undefined {
  return objectIndex(resources).get(objectKey(kind, namespace, name));
}

export interface EnvFromConfigMap {
  name: string;
  prefix: string;
  resource?: StackResource;
}

/** ConfigMaps a container pulls in with envFrom, resolved against the stack. */
export function envFromConfigMaps(
  resources: readonly StackResource[],
  c: DmsContainer,
  gaps: PreviewGaps,
): EnvFromConfigMap[] {
  const out: EnvFromConfigMap[] = [];
  for (const source of list(c.container.container.envFrom)) {
    const ref = at(source, "configMapRef", "name");
    if (gaps.check(ref, c.workload.name)) continue;
    const name = str(ref);
    if (!name) continue;
    const prefix = str(at(source, "prefix")) ?? "";
    out.push({ name, prefix, resource: findObject(resources, "ConfigMap", c.namespace, name) });
  }
  return out;
}

/** Where an env value came from: decisions about it are made on this data, never on text. */
export type EnvSource =
  | { kind: "env"; container: string }
  | { kind: "valueFrom"; container: string; secretKeyRef?: { name: string; key: string } }
  | { kind: "configMap"; name: string; key: string; prefix: string; resource: StackResource }
  | { kind: "secret"; name: string; key: string; resource?: StackResource }
  /** An envFrom ConfigMap the stack does not hold: it may set any key. */
  | { kind: "unresolved"; name: string };

/** Where a container's effective value of an env var comes from. */
export type EnvValue =
  | { kind: "literal"; value: string; source: EnvSource }
  | { kind: "opaque"; source: EnvSource }
  | { kind: "unknown"; value: Unknown; source?: EnvSource }
  | { kind: "missing"; consulted: StackResource[] };

/** What one envFrom entry contributes to `key`, or undefined when it does not set it. */
function envFromValue(
  resources: readonly StackResource[],
  namespace: string,
  source: Plain,
  key: string,
  consulted: StackResource[],
): EnvValue | undefined {
  const prefix = str(at(source, "prefix")) ?? "";
  if (!key.startsWith(prefix)) return undefined;
  const bare = key.slice(prefix.length);
  const secretName = at(source, "secretRef", "name");
  if (secretName instanceof Unknown) return { kind: "unknown", value: secretName };
  if (typeof secretName === "string") {
    const resource = findObject(resources, "Secret", namespace, secretName);
    if (!resource) {
      return { kind: "opaque", source: { kind: "secret", name: secretName, key: bare } };
    }
    const fields = ["data", "stringData"];
    const unknown = fields.map((f) => at(resource.props, f)).find((m) => m instanceof Unknown);
    if (unknown instanceof Unknown) return { kind: "unknown", value: unknown };
    return keysOf(resource.props, fields, new PreviewGaps()).includes(bare)
      ? { kind: "opaque", source: { kind: "secret", name: secretName, key: bare, resource } }
      : undefined;
  }
  const cmName = at(source, "configMapRef", "name");
  if (cmName instanceof Unknown) return { kind: "unknown", value: cmName };
  if (typeof cmName !== "string") return undefined;
  const cm = findObject(resources, "ConfigMap", namespace, cmName);
  if (!cm) {
    return { kind: "opaque", source: { kind: "unresolved", name: cmName } };
  }
  consulted.push(cm);
  const value = at(cm.props, "data", bare);
  const from: EnvSource = { kind: "configMap", name: cmName, key: bare, prefix, resource: cm };
  if (value instanceof Unknown) return { kind: "unknown", value, source: from };
  return typeof value === "string" ? { kind: "literal", value, source: from } : undefined;
}

/** The Secret and key an env entry reads through valueFrom.secretKeyRef, when both are known. */
function secretKeyRefOf(entry: Plain): { secretKeyRef: { name: string; key: string } } | object {
  const name = str(at(entry, "valueFrom", "secretKeyRef", "name"));
  const key = str(at(entry, "valueFrom", "secretKeyRef", "key"));
  return name !== undefined && key !== undefined ? { secretKeyRef: { name, key } } : {};
}

/**
 * Effective value of `key` for a container: `env` entries override `envFrom`, later sources
 * override earlier ones, an envFrom prefix is prepended to each key (Kubernetes semantics).
 * Secrets and valueFrom are opaque; a Secret in the stack without the key does not set it.
 */
export function effectiveEnv(
  resources: readonly StackResource[],
  c: DmsContainer,
  key: string,
): EnvValue {
  let found: EnvValue | undefined;
  const consulted: StackResource[] = [];
  for (const source of list(c.container.container.envFrom)) {
    found = envFromValue(resources, c.namespace, source, key, consulted) ?? found;
  }
  for (const entry of list(c.container.container.env)) {
    if (at(entry, "name") !== key) continue;
    const value = at(entry, "value");
    const container = c.container.name;
    if (value instanceof Unknown) found = { kind: "unknown", value };
    else if (typeof value === "string")
      found = { kind: "literal", value, source: { kind: "env", container } };
    else
      found = {
        kind: "opaque",
        source: { kind: "valueFrom", container, ...secretKeyRefOf(entry) },
      };
  }
  return found ?? { kind: "missing", consulted };
}
