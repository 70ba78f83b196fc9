/**
 * Every file the planned stack puts into a container from a ConfigMap, found the way the kubelet
 * finds it: a workload's volumeMount of a configMap volume, one key by subPath or the whole map
 * (or its `items`) as a directory. The content is read from the planned ConfigMap, so these tests
 * check what the program renders today, not a copy of it.
 */
import * as path from "node:path";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";

export interface RenderedFile {
  /** Where the container sees the file. */
  mountPath: string;
  /** `namespace/name` of the ConfigMap and the key the file comes from. */
  source: string;
  /** `Kind/name` of the workload that mounts it, and the container. */
  workload: string;
  content: string;
}

interface Volume {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
}
interface Mount {
  name: string;
  mountPath: string;
  subPath?: string;
}
interface Container {
  name: string;
  volumeMounts?: Mount[];
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}

/** The pod template of each workload kind the program may plan. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
  "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
  "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
  "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
  "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
  "kubernetes:core/v1:Pod": ["spec"],
};

function dig(obj: unknown, keys: string[]): unknown {
  return keys.reduce<unknown>(
    (node, key) =>
      node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined,
    obj,
  );
}

function meta(r: CapturedResource): { name: string; namespace: string } {
  const m = r.inputs.metadata as { name?: string; namespace?: string } | undefined;
  return { name: m?.name ?? r.name, namespace: m?.namespace ?? "default" };
}

/** The files of one mount of a configMap volume. */
function mountedFiles(
  mount: Mount,
  volume: Volume,
  data: Record<string, string>,
): { key: string; file: string }[] {
  const items = volume.configMap?.items ?? Object.keys(data).map((key) => ({ key, path: key }));
  if (mount.subPath !== undefined) {
    const item = items.find((i) => i.path === mount.subPath);
    return item ? [{ key: item.key, file: mount.mountPath }] : [];
  }
  return items.map((i) => ({ key: i.key, file: path.posix.join(mount.mountPath, i.path) }));
}

/** Every ConfigMap-sourced file of every workload in the run. */
export function renderedFiles(run: ProgramRun): RenderedFile[] {
  const configMaps = new Map(
    run.resources
      .filter((r) => r.type === "kubernetes:core/v1:ConfigMap")
      .map((r) => {
        const m = meta(r);
        return [`${m.namespace}/${m.name}`, (r.inputs.data ?? {}) as Record<string, string>];
      }),
  );
  const files: RenderedFile[] = [];
  for (const r of run.resources) {
    const specPath = POD_SPEC_PATHS[r.type];
    if (!specPath) continue;
    const spec = dig(r.inputs, specPath) as PodSpec | undefined;
    const { name, namespace } = meta(r);
    for (const container of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      for (const mount of container.volumeMounts ?? []) {
        const volume = spec?.volumes?.find((v) => v.name === mount.name);
        if (!volume?.configMap) continue;
        const source = `${namespace}/${volume.configMap.name}`;
        const data = configMaps.get(source);
        if (!data) throw new Error(`${r.type} ${name} mounts ConfigMap ${source}, not planned`);
        for (const { key, file } of mountedFiles(mount, volume, data)) {
          files.push({
            mountPath: file,
            source: `${source}:${key}`,
            workload: `${r.type.split(":").pop()}/${name} (${container.name})`,
            content: data[key],
          });
        }
      }
    }
  }
  return files;
}
