/**
 * The Secrets a pod spec or an Ingress uses, read as Kubernetes reads them. For a pod spec that is
 * the list of `VisitPodSecretNames` (kubernetes/kubernetes pkg/api/v1/pod/util.go, with
 * `visitContainerSecretNames` and `VisitContainers`): imagePullSecrets; per init, regular and
 * ephemeral container its envFrom secretRefs and env secretKeyRefs; per volume a secret volume,
 * the secret sources of a projected volume, and the Secret of an azureFile, cephfs, cinder,
 * flexVolume, rbd, scaleIO, iscsi, storageos or csi volume. Like `skipEmptyNames` there, an absent
 * or empty name names no Secret. Transitive uses (a PVC's PersistentVolume) are not followed,
 * as there.
 *
 * What the pack cannot read never counts as compliance: an unknown (preview) anywhere on the way
 * is noted in `gaps`, and a name or a list that is not what the schema says (a number, an object
 * where a list belongs) is returned as `unreadable`, for the policy to refuse as "cannot verify".
 */
import { at, isObject, Unknown, type Plain } from "./plain";

export interface SecretUse {
  name: string;
  /** The route: the kubelet's pull credentials, a container's env, a volume, an Ingress's tls. */
  route: "imagePullSecrets" | "container" | "volume" | "ingress";
  /** Where the reference is, for messages (e.g. "volume tls", "container probe env KEY"). */
  where: string;
  /**
   * `optional: true` on the reference (secretKeyRef, envFrom secretRef, secret volume, projected
   * secret: "Specify whether the Secret must be defined", @pulumi/kubernetes 4.34.2
   * types/input.d.ts, from the Kubernetes API): the pod starts without the Secret, its data absent.
   * The other routes have no such field.
   */
  optional: boolean;
}

export interface SecretUses {
  uses: SecretUse[];
  /** Where a reference is that the pack cannot read: a policy refuses these as "cannot verify". */
  unreadable: string[];
}

/** The gap-noting side of `PreviewGaps` (lib/plain.ts). */
interface Gaps {
  check(v: Plain | undefined, where?: string): v is Unknown;
}

/**
 * Every Ingress token of @pulumi/kubernetes 4.34.2. Their `spec.tls[]` has one shape (hosts,
 * secretName: types/input.d.ts, IngressTLS of extensions/v1beta1, networking.k8s.io/v1beta1, v1).
 */
export const INGRESS_TYPES = [
  "kubernetes:networking.k8s.io/v1:Ingress",
  "kubernetes:networking.k8s.io/v1beta1:Ingress",
  "kubernetes:extensions/v1beta1:Ingress",
];

export function isIngress(type: string): boolean {
  return INGRESS_TYPES.includes(type);
}

/** Volume sources whose Secret Kubernetes visits, with the field that names it. */
const VOLUME_SECRET_FIELDS: [source: string, ref: string[]][] = [
  ["azureFile", ["secretName"]],
  ["cephfs", ["secretRef", "name"]],
  ["cinder", ["secretRef", "name"]],
  ["flexVolume", ["secretRef", "name"]],
  ["rbd", ["secretRef", "name"]],
  ["scaleIO", ["secretRef", "name"]],
  ["iscsi", ["secretRef", "name"]],
  ["storageos", ["secretRef", "name"]],
  ["csi", ["nodePublishSecretRef", "name"]],
];

class Collector {
  readonly out: SecretUses = { uses: [], unreadable: [] };
  /** The route of the names visited next. */
  route: SecretUse["route"] = "volume";

  constructor(
    private readonly gaps: Gaps,
    private readonly label: string,
  ) {}

  /**
   * The object entries of the list at `v`, none when it is absent: an unknown list or entry is
   * noted; a list that is not one, or an entry that is not an object (null aside), is unreadable.
   */
  items(v: Plain | undefined, where: string): [Plain, number][] {
    return this.list(v, where).filter(([x, i]) => {
      if (isObject(x)) return true;
      if (x !== null) this.out.unreadable.push(`${where}[${i}]`);
      return false;
    });
  }

  private list(v: Plain | undefined, where: string): [Plain, number][] {
    if (v === undefined || v === null) return [];
    if (this.gaps.check(v, `${this.label} ${where}`)) return [];
    if (!Array.isArray(v)) {
      this.out.unreadable.push(where);
      return [];
    }
    return v.flatMap((x, i): [Plain, number][] =>
      this.gaps.check(x, `${this.label} ${where}[${i}]`) ? [] : [[x, i]],
    );
  }

