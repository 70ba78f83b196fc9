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
import { at, list, str, toPlain, Unknown, type Plain, type PreviewGaps } from "./plain";

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

export function findConfigMap(
  resources: StackResource[],
  namespace: string,
  name: string,
): StackResource | undefined {
  return resources.find(
    (r) =>
      kindOf(r.type) === "ConfigMap" &&
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
    out.push({ name, prefix, resource: findConfigMap(resources, c.namespace, name) });
  }
  return out;
}

/** Where a container's effective value of an env var comes from. */
export type EnvValue =
  | { kind: "literal"; value: string; from: string }
  | { kind: "opaque"; from: string }
  | { kind: "unknown"; value: Unknown; from: string }
  | { kind: "missing"; unresolved: string[] };

/**
 * Effective value of `key` for a container: `env` entries override `envFrom`, later sources
 * override earlier ones (Kubernetes semantics). Secrets and valueFrom are opaque to a policy.
 */
export function effectiveEnv(resources: StackResource[], c: DmsContainer, key: string): EnvValue {
  let found: EnvValue | undefined;
  const unresolved: string[] = [];
  for (const source of list(c.container.container.envFrom)) {
    const prefix = str(at(source, "prefix")) ?? "";
    if (!key.startsWith(prefix)) continue;
    const secretName = at(source, "secretRef", "name");
    if (secretName !== undefined) {
      found = { kind: "opaque", from: `Secret ${str(secretName) ?? "(unknown)"}` };
      continue;
    }
    const cmName = at(source, "configMapRef", "name");
    if (cmName instanceof Unknown) {
      found = { kind: "unknown", value: cmName, from: "envFrom configMapRef" };
      continue;
    }
    const name = str(cmName);
    if (!name) continue;
    const cm = findConfigMap(resources, c.namespace, name);
    if (!cm) {
      unresolved.push(name);
      continue;
    }
    const value = at(cm.props, "data", key.slice(prefix.length));
    if (value instanceof Unknown) found = { kind: "unknown", value, from: `ConfigMap ${name}` };
    else if (typeof value === "string")
      found = { kind: "literal", value, from: `ConfigMap ${name}` };
  }
  for (const entry of list(c.container.container.env)) {
    if (at(entry, "name") !== key) continue;
    const value = at(entry, "value");
    const from = `env of container ${c.container.name}`;
    if (value instanceof Unknown) found = { kind: "unknown", value, from };
    else if (typeof value === "string") found = { kind: "literal", value, from };
    else found = { kind: "opaque", from: `${from} (valueFrom)` };
  }
  return found ?? { kind: "missing", unresolved };
}
