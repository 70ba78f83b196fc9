/**
 * Which file a container sees at a path, followed the way the kubelet builds it from the pod
 * spec: the deepest volumeMount at or above the path, its volume, and for a configMap or secret
 * volume the object's key projected there (kubernetes/api core/v1/types.go: `items` project only
 * the listed keys to their paths, otherwise every key is a file named after it; `subPath` mounts
 * that path of the volume; `defaultMode` is 0644 when unset; a Secret's `stringData` is merged
 * over `data` on write). Other volume kinds hold files the pack cannot read.
 */
import * as path from "node:path";
import { at, isObject, list, str, Unknown, type Plain, type PlainObject } from "./plain";
import { findObject, type StackResource } from "./stack";

export type MountedFile =
  | {
      kind: "file";
      /** e.g. `Secret mailserver/mailserver-dkim key dkim.private.txt`. */
      origin: string;
      content: string | Unknown;
      mode: number;
    }
  /** Nothing the pod spec puts at the path (the image's own file, if any). */
  | { kind: "absent"; why: string }
  /** Something is there, but from a source whose content the pack cannot read. */
  | { kind: "opaque"; why: string }
  | { kind: "unknown"; value: Unknown };

/** SecretVolumeSourceDefaultMode and ConfigMapVolumeSourceDefaultMode (core/v1/types.go). */
const DEFAULT_MODE = 0o644;

interface Mount {
  name: string;
  mountPath: string;
  subPath: string;
  subPathExpr: boolean;
}

interface Projected {
  key: string;
  path: string;
  mode: number;
}

const clean = (p: string) => path.posix.normalize(p).replace(/(.)\/+$/, "$1");

function mountsOf(container: PlainObject): Mount[] | Unknown {
  const out: Mount[] = [];
  for (const m of list(container.volumeMounts)) {
    const fields = ["name", "mountPath", "subPath", "subPathExpr"].map((k) => at(m, k));
    const unknown = fields.find((f) => f instanceof Unknown);
    if (unknown instanceof Unknown) return unknown;
    const [name, mountPath, subPath, subPathExpr] = fields.map(str);
    if (!name || !mountPath) continue;
    out.push({
      name,
      mountPath: clean(mountPath),
      subPath: subPath ?? "",
      subPathExpr: !!subPathExpr,
    });
  }
  return out;
}

/** The deepest mount at or above `file`; two at the same path cannot be told apart. */
function coveringMount(mounts: Mount[], file: string): Mount | "ambiguous" | undefined {
  const covering = mounts.filter(
    (m) => m.mountPath === file || file.startsWith(m.mountPath === "/" ? "/" : `${m.mountPath}/`),
  );
  const depth = Math.max(...covering.map((m) => m.mountPath.length));
  const deepest = covering.filter((m) => m.mountPath.length === depth);
  if (deepest.length > 1) return "ambiguous";
  return deepest[0];
}

/**
 * The object's files: key -> content (a Secret's data decoded, stringData over it), or the field
 * the pack was not shown: a stack export's secrets reach it as one string ("[secret]" from
 * `pulumi policy analyze --file`), which hides the keys as well as the values.
 */
function objectData(
  kind: "ConfigMap" | "Secret",
  r: StackResource,
): Map<string, Plain> | Unknown | { hidden: string } {
  const fields = kind === "Secret" ? ["data", "stringData"] : ["binaryData", "data"];
  const out = new Map<string, Plain>();
  for (const field of fields) {
    const map = at(r.props, field);
    if (map instanceof Unknown) return map;
    if (map !== undefined && map !== null && !isObject(map)) return { hidden: field };
    if (!isObject(map)) continue;
    const base64 = field === "binaryData" || (kind === "Secret" && field === "data");
    for (const [k, v] of Object.entries(map)) {
      out.set(k, base64 && typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : v);
    }
  }
  return out;
}