  /**
   * The Secret named at `path` under `holder`, whose last object (the reference) may carry
   * `optional` when `hasOptional` (an unknown `optional` reads as false: it changes only what the
   * message says, not the verdict). An absent step or an absent or empty name names nothing; an
   * unknown step is noted; a step that is not an object, or a name that is not a string, is
   * unreadable.
   */
  name(holder: Plain, path: string[], where: string, hasOptional = false): void {
    let ref: Plain = holder;
    let name: Plain | undefined = holder;
    for (const key of path) {
      if (this.gaps.check(name, `${this.label} ${where}`)) return;
      if (name === undefined || name === null) return;
      if (!isObject(name)) {
        this.out.unreadable.push(where);
        return;
      }
      ref = name;
      name = name[key];
    }
    if (name === undefined || name === null || name === "") return;
    if (this.gaps.check(name, `${this.label} ${where}`)) return;
    if (typeof name !== "string") {
      this.out.unreadable.push(where);
      return;
    }
    const optional = hasOptional && at(ref, "optional") === true;
    this.out.uses.push({ name, route: this.route, where, optional });
  }
}

const label = (entry: Plain, key: string): string => {
  const v = at(entry, key);
  return typeof v === "string" ? v : "?";
};

function visitContainers(c: Collector, podSpec: Plain): void {
  c.route = "container";
  // VisitContainers' order: init, regular, ephemeral.
  for (const field of ["initContainers", "containers", "ephemeralContainers"]) {
    for (const [container, i] of c.items(at(podSpec, field), field)) {
      const who = `container ${label(container, "name")} (${field}[${i}])`;
      for (const [e, j] of c.items(at(container, "envFrom"), `${field}[${i}].envFrom`)) {
        c.name(e, ["secretRef", "name"], `${who} envFrom[${j}]`, true);
      }
      for (const [e] of c.items(at(container, "env"), `${field}[${i}].env`)) {
        c.name(e, ["valueFrom", "secretKeyRef", "name"], `${who} env ${label(e, "name")}`, true);
      }
    }
  }
}

function visitVolumes(c: Collector, podSpec: Plain): void {
  c.route = "volume";
  for (const [volume, i] of c.items(at(podSpec, "volumes"), "volumes")) {
    const vol = `volume ${label(volume, "name")}`;
    c.name(volume, ["secret", "secretName"], vol, true);
    const sources = c.items(at(volume, "projected", "sources"), `volumes[${i}].projected.sources`);
    for (const [source, j] of sources) {
      c.name(source, ["secret", "name"], `${vol} (projected source ${j})`, true);
    }
    for (const [source, ref] of VOLUME_SECRET_FIELDS) {
      c.name(volume, [source, ...ref], `${vol} (${source}.${ref.join(".")})`);
    }
  }
}

/** The Secrets `podSpec` uses (see the module comment); `who` names the workload for gaps. */
export function podSecretUses(podSpec: Plain | undefined, gaps: Gaps, who: string): SecretUses {
  const c = new Collector(gaps, who);
  if (podSpec === undefined || podSpec === null || gaps.check(podSpec, who)) return c.out;
  if (!isObject(podSpec)) {
    c.out.unreadable.push("the pod spec");
    return c.out;
  }
  c.route = "imagePullSecrets";
  for (const [ref, i] of c.items(podSpec.imagePullSecrets, "imagePullSecrets")) {
    c.name(ref, ["name"], `imagePullSecrets[${i}]`);
  }
  visitContainers(c, podSpec);
  visitVolumes(c, podSpec);
  return c.out;
}

export interface IngressTlsUse extends SecretUse {
  /** `spec.tls[i].hosts` as written: the caller decides what an unknown there means. */
  hosts: Plain | undefined;
}

/**
 * The Secrets an Ingress serves: `spec.tls[].secretName`. A tls entry without one is allowed (SNI
 * routing only: the field's doc in types/input.d.ts) and names nothing.
 */
export function ingressSecretUses(
  props: Plain,
  gaps: Gaps,
  who: string,
): { uses: IngressTlsUse[]; unreadable: string[] } {
  const c = new Collector(gaps, who);
  c.route = "ingress";
  const uses: IngressTlsUse[] = [];
  for (const [entry, i] of c.items(at(props, "spec", "tls"), "spec.tls")) {
    const found = c.out.uses.length;
    c.name(entry, ["secretName"], `spec.tls[${i}]`);
    const use = c.out.uses[found];
    if (use) uses.push({ ...use, hosts: at(entry, "hosts") });
  }
  return { uses, unreadable: c.out.unreadable };
}

/**
 * What a consumer meets when the Secret of `uses` (one Secret's uses by one resource) is missing:
 * a required pod reference keeps the pod from starting; optional ones and pull credentials do not.
 */
export function missingEffect(uses: readonly SecretUse[]): string {
  if (uses.some((u) => u.route === "ingress")) {
    return "the Ingress has no certificate of its own for its hosts";
  }
  if (uses.some((u) => u.route !== "imagePullSecrets" && !u.optional)) {
    return "its pods never start";
  }
  if (uses.some((u) => u.optional)) {
    return "its pods start without the Secret's data (optional: true), which the containers then lack";
  }
  return "the kubelet has no pull credentials from it for the pod's images";
}
