/**
 * The CrowdSec agent as the stack read it at preview, and the acquisition files it loads.
 *
 * Contract with the program: a resource whose outputs carry
 * `agent: { daemonSet: { namespace, name, container, volumeMounts, volumes, scheduling: {
 * tolerations, nodeSelector, affinity, topologySpreadConstraints, nodeName?, hostNetwork } },
 * configMaps: [{ namespace, name, data }] }` publishes the live agent (the CrowdSecAcquisition
 * component does, from `k8s.apps.v1.DaemonSet.get` and `k8s.core.v1.ConfigMap.get`). Reads are not analyzed by the
 * engine themselves (it keeps them apart from registered resources), hence this view.
 */
import { isAcquisitionPath, parseAcquisition, type Datasource } from "./crowdsec";
import { kindOf, nameOf, namespaceOf } from "./k8s";
import { at, isObject, list, str, type Plain, type PlainObject, type PreviewGaps } from "./plain";
import type { StackResource } from "./stack";

export interface AgentMount {
  name: string;
  mountPath: string;
  subPath?: string;
}

export interface AgentView {
  /** The resource that published the view. */
  resource: StackResource;
  namespace: string;
  name: string;
  container: string;
  mounts: AgentMount[];
  volumes: PlainObject[];
  /** The pod spec fields that place its pods, as published (undefined: the view has none). */
  scheduling: Plain | undefined;
  /** Acquisition ConfigMaps read live, by name: their data. */
  readConfigMaps: Map<string, PlainObject>;
}

function mountsOf(v: PlainObject): AgentMount[] {
  return list(at(v, "volumeMounts")).flatMap((m) => {
    const name = str(at(m, "name"));
    const mountPath = str(at(m, "mountPath"));
    if (!name || !mountPath) return [];
    const subPath = str(at(m, "subPath"));
    return [{ name, mountPath, ...(subPath ? { subPath } : {}) }];
  });
}

/** Every agent view in the stack; an unknown view is noted as a preview gap. */
export function agentViews(resources: readonly StackResource[], gaps: PreviewGaps): AgentView[] {
  const out: AgentView[] = [];
  for (const r of resources) {
    const agent = at(r.props, "agent");
    if (gaps.check(agent, r.name) || !isObject(agent)) continue;
    const ds = at(agent, "daemonSet");
    if (gaps.check(ds, r.name) || !isObject(ds) || !Array.isArray(ds.volumeMounts)) continue;
    const readConfigMaps = new Map<string, PlainObject>();
    for (const cm of list(at(agent, "configMaps"))) {
      const name = str(at(cm, "name"));
      const data = at(cm, "data");
      if (name && isObject(data)) readConfigMaps.set(name, data);
    }
    out.push({
      resource: r,
      namespace: str(ds.namespace) ?? "",
      name: str(ds.name) ?? "",
      container: str(ds.container) ?? "",
      mounts: mountsOf(ds),
      volumes: list(ds.volumes).filter(isObject),
      scheduling: at(ds, "scheduling"),
      readConfigMaps,
    });
  }
  return out;
}

export function describeAgent(a: AgentView): string {
  return `DaemonSet ${a.namespace}/${a.name} (container ${a.container})`;
}

/** The ConfigMap key a subPath mount shows, when its volume is a ConfigMap. */
export function mountedKey(
  a: AgentView,
  m: AgentMount,
): { configMap: string; key: string } | undefined {
  const volume = a.volumes.find((v) => v.name === m.name);
  const configMap = str(at(volume, "configMap", "name"));
  if (!configMap || !m.subPath) return undefined;
  const items = at(volume, "configMap", "items");
  if (!Array.isArray(items)) return { configMap, key: m.subPath };
  const item = items.find((i) => str(at(i, "path")) === m.subPath);
  const key = str(at(item, "key"));
  return key ? { configMap, key } : undefined;
}

/** An acquisition file of a ConfigMap the stack itself creates. */
export interface OwnedAcquisition {
  resource: StackResource;
  configMap: string;
  key: string;
  sources: readonly Datasource[];
}

/** Acquisition files (YAML keys with datasources) of the stack's ConfigMaps in `namespace`. */
export function ownedAcquisitions(
  resources: readonly StackResource[],
  namespace: string,
  gaps: PreviewGaps,
): OwnedAcquisition[] {
  const out: OwnedAcquisition[] = [];
  for (const r of resources) {
    if (kindOf(r.type) !== "ConfigMap") continue;
    const ns = namespaceOf(r.props);
    const name = nameOf(r.props, r.name);
    if (gaps.check(ns, r.name) || gaps.check(name, r.name) || ns !== namespace) continue;
    const data = at(r.props, "data");
    if (gaps.check(data, r.name) || !isObject(data)) continue;
    for (const [key, text] of Object.entries(data)) {
      if (!/\.ya?ml$/.test(key) || gaps.check(text, `${r.name} data.${key}`)) continue;
      const sources = typeof text === "string" ? parseAcquisition(text).sources : [];
      if (sources.some((s) => s.filenames.length > 0)) {
        out.push({ resource: r, configMap: name, key, sources });
      }
    }
  }
  return out;
}

/** An acquisition file the agent loads, and what it holds when the stack knows it. */
export interface LoadedFile {
  mountPath: string;
  /** e.g. `ConfigMap crowdsec/acquis-configmap key acquis.yaml`. */
  origin: string;
  /** Undefined when neither created nor read by the stack. */
  sources?: readonly Datasource[];
  owned: boolean;
}

/** Every acquisition file the agent loads, resolved against the stack and the reads. */
export function loadedFiles(a: AgentView, owned: OwnedAcquisition[]): LoadedFile[] {
  return a.mounts
    .filter((m) => isAcquisitionPath(m.mountPath))
    .map((m): LoadedFile => {
      const file = mountedKey(a, m);
      if (!file) {
        return { mountPath: m.mountPath, origin: `volume ${m.name}`, owned: false };
      }
      const origin = `ConfigMap ${a.namespace}/${file.configMap} key ${file.key}`;
      const mine = owned.find((o) => o.configMap === file.configMap && o.key === file.key);
      if (mine) return { mountPath: m.mountPath, origin, sources: mine.sources, owned: true };
      const text = a.readConfigMaps.get(file.configMap)?.[file.key];
      if (typeof text !== "string") {
        return { mountPath: m.mountPath, origin, owned: false };
      }
      return {
        mountPath: m.mountPath,
        origin,
        sources: parseAcquisition(text).sources,
        owned: false,
      };
    });
}
