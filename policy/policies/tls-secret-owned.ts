/**
 * tls-secret-owned: every Secret a workload in the mail namespace mounts, and every TLS Secret an
 * Ingress there serves, has exactly one owner: either a Secret resource of this stack (an
 * Ingress's one of type kubernetes.io/tls), or a Secret the cluster provides (`clusterSecrets`,
 * by default the Kyverno-synced `tls-secret`), which the stack then must not create.
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
import { at, list, str, PreviewGaps, type Plain } from "../lib/plain";
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

/** networking.k8s.io has a digit, so lib/k8s's kindOf does not parse it: match the token itself. */
const INGRESS_TYPES = ["kubernetes:networking.k8s.io/v1:Ingress"];
const TLS_TYPE = "kubernetes.io/tls";

interface SecretRef {
  name: string;
  /** Where the reference is, for the message (e.g. "volume tls"). */
  where: string;
}

/** Secret names of a pod spec's volumes: `secret.secretName` and projected secret sources. */
function volumeSecrets(podSpec: Plain | undefined, r: StackResource, gaps: PreviewGaps) {
  const refs: SecretRef[] = [];
  for (const volume of list(at(podSpec, "volumes"))) {
    const vol = str(at(volume, "name")) ?? "?";
    const names = [
      at(volume, "secret", "secretName"),
      ...list(at(volume, "projected", "sources")).map((s) => at(s, "secret", "name")),
    ];
    for (const name of names) {
      if (gaps.check(name, `${r.name} volume ${vol}`)) continue;
      const n = str(name);
      if (n) refs.push({ name: n, where: `volume ${vol}` });
    }
  }
  return refs;
}

function ingressSecrets(r: StackResource, gaps: PreviewGaps): SecretRef[] {
  const refs: SecretRef[] = [];
  list(at(r.props, "spec", "tls")).forEach((entry, i) => {
    const name = at(entry, "secretName");
    if (gaps.check(name, `${r.name} spec.tls[${i}].secretName`)) return;
    const n = str(name);
    if (n) refs.push({ name: n, where: `spec.tls[${i}]` });
  });
  return refs;
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
    (t) => INGRESS_TYPES.includes(t) || isWorkload(t) || kindOf(t) === "Secret",
  );
  const secrets = stackSecrets(resources, gaps);
  const fix = `mount one of the cluster's Secrets (${cfg.clusterSecrets.join(", ")}: mailserver:tls.secretName) or create this Secret in the stack`;
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
    const ingress = INGRESS_TYPES.includes(r.type);
    if (!ingress && !isWorkload(r.type)) continue;
    const ns = namespaceOf(r.props);
    const name = nameOf(r.props, r.name);
    if (gaps.check(ns, r.name) || gaps.check(name, r.name) || ns !== cfg.namespace) continue;
    consumers++;
    const kind = ingress ? "Ingress" : (kindOf(r.type) ?? r.type);
    const refs = ingress
      ? ingressSecrets(r, gaps)
      : volumeSecrets(podSpecOf(r.type, r.props), r, gaps);
    for (const ref of refs) {
      const type = secrets.get(`${ns}/${ref.name}`);
      if (type === undefined && cfg.clusterSecrets.includes(ref.name)) continue;
      if (type === undefined) {
        // An unknown Secret name elsewhere might be this one: leave it to the preview advisory.
        if (gaps.pending) continue;
        report(
          `${kind} ${ns}/${name} uses Secret "${ref.name}" (${ref.where}), which no resource of this stack creates and the cluster does not provide: in a fresh namespace the pod never starts; ${fix}.`,
          r.urn,
        );
      } else if (ingress && !gaps.check(type, ref.name) && type !== TLS_TYPE) {
        report(
          `Ingress ${ns}/${name} serves Secret "${ref.name}" (${ref.where}) of type ${JSON.stringify(type)}; Traefik needs a ${TLS_TYPE} Secret with tls.crt and tls.key: ${fix}.`,
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
    "Secrets mounted by mail workloads and TLS Secrets of mail Ingresses are resources of this stack, or the cluster's Kyverno-synced tls-secret, which the stack then does not create.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
