/**
 * What the kubelet puts into the mail container from the planned objects: each volumeMount of a
 * configMap or secret volume (one key by subPath, or the whole object or its `items` as a
 * directory) with the file mode the volume sets, and the container's environment (envFrom
 * ConfigMaps, then `env`). Read from the plan, so the rehearsal runs what the program renders.
 *
 * The one home of how such a volume becomes files: tests/daemons/rendered.ts reads every
 * workload's ConfigMap files with objectMounts and filesOfMount.
 */
import * as path from "node:path";
import type { CapturedResource, ProgramRun } from "../offline/mock-program";

export interface MountedFile {
  /** Where the container sees the file. */
  mountPath: string;
  /** `Kind namespace/name:key` the file comes from (never its content). */
  source: string;
  content: string;
  /** The volume's defaultMode (Kubernetes: 0644 when unset). */
  mode: number;
}

export interface Items {
  items?: { key: string; path: string; mode?: number }[];
  defaultMode?: number;
}
export interface Volume {
  name: string;
  configMap?: Items & { name: string };
  secret?: Items & { secretName: string };
}
export interface Mount {
  name: string;
  mountPath: string;
  subPath?: string;
}
export interface Container {
  name: string;
  volumeMounts?: Mount[];
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string }[];
}
export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}

/** The Kubernetes default for a volume without defaultMode (0644). */
const DEFAULT_MODE = 0o644;

/** A planned object's name and namespace (Kubernetes: "default" when unset). */
export function objectMeta(r: CapturedResource): { name: string; namespace: string } {
  const m = r.inputs.metadata as { name?: string; namespace?: string } | undefined;
  return { name: m?.name ?? r.name, namespace: m?.namespace ?? "default" };
}

/** A planned object of `type` by namespace and name; throws when the plan has none. */
export function planned(run: ProgramRun, type: string, ns: string, name: string) {
  const hit = run.resources.find((r) => {
    const m = objectMeta(r);
    return r.type === type && m.namespace === ns && m.name === name;
  });
  if (!hit) throw new Error(`the plan has no ${type} ${ns}/${name}`);
  return hit;
}

/**
 * A ConfigMap's data or a Secret's keys (stringData, or data decoded from base64); undefined for
 * a Secret the program reads but does not plan (the certificate: cert-manager's).
 */
function objectData(
  run: ProgramRun,
  volume: Volume,
  ns: string,
): Record<string, string> | undefined {
  if (volume.configMap) {
    const cm = planned(run, "kubernetes:core/v1:ConfigMap", ns, volume.configMap.name);
    return (cm.inputs.data ?? {}) as Record<string, string>;
  }
  const name = volume.secret?.secretName ?? "";
  const secret = run.resources.find((r) => {
    const m = objectMeta(r);
    return r.type === "kubernetes:core/v1:Secret" && m.namespace === ns && m.name === name;
  });
  if (!secret) return undefined;
  const decoded = Object.entries((secret.inputs.data ?? {}) as Record<string, string>).map(
    ([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")],
  );
  return { ...Object.fromEntries(decoded), ...(secret.inputs.stringData ?? {}) } as Record<
    string,
    string
  >;
}

/**
 * The files one mount of a configMap or secret volume gives the container, from the object's
 * `data`; `what` names the object in each file's `source`.
 */
export function filesOfMount(
  mount: Mount,
  volume: Volume,
  data: Record<string, string>,
  what: string,
): MountedFile[] {
  const src = volume.configMap ?? volume.secret;
  const items = src?.items ?? Object.keys(data).map((key) => ({ key, path: key }));
  const mode = src?.defaultMode ?? DEFAULT_MODE;
  const chosen =
    mount.subPath !== undefined
      ? items.filter((i) => i.path === mount.subPath).map((i) => ({ ...i, file: mount.mountPath }))
      : items.map((i) => ({ ...i, file: path.posix.join(mount.mountPath, i.path) }));
  return chosen.map((i) => ({
    mountPath: i.file,
    source: `${what}:${i.key}`,
    content: data[i.key] ?? "",
    mode: ("mode" in i && typeof i.mode === "number" ? i.mode : undefined) ?? mode,
  }));
}

/** The container's mounts of configMap and secret volumes, each with its volume. */
export function objectMounts(
  spec: PodSpec,
  container: Container,
): { mount: Mount; volume: Volume }[] {
  return (container.volumeMounts ?? []).flatMap((mount) => {
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    return volume?.configMap || volume?.secret ? [{ mount, volume }] : [];
  });
}

/** The pod spec and first container of a planned Deployment. */
export function deploymentPod(run: ProgramRun, ns: string, name: string) {
  const d = planned(run, "kubernetes:apps/v1:Deployment", ns, name);
  const spec = (d.inputs.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
  const container = spec?.containers?.[0];
  if (!spec || !container) throw new Error(`Deployment ${ns}/${name} has no container`);
  return { spec, container };
}

/** Every configMap- and secret-sourced file the Deployment's first container mounts. */
export function mountedFiles(run: ProgramRun, ns: string, name: string): MountedFile[] {
  const { spec, container } = deploymentPod(run, ns, name);
  const files: MountedFile[] = [];
  for (const { mount, volume } of objectMounts(spec, container)) {
    const what = volume.configMap
      ? `ConfigMap ${ns}/${volume.configMap.name}`
      : `Secret ${ns}/${volume.secret?.secretName}`;
    const data = objectData(run, volume, ns);
    if (data) files.push(...filesOfMount(mount, volume, data, what));
  }
  return files;
}

/** The container's environment as the kubelet builds it: envFrom ConfigMaps, then `env`. */
export function containerEnv(run: ProgramRun, ns: string, name: string): Record<string, string> {
  const { container } = deploymentPod(run, ns, name);
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (!from.configMapRef) continue;
    const cm = planned(run, "kubernetes:core/v1:ConfigMap", ns, from.configMapRef.name);
    Object.assign(env, cm.inputs.data ?? {});
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}
