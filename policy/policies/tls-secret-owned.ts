/**
 * tls-secret-owned: every Secret a workload in the mail namespace uses, and every TLS Secret an
 * Ingress there serves, has exactly one owner: either a Secret resource of this stack (an
 * Ingress's one of type kubernetes.io/tls), or a Secret the cluster provides (`clusterSecrets`,
 * by default the Kyverno-synced `tls-secret`), which the stack then must not create.
 *
 * "Uses" is Kubernetes' own list (lib/pod-secrets.ts#podSecretUses, after VisitPodSecretNames in
 * kubernetes pkg/api/v1/pod/util.go): imagePullSecrets, env secretKeyRefs and envFrom secretRefs
 * of every container, secret and projected volumes and the volume plugins' Secrets; an Ingress is
 * any of the extensions/v1beta1, networking.k8s.io/v1beta1 and v1 tokens. An `optional: true`
 * reference needs an owner too: the pod then starts without the data instead of not starting,
 * but a reference nothing owns is either dead or filled by hand, outside the stack, which is what
 * this policy exists to prevent. A reference the pack cannot read is refused "cannot verify"; an
 * unknown one defers the "not created" verdict to the preview advisory.
 *
 * Why: the cluster keeps `tls-secret` in every namespace (Kyverno ClusterPolicy `sync-tls-secret`,
 * generate with synchronize: true) and renews it (Woodpecker `renew-tls`): that is the path that
 * renews the mail certificate (docs/architecture/mailserver.md, "TLS"). A stack that also writes
 * `tls-secret` fights Kyverno's synchronisation, and its copy is never renewed. Any other Secret
 * that nothing in the stack creates is not there in a fresh namespace, so the pod never starts.
 * Whether a cluster-provided Secret exists and covers the mail host names is checked at preview by
 * mounted-secrets-present.
 *
 * Fix: mount `tls-secret` by name (mailserver:tls.secretName) and create no Secret of that name;
 * create any other Secret the pod needs in this stack.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { isWorkload, kindOf, nameOf, namespaceOf, podSpecOf } from "../lib/k8s";
import { at, PreviewGaps, type Plain } from "../lib/plain";
import {
  ingressSecretUses,
  isIngress,
  missingEffect,
  podSecretUses,
  type SecretUse,
  type SecretUses,
} from "../lib/pod-secrets";
import { plainResources, type StackResource } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    namespace: { type: "string", default: SPEC.mailNamespace, description: "Mail namespace" },
    clusterSecrets: {
      type: "array",
      items: { type: "string" },
      default: ["tls-secret"],
      description:
        "Secrets another system keeps in the mail namespace (Kyverno's sync-tls-secret): mounted, never created by the stack",
    },
  },
};

interface Config {
  namespace: string;
  clusterSecrets: string[];
}

const TLS_TYPE = "kubernetes.io/tls";

/** One Secret a consumer uses, with every place it is used. */
interface Used {
  name: string;
  uses: SecretUse[];
}

/** The uses by Secret name, in first-use order. */
function byName(uses: readonly SecretUse[]): Used[] {
  const out = new Map<string, Used>();
  for (const u of uses) {
    const seen = out.get(u.name) ?? { name: u.name, uses: [] };
    seen.uses.push(u);
    out.set(u.name, seen);
  }
  return [...out.values()];
}

/** What `r` uses: an Ingress's tls Secrets, or every Secret its pod spec names (lib/pod-secrets). */
function consumerUses(r: StackResource, gaps: PreviewGaps): SecretUses {
  if (isIngress(r.type)) return ingressSecretUses(r.props, gaps, r.name);
  return podSecretUses(podSpecOf(r.type, r.props), gaps, r.name);
}

/** Secrets of the stack by "namespace/name", with their `type`. */
function stackSecrets(resources: readonly StackResource[], gaps: PreviewGaps): Map<string, Plain> {
  const out = new Map<string, Plain>();
  for (const r of resources) {
    if (kindOf(r.type) !== "Secret") continue;
    const ns = namespaceOf(r.props);
    const name = nameOf(r.props, r.name);
    if (gaps.check(ns, r.name) || gaps.check(name, r.name)) continue;
    out.set(`${ns}/${name}`, at(r.props, "type") ?? "Opaque");
  }
  return out;
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const resources = plainResources(
    args.resources,
    (t) => isIngress(t) || isWorkload(t) || kindOf(t) === "Secret",
  );
  const secrets = stackSecrets(resources, gaps);
  const fix = `use one of the cluster's Secrets (${cfg.clusterSecrets.join(", ")}: mailserver:tls.secretName) or create this Secret in the stack`;
  for (const cluster of cfg.clusterSecrets) {
    const owned = resources.find(
      (r) =>
        kindOf(r.type) === "Secret" &&
        namespaceOf(r.props) === cfg.namespace &&
        nameOf(r.props, r.name) === cluster,
    );
    if (owned) {
      report(
        `the stack creates Secret ${cfg.namespace}/${cluster}, which the cluster already keeps there (Kyverno's sync-tls-secret, synchronize: true) and renews (Woodpecker renew-tls); two owners overwrite each other and the stack's copy is never renewed. Mount it, do not create it.`,
        owned.urn,
      );
    }
  }
  let consumers = 0;
  for (const r of resources) {
    const ingress = isIngress(r.type);
    if (!ingress && !isWorkload(r.type)) continue;
    const ns = namespaceOf(r.props);
    const name = nameOf(r.props, r.name);
    if (gaps.check(ns, r.name) || gaps.check(name, r.name) || ns !== cfg.namespace) continue;
    consumers++;
    const who = `${kindOf(r.type) ?? r.type} ${ns}/${name}`;
    const found = consumerUses(r, gaps);
    for (const where of found.unreadable) {
      report(
        `cannot verify: ${who} names a Secret at ${where} that the pack cannot read (a value of another type than Kubernetes' schema gives it); write the reference as the schema has it.`,
        r.urn,
      );
    }
    for (const used of byName(found.uses)) {
      const type = secrets.get(`${ns}/${used.name}`);
      const where = used.uses.map((u) => u.where).join(", ");
      if (type === undefined && cfg.clusterSecrets.includes(used.name)) continue;
      if (type === undefined) {
        // An unknown Secret name elsewhere might be this one: leave it to the preview advisory.
        if (gaps.pending) continue;
        report(
          `${who} uses Secret "${used.name}" (${where}), which no resource of this stack creates and the cluster does not provide: in a fresh namespace ${missingEffect(used.uses)}; ${fix}.`,
          r.urn,
        );
      } else if (ingress && !gaps.check(type, used.name) && type !== TLS_TYPE) {
        report(
          `${who} serves Secret "${used.name}" (${where}) of type ${JSON.stringify(type)}; Traefik needs a ${TLS_TYPE} Secret with tls.crt and tls.key: ${fix}.`,
          r.urn,
        );
      }
    }
  }
  gaps.settle();
  if (consumers === 0) args.notApplicable(`no workload or Ingress in namespace ${cfg.namespace}`);
}

export const tlsSecretOwned: StackValidationPolicy = {
  name: "tls-secret-owned",
  description:
    "Secrets used by mail workloads (volumes, env, envFrom, imagePullSecrets) and TLS Secrets of mail Ingresses are resources of this stack, or the cluster's Kyverno-synced tls-secret, which the stack then does not create.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
