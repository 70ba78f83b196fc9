/**
 * Every file the planned stack puts into a container from a ConfigMap, found the way the kubelet
 * finds it: a workload's volumeMount of a configMap volume, one key by subPath or the whole map
 * (or its `items`) as a directory. The content is read from the planned ConfigMap, so these tests
 * check what the program renders today, not a copy of it. How a mount becomes files is the
 * rehearsal's (tools/rehearse/mounts.ts), which puts the same files into the mail pod.
 */
import type { ProgramRun } from "../../tools/offline/mock-program";
import {
  filesOfMount,
  objectMeta,
  objectMounts,
  type MountedFile,
  type PodSpec,
} from "../../tools/rehearse/mounts";

export interface RenderedFile extends MountedFile {
  /** `namespace/name` of the ConfigMap and the key the file comes from. */
  source: string;
  /** `Kind/name` of the workload that mounts it, and the container. */
  workload: string;
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

/** Every ConfigMap-sourced file of every workload in the run. */
export function renderedFiles(run: ProgramRun): RenderedFile[] {
  const configMaps = new Map(
    run.resources
      .filter((r) => r.type === "kubernetes:core/v1:ConfigMap")
      .map((r) => {
        const m = objectMeta(r);
        return [`${m.namespace}/${m.name}`, (r.inputs.data ?? {}) as Record<string, string>];
      }),
  );
  const files: RenderedFile[] = [];
  for (const r of run.resources) {
    const specPath = POD_SPEC_PATHS[r.type];
    if (!specPath) continue;
    const spec = (dig(r.inputs, specPath) ?? {}) as PodSpec;
    const { name, namespace } = objectMeta(r);
    for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const { mount, volume } of objectMounts(spec, container)) {
        if (!volume.configMap) continue;
        const source = `${namespace}/${volume.configMap.name}`;
        const data = configMaps.get(source);
        if (!data) throw new Error(`${r.type} ${name} mounts ConfigMap ${source}, not planned`);
        const workload = `${r.type.split(":").pop()}/${name} (${container.name})`;
        for (const file of filesOfMount(mount, volume, data, source))
          files.push({ ...file, workload });
      }
    }
  }
  return files;
}
