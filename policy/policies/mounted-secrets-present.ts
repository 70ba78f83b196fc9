/**
 * mounted-secrets-present: every Secret a workload or Ingress of the stack uses that the stack does
 * not create exists in the cluster; a TLS Secret covers the host names it serves and is not about
 * to expire.
 *
 * Why: a pod whose Secret volume is missing never starts (ContainerCreating), and docker-mailserver
 * with `SSL_TYPE=manual` panics on a missing certificate file (helpers/ssl.sh:231-241). The
 * cluster's `tls-secret` is kept in every namespace by Kyverno's `sync-tls-secret` and renewed by
 * Woodpecker's `renew-tls` (ViktorBarzin/infra): another system's object, so only a read at
 * preview shows it is there and what it covers. A certificate that does not name
 * `mail.viktorbarzin.me` fails every TLS handshake that checks the name (the probe, Roundcube, any
 * MTA-STS sender).
 *
 * "Uses" is Kubernetes' own list (lib/pod-secrets.ts#podSecretUses, after VisitPodSecretNames in
 * kubernetes pkg/api/v1/pod/util.go): imagePullSecrets, env secretKeyRefs and envFrom secretRefs
 * of every container, secret and projected volumes and the volume plugins' Secrets; for an
 * Ingress (any of its three tokens) `spec.tls[].secretName`. A missing Secret referenced with
 * `optional: true` does not stop the pod, but its data is absent: the container the stack wrote
 * the reference for starts without a key or certificate it reads, which shows up as refused mail
 * or logins rather than as a failed rollout. So an optional use is judged like a required one;
 * only the message says what the pod meets. A reference the pack cannot read is refused "cannot
 * verify"; an unknown one is noted, so the preview gives the advisory and `up` judges it.
 *
 * How the pack knows: the program reads the Secrets it mounts but does not create at preview
 * (ClusterPreflight output `inventory`: presence, type, the certificate's names and notAfter,
 * never a key). A use the inventory does not cover cannot be verified and is refused.
 *
 * Fix: create the Secret in the stack, or have its owner provide it (for `tls-secret`: Kyverno's
 * clone source in namespace `kyverno`), and list it in the program's mountedSecrets.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { isWorkload, kindOf, nameOf, namespaceOf, podSpecOf } from "../lib/k8s";
import { PREFLIGHT_TYPE, stackInventory, type Inventory } from "../lib/inventory";
import { list, PreviewGaps, str, type Plain } from "../lib/plain";
import {
  ingressSecretUses,
  isIngress,
  missingEffect,
  podSecretUses,
  type SecretUse,
} from "../lib/pod-secrets";
import { findObject, plainResources, type StackResource } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    namespaces: {
      type: "array",
      items: { type: "string" },
      default: [SPEC.mailNamespace],
      description: "Namespaces whose workloads and Ingresses are judged",
    },
    mailHosts: {
      type: "array",
      items: { type: "string" },
      default: [...SPEC.mailHosts],
      description: "Host names the mail server's certificate must cover",
    },
    minDaysValid: {
      type: "number",
      default: 14,
      description: "A certificate that expires within this many days is refused",
    },
  },
};

interface Config {
  namespaces: string[];
  mailHosts: string[];
  minDaysValid: number;
}

interface Use {
  resource: StackResource;
  namespace: string;
  secret: string;
  /** Host names the Secret's certificate must cover (Ingress tls hosts, or the mail hosts). */
  hosts: string[];
  /** Every place the resource uses the Secret (lib/pod-secrets.ts). */
  refs: SecretUse[];
}

/** A reference of a resource the pack cannot read: refused "cannot verify". */
interface Unread {
  resource: StackResource;
  where: string;
}

/** RFC 6125 6.4.3: a wildcard stands for exactly one left-most label. */
export function covers(dnsName: string, host: string): boolean {
  const n = dnsName.toLowerCase();
  const h = host.toLowerCase();
  if (!n.startsWith("*.")) return n === h;
  const dot = h.indexOf(".");
  return dot > 0 && h.slice(dot + 1) === n.slice(2);
}

/** One Use per Secret name: a pod spec that names a Secret twice uses it once. */
function podUses(r: StackResource, ns: string, cfg: Config, gaps: PreviewGaps, unread: Unread[]) {
  const found = podSecretUses(podSpecOf(r.type, r.props), gaps, r.name);
  unread.push(...found.unreadable.map((where) => ({ resource: r, where })));
  const byName = new Map<string, Use>();
  for (const ref of found.uses) {
    const use = byName.get(ref.name) ?? {
      resource: r,
      namespace: ns,
      secret: ref.name,
      hosts: cfg.mailHosts,
      refs: [],
    };
    use.refs.push(ref);
    byName.set(ref.name, use);
  }
  return [...byName.values()];
}

