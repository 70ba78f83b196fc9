/**
 * The pack's closed world: every resource of the mail stack is one the pack judges, or it is
 * refused. The judged types are those some policy of the pack reads; anything else (another kind,
 * a chart, a Patch of an object the stack does not hold, another provider's resource) could
 * change a mail workload, Service, ConfigMap, Secret, DNS record or Worker by a route no policy
 * follows, so its absence of violations would prove nothing.
 */
import { isDnsRecord } from "./dns";
import { kindOf, WORKLOAD_KINDS } from "./k8s";
import { identityOf, patchedType } from "./patches";
import { at, Unknown, type Plain } from "./plain";
import { hostKey, WORKER_DOMAIN_TYPE, WORKER_SCRIPT_TYPES } from "./workers";

/** API groups of the Kubernetes kinds the pack reads (@pulumi/kubernetes 4.34.2 tokens). */
const KUBERNETES_GROUPS = ["core", "apps", "extensions", "batch", "networking.k8s.io"];
const KUBERNETES_KINDS = new Set<string>([
  ...WORKLOAD_KINDS,
  "ConfigMap",
  "Secret",
  "Service",
  "PersistentVolumeClaim",
  "Namespace",
  "Ingress",
]);
const TOKEN_RE = /^kubernetes:([a-z0-9.]+)\/(v[0-9a-z]+):([A-Za-z]+)$/;

/** A Kubernetes built-in kind some policy of the pack reads (not a CRD that reuses the name). */
export function isJudgedKubernetesType(type: string): boolean {
  const m = TOKEN_RE.exec(type);
  return !!m && KUBERNETES_GROUPS.includes(m[1] ?? "") && KUBERNETES_KINDS.has(m[3] ?? "");
}

export interface WorldResource {
  type: string;
  name: string;
  props: Plain;
}

export interface ClosedWorldConfig {
  domain: string;
  componentPackages: string[];
}

/** Why the pack cannot judge `r`, or undefined when it can (or when that waits on unknowns). */
export type Verdict = { judged: true } | { judged: false; why: string } | { unknown: Unknown };

/** Everything a verdict needs from the rest of the stack. */
export interface StackFacts {
  /** `type namespace/name` of every non-Patch object the stack holds. */
  objects: Set<string>;
}

export const objectId = (type: string, namespace: string, name: string): string =>
  `${type} ${namespace}/${name}`;

export function stackFacts(resources: readonly WorldResource[]): StackFacts {
  const objects = new Set<string>();
  for (const r of resources) {
    if (!isJudgedKubernetesType(r.type)) continue;
    const id = identityOf(r.type, r.name, r.props);
    if (id) objects.add(objectId(id.type, id.namespace, id.name));
  }
  return { objects };
}

const mtaStsHost = (cfg: ClosedWorldConfig) => hostKey(`mta-sts.${cfg.domain}`);

function judgePatch(r: WorldResource, facts: StackFacts): Verdict {
  const target = patchedType(r.type) ?? r.type;
  if (!isJudgedKubernetesType(target)) {
    return { judged: false, why: `patches a ${kindOf(target)}, a kind the pack does not model` };
  }
  const id = identityOf(r.type, r.name, r.props);
  if (!id) return { unknown: unknownOf(r.props) };
  if (facts.objects.has(objectId(id.type, id.namespace, id.name))) return { judged: true };
  return {
    judged: false,
    why: `patches ${kindOf(target)} ${id.namespace}/${id.name}, which the stack does not hold: the pack cannot see the object it merges into`,
  };
}

function unknownOf(props: Plain): Unknown {
  const v = [at(props, "metadata", "namespace"), at(props, "metadata", "name")];
  return v.find((x): x is Unknown => x instanceof Unknown) as Unknown;
}

function judgeKubernetes(r: WorldResource, facts: StackFacts): Verdict {
  if (isJudgedKubernetesType(r.type)) return { judged: true };
  if (patchedType(r.type)) return judgePatch(r, facts);
  const group = TOKEN_RE.exec(r.type)?.[1] ?? "";
  if (["helm.sh", "yaml", "kustomize"].includes(group)) {
    return { judged: false, why: "it renders objects the pack never sees" };
  }
  return { judged: false, why: `the pack does not model ${kindOf(r.type) ?? r.type}` };
}

function judgeCloudflare(r: WorldResource, cfg: ClosedWorldConfig): Verdict {
  if (isDnsRecord(r.type)) return { judged: true };
  // A script serves nothing until something routes to it; the routes are what is judged.
  if (WORKER_SCRIPT_TYPES.includes(r.type)) return { judged: true };
  if (r.type === WORKER_DOMAIN_TYPE) {
    const host = at(r.props, "hostname");
    if (host instanceof Unknown) return { unknown: host };
    if (typeof host === "string" && hostKey(host) === mtaStsHost(cfg)) return { judged: true };
    return {
      judged: false,
      why: `it puts a Worker on ${JSON.stringify(host)}, which only mta-sts-served would judge for ${mtaStsHost(cfg)}`,
    };
  }
  return { judged: false, why: "the pack does not model this Cloudflare resource" };
}

function judgeProvider(r: WorldResource): Verdict {
  const pkg = r.type.slice("pulumi:providers:".length);
  if (pkg === "cloudflare" || pkg === "vault") return { judged: true };
  if (pkg !== "kubernetes")
    return { judged: false, why: `the pack does not model the ${pkg} provider` };
  const ns = at(r.props, "namespace");
  if (ns instanceof Unknown) return { unknown: ns };
  if (!ns) return { judged: true };
  return {
    judged: false,
    why: `its default namespace ${JSON.stringify(ns)} moves every object without metadata.namespace where the pack does not look`,
  };
}

/** Whether the pack judges `r` (see the module comment). */
export function verdictOf(r: WorldResource, cfg: ClosedWorldConfig, facts: StackFacts): Verdict {
  if (r.type === "pulumi:pulumi:Stack") return { judged: true };
  if (r.type.startsWith("pulumi:providers:")) return judgeProvider(r);
  const pkg = r.type.split(":")[0] ?? "";
  if (pkg === "kubernetes") return judgeKubernetes(r, facts);
  if (pkg === "cloudflare") return judgeCloudflare(r, cfg);
  // The program's own components register nothing themselves; their children are judged.
  if (cfg.componentPackages.includes(pkg)) return { judged: true };
  return { judged: false, why: `the pack does not model ${pkg} resources` };
}