function projected(source: Plain, keys: string[]): Projected[] | Unknown {
  const modeOf = (v: Plain | undefined, fallback: number) => (typeof v === "number" ? v : fallback);
  const defaultMode = at(source, "defaultMode");
  if (defaultMode instanceof Unknown) return defaultMode;
  const mode = modeOf(defaultMode, DEFAULT_MODE);
  const items = at(source, "items");
  if (items instanceof Unknown) return items;
  if (!Array.isArray(items)) return keys.map((key) => ({ key, path: key, mode }));
  const out: Projected[] = [];
  for (const item of items) {
    const fields = ["key", "path", "mode"].map((k) => at(item, k));
    const unknown = fields.find((f) => f instanceof Unknown);
    if (unknown instanceof Unknown) return unknown;
    out.push({
      key: str(fields[0]) ?? "",
      path: clean(str(fields[1]) ?? ""),
      mode: modeOf(fields[2], mode),
    });
  }
  return out;
}

function volumeSource(volume: PlainObject) {
  if (isObject(volume.secret)) {
    return {
      kind: "Secret" as const,
      source: volume.secret,
      name: at(volume.secret, "secretName"),
    };
  }
  if (isObject(volume.configMap)) {
    return {
      kind: "ConfigMap" as const,
      source: volume.configMap,
      name: at(volume.configMap, "name"),
    };
  }
  return undefined;
}

/**
 * The file `file` in `container` of `podSpec` (a workload in `namespace`), resolved against the
 * stack's ConfigMaps and Secrets.
 */
export function fileAt(
  resources: readonly StackResource[],
  namespace: string,
  podSpec: Plain,
  container: PlainObject,
  file: string,
): MountedFile {
  const mounts = mountsOf(container);
  if (mounts instanceof Unknown) return { kind: "unknown", value: mounts };
  const mount = coveringMount(mounts, file);
  if (mount === undefined) return { kind: "absent", why: `no volumeMount covers ${file}` };
  if (mount === "ambiguous") return { kind: "opaque", why: `two volumeMounts cover ${file}` };
  const volume = list(at(podSpec, "volumes")).find((v) => at(v, "name") === mount.name);
  if (volume instanceof Unknown) return { kind: "unknown", value: volume };
  if (!isObject(volume)) return { kind: "opaque", why: `no volume ${mount.name} for its mount` };
  if (mount.subPathExpr)
    return { kind: "opaque", why: `mount ${mount.mountPath} uses subPathExpr` };
  const src = volumeSource(volume);
  if (!src) {
    const kinds =
      Object.keys(volume)
        .filter((k) => k !== "name")
        .join(", ") || "no source";
    return { kind: "opaque", why: `volume ${mount.name} (${kinds}) at ${mount.mountPath}` };
  }
  if (src.name instanceof Unknown) return { kind: "unknown", value: src.name };
  return objectFile(resources, namespace, src, mount, file);
}

function objectFile(
  resources: readonly StackResource[],
  namespace: string,
  src: NonNullable<ReturnType<typeof volumeSource>>,
  mount: Mount,
  file: string,
): MountedFile {
  const name = str(src.name) ?? "";
  const what = `${src.kind} ${namespace}/${name}`;
  const r = findObject(resources, src.kind, namespace, name);
  if (!r) return { kind: "opaque", why: `${what} (volume ${mount.name}) is not in the stack` };
  const data = objectData(src.kind, r);
  if (data instanceof Unknown) return { kind: "unknown", value: data };
  if (!(data instanceof Map)) {
    return {
      kind: "opaque",
      why: `${what}, whose ${data.hidden} this snapshot hides (a stack export's secrets; audit an export taken with \`pulumi stack export --show-secrets\`)`,
    };
  }
  const files = projected(src.source, [...data.keys()]);
  if (files instanceof Unknown) return { kind: "unknown", value: files };
  const rel = file === mount.mountPath ? "" : file.slice(mount.mountPath.length).replace(/^\//, "");
  const inVolume = clean(path.posix.join(mount.subPath || ".", rel || "."));
  const hit = files.find((f) => f.path === inVolume);
  if (!hit) {
    return {
      kind: "absent",
      why: `${what} projects no file at ${inVolume} (volume ${mount.name})`,
    };
  }
  const content = data.get(hit.key);
  if (content instanceof Unknown) return { kind: "unknown", value: content };
  if (typeof content !== "string") {
    return { kind: "absent", why: `${what} has no key ${hit.key} (the pod would not start)` };
  }
  return { kind: "file", origin: `${what} key ${hit.key}`, content, mode: hit.mode };
}
