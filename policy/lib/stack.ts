/** Stack-wide views shared by the stack policies. */
import type { PolicyResource } from "@pulumi/policy";
import {
  containersOf,
  isDmsContainer,
  kindOf,
  nameOf,
  namespaceOf,
  podSpecOf,
  type ContainerRef,
} from "./k8s";
import { at, keysOf, list, PreviewGaps, str, toPlain, Unknown, type Plain } from "./plain";

export interface StackResource {
  type: string;
  name: string;
  urn: string;
  props: Plain;
  protect: boolean;
}

export function plainResources(resources: PolicyResource[]): StackResource[] {
  return resources.map((r) => ({
    type: r.type,
    name: r.name,
    urn: r.urn,
    props: toPlain(r.props),
    protect: r.opts.protect,
  }));
}

export interface DmsContainer {
  workload: StackResource;
  workloadName: string;
  namespace: string;
  container: ContainerRef;
}

/** docker-mailserver containers of every workload in the stack. */
export function dmsContainers(
  resources: StackResource[],
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

/** The stack's ConfigMap or Secret of that namespace and name, if the stack has one. */
export function findObject(
  resources: StackResource[],
  kind: "ConfigMap" | "Secret",
  namespace: string,
  name: string,
): StackResource | undefined {
  return resources.find(
    (r) =>
      kindOf(r.type) === kind &&
      namespaceOf(r.props) === namespace &&
      nameOf(r.props, r.name) === name,
  );
}

export interface EnvFromConfigMap {
  name: string;
  prefix: string;
  resource?: StackResource;
}

/** ConfigMaps a container pulls in with envFrom, resolved against the stack. */
export function envFromConfigMaps(
  resources: StackResource[],
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
  | { kind: "valueFrom"; container: string }
  | { kind: "configMap"; name: string; key: string; prefix: string; resource: StackResource }
  | { kind: "secret"; name: string; resource?: StackResource };

/** Where a container's effective value of an env var comes from. */
export type EnvValue =
  | { kind: "literal"; value: string; source: EnvSource }
  | { kind: "opaque"; source: EnvSource }
  | { kind: "unknown"; value: Unknown; source?: EnvSource }
  | { kind: "missing"; unresolved: string[]; consulted: StackResource[] };

/** What one envFrom entry contributes to `key`, or undefined when it does not set it. */
function envFromValue(
  resources: StackResource[],
  namespace: string,
  source: Plain,
  key: string,
  unresolved: string[],
  consulted: StackResource[],
): EnvValue | undefined {
  const prefix = str(at(source, "prefix")) ?? "";
  if (!key.startsWith(prefix)) return undefined;
  const bare = key.slice(prefix.length);
  const secretName = at(source, "secretRef", "name");
  if (secretName instanceof Unknown) return { kind: "unknown", value: secretName };
  if (typeof secretName === "string") {
    const resource = findObject(resources, "Secret", namespace, secretName);
    if (!resource) return { kind: "opaque", source: { kind: "secret", name: secretName } };
    const fields = ["data", "stringData"];
    const unknown = fields.map((f) => at(resource.props, f)).find((m) => m instanceof Unknown);
    if (unknown instanceof Unknown) return { kind: "unknown", value: unknown };
    return keysOf(resource.props, fields, new PreviewGaps()).includes(bare)
      ? { kind: "opaque", source: { kind: "secret", name: secretName, resource } }
      : undefined;
  }
  const cmName = at(source, "configMapRef", "name");
  if (cmName instanceof Unknown) return { kind: "unknown", value: cmName };
  if (typeof cmName !== "string") return undefined;
  const cm = findObject(resources, "ConfigMap", namespace, cmName);
  if (!cm) {
    unresolved.push(cmName);
    return undefined;
  }
  consulted.push(cm);
  const value = at(cm.props, "data", bare);
  const from: EnvSource = { kind: "configMap", name: cmName, key: bare, prefix, resource: cm };
  if (value instanceof Unknown) return { kind: "unknown", value, source: from };
  return typeof value === "string" ? { kind: "literal", value, source: from } : undefined;
}

/**
 * Effective value of `key` for a container: `env` entries override `envFrom`, later sources
 * override earlier ones, an envFrom prefix is prepended to each key (Kubernetes semantics).
 * Secrets and valueFrom are opaque; a Secret in the stack without the key does not set it.
 */
export function effectiveEnv(resources: StackResource[], c: DmsContainer, key: string): EnvValue {
  let found: EnvValue | undefined;
  const unresolved: string[] = [];
  const consulted: StackResource[] = [];
  for (const source of list(c.container.container.envFrom)) {
    found = envFromValue(resources, c.namespace, source, key, unresolved, consulted) ?? found;
  }
  for (const entry of list(c.container.container.env)) {
    if (at(entry, "name") !== key) continue;
    const value = at(entry, "value");
    const container = c.container.name;
    if (value instanceof Unknown) found = { kind: "unknown", value };
    else if (typeof value === "string")
      found = { kind: "literal", value, source: { kind: "env", container } };
    else found = { kind: "opaque", source: { kind: "valueFrom", container } };
  }
  return found ?? { kind: "missing", unresolved, consulted };
}
