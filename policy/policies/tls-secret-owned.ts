/**
 * tls-secret-owned: every Secret a workload in the mail namespace mounts, and every TLS Secret an
 * Ingress there serves, is a Secret resource of this stack (an Ingress's one of type
 * kubernetes.io/tls).
 *
 * Why: a Secret that something outside the stack made (the old Terraform `tls-secret`) is not
 * there in a fresh namespace, so the pod never starts, and in an adopted namespace nothing renews
 * it, so the certificate expires after 90 days. The stack issues and renews its own certificate
 * (components/certificate.ts) and mounts that Secret by name.
 *
 * Fix: mount the Secret of the stack's TlsCertificate (MailServer.tlsSecretName) in the volume or
 * Ingress `tls[].secretName`, or create the Secret in this stack.
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
  },
};

interface Config {
  namespace: string;
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
  const fix =
    "mount the Secret of the stack's TlsCertificate (components/certificate.ts, MailServer.tlsSecretName) or create this Secret in the stack";
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
      if (type === undefined) {
        // An unknown Secret name elsewhere might be this one: leave it to the preview advisory.
        if (gaps.pending) continue;
        report(
          `${kind} ${ns}/${name} uses Secret "${ref.name}" (${ref.where}), which no resource of this stack creates: in a fresh namespace the pod never starts, and nothing renews an adopted certificate; ${fix}.`,
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
    "Secrets mounted by mail workloads and TLS Secrets of mail Ingresses are resources of this stack.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