/** The tls hosts as strings; an unknown host is noted (coverage cannot be judged without it). */
function hostsOf(hosts: Plain | undefined, r: StackResource, gaps: PreviewGaps): string[] {
  if (gaps.check(hosts, r.name)) return [];
  return list(hosts).flatMap((h) => (gaps.check(h, r.name) || !str(h) ? [] : [str(h) as string]));
}

function ingressUses(r: StackResource, ns: string, gaps: PreviewGaps, unread: Unread[]): Use[] {
  const found = ingressSecretUses(r.props, gaps, r.name);
  unread.push(...found.unreadable.map((where) => ({ resource: r, where })));
  return found.uses.map((u) => ({
    resource: r,
    namespace: ns,
    secret: u.name,
    hosts: hostsOf(u.hosts, r, gaps),
    refs: [u],
  }));
}

function uses(
  resources: readonly StackResource[],
  cfg: Config,
  gaps: PreviewGaps,
  unread: Unread[],
): Use[] {
  return resources.flatMap((r) => {
    if (!isWorkload(r.type) && !isIngress(r.type)) return [];
    const ns = namespaceOf(r.props);
    if (gaps.check(ns, r.name) || !cfg.namespaces.includes(ns)) return [];
    const found = isIngress(r.type)
      ? ingressUses(r, ns, gaps, unread)
      : podUses(r, ns, cfg, gaps, unread);
    // A Secret the stack creates is judged where it is created.
    return found.filter((u) => !findObject(resources, "Secret", u.namespace, u.secret));
  });
}

function judge(u: Use, inv: Inventory, cfg: Config, report: ReportViolation): void {
  const id = `${u.namespace}/${u.secret}`;
  const seen = inv.secrets.find((s) => s.namespace === u.namespace && s.name === u.secret);
  const who = `${kindOf(u.resource.type)} ${nameOf(u.resource.props, u.resource.name) as string}`;
  if (!seen) {
    report(
      `cannot verify: ${who} uses Secret ${id}, which the stack does not create and the preview did not read; add it to the program's mountedSecrets (ClusterPreflight) so its presence and certificate are checked.`,
      u.resource.urn,
    );
    return;
  }
  if (!seen.present) {
    const where = u.refs.map((r) => r.where).join(", ");
    report(
      `${who} uses Secret ${id}, which does not exist in the cluster (read from ${inv.source}; used at ${where}): ${missingEffect(u.refs)}. Have its owner create it (tls-secret: Kyverno's sync-tls-secret), or create it in this stack.`,
      u.resource.urn,
    );
    return;
  }
  if (seen.type !== "kubernetes.io/tls") return;
  const names = seen.dnsNames ?? [];
  const uncovered = u.hosts.filter((h) => !names.some((n) => covers(n, h)));
  if (uncovered.length > 0) {
    report(
      `${who} serves ${uncovered.join(", ")} with Secret ${id}, whose certificate covers only ${names.join(", ") || "no DNS name"}; TLS clients that check the name will refuse it. Have the certificate's owner add the names, or use a Secret that covers them.`,
      u.resource.urn,
    );
  }
  if (seen.notAfter) {
    const days = (Date.parse(seen.notAfter) - Date.now()) / 86_400_000;
    if (days < cfg.minDaysValid) {
      report(
        `Secret ${id} used by ${who} expires on ${seen.notAfter} (${Math.floor(days)} days), within ${cfg.minDaysValid} days; renew it (Woodpecker renew-tls) before this update.`,
        u.resource.urn,
      );
    }
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const resources = plainResources(
    args.resources,
    (t) => isWorkload(t) || isIngress(t) || kindOf(t) === "Secret" || t === PREFLIGHT_TYPE,
  );
  const unread: Unread[] = [];
  const all = uses(resources, cfg, gaps, unread);
  for (const x of unread) {
    report(
      `cannot verify: ${kindOf(x.resource.type)} ${nameOf(x.resource.props, x.resource.name) as string} names a Secret at ${x.where} that the pack cannot read (a value of another type than Kubernetes' schema gives it); write the reference as the schema has it.`,
      x.resource.urn,
    );
  }
  if (all.length === 0) {
    gaps.settle();
    if (unread.length === 0) args.notApplicable("the stack uses no Secret it does not create");
    return;
  }
  const inv = stackInventory(resources, gaps);
  if (inv) for (const u of all) judge(u, inv, cfg, report);
  else if (!gaps.pending) {
    for (const u of all) {
      report(
        `cannot verify: Secret ${u.namespace}/${u.secret} is used but the stack read no cluster inventory; publish it with a ClusterPreflight component (index.ts does).`,
        u.resource.urn,
      );
    }
  }
  gaps.settle();
}

export const mountedSecretsPresent: StackValidationPolicy = {
  name: "mounted-secrets-present",
  description:
    "Every Secret the stack uses but does not create exists; a TLS Secret covers its host names and is not about to expire.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
