/**
 * mail-data-protected: mail data volumes cannot be deleted by a Pulumi operation.
 *
 * Why: mailserver-data-* holds every mailbox, the Postfix queue and DMS state; there is no
 * backup MX. A rename or refactor that replaces the PVC would delete it with its volume.
 *
 * Invariant (effective state): no Pulumi operation and no StatefulSet controller action deletes
 * a volume holding mail data. Paths: PersistentVolumeClaims in the mail namespace or named with a
 * protected prefix (any namespace), which need protect; StatefulSet volumeClaimTemplates, whose
 * PVCs the controller creates, which need persistentVolumeClaimRetentionPolicy Retain.
 *
 * Fix: create the PVC with { protect: true, retainOnDelete: true }. Only `protect` reaches the
 * policy: the Analyzer protocol and the SDK's PolicyResourceOptions (1.21.0) carry no
 * retainOnDelete, so that half cannot be checked here and is a code-review item.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { kindOf, nameOf, namespaceOf } from "../lib/k8s";
import { at, list, PreviewGaps, str, toPlain, type Plain } from "../lib/plain";

const configSchema: PolicyConfigSchema = {
  properties: {
    namespace: { type: "string", default: SPEC.mailNamespace, description: "Mail namespace" },
    namePrefixes: {
      type: "array",
      items: { type: "string" },
      default: ["mailserver-data"],
      description: "PVC name prefixes protected in any namespace",
    },
  },
};

interface Config {
  namespace: string;
  namePrefixes: string[];
}

/**
 * A StatefulSet's volumeClaimTemplates become PVCs the controller owns, out of Pulumi's reach;
 * persistentVolumeClaimRetentionPolicy (apps/v1) Delete removes them with the StatefulSet or on
 * scale-down. Retain is the default.
 */
function checkClaimTemplates(
  props: Plain,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const ns = namespaceOf(props);
  const templates = at(props, "spec", "volumeClaimTemplates");
  if (gaps.check(ns) || gaps.check(templates)) return;
  const names = list(templates).map((t) => str(at(t, "metadata", "name")) ?? "");
  const mail =
    ns === cfg.namespace
      ? names
      : names.filter((n) => cfg.namePrefixes.some((p) => n.startsWith(p)));
  if (mail.length === 0) return;
  for (const when of ["whenDeleted", "whenScaled"]) {
    const policy = at(props, "spec", "persistentVolumeClaimRetentionPolicy", when);
    if (gaps.check(policy) || policy !== "Delete") continue;
    report(
      `StatefulSet claim templates ${mail.join(", ")} hold mail data but persistentVolumeClaimRetentionPolicy.${when} is Delete, so the PVCs go with the StatefulSet; set it to Retain (the default).`,
    );
  }
}

/**
 * Deleting a Namespace deletes every object in it, claims included, whatever Pulumi's `protect`
 * says about them (Kubernetes "Namespaces": deleting a namespace deletes all its resources); so
 * the namespace that holds mail data must itself be protected.
 */
function checkNamespace(
  props: Plain,
  name: string,
  protect: boolean,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const ns = nameOf(props, name);
  if (gaps.check(ns) || ns !== cfg.namespace || protect) return;
  report(
    `Namespace ${ns} holds the mail data claims, and deleting it deletes them however they are protected; create it with { protect: true, retainOnDelete: true }.`,
  );
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const kind = kindOf(args.type);
  if (kind !== "StatefulSet" && kind !== "PersistentVolumeClaim" && kind !== "Namespace") return;
  const props = toPlain(args.props);
  const gaps = new PreviewGaps();
  if (kind === "Namespace") {
    checkNamespace(props, args.name, args.opts.protect, cfg, report, gaps);
    return gaps.settle();
  }
  if (kind === "StatefulSet") {
    checkClaimTemplates(props, cfg, report, gaps);
    return gaps.settle();
  }
  const name = nameOf(props, args.name);
  const ns = namespaceOf(props);
  if (gaps.check(name) || gaps.check(ns)) return gaps.settle();
  const covered = ns === cfg.namespace || cfg.namePrefixes.some((p) => name.startsWith(p));
  if (covered && !args.opts.protect) {
    report(
      `PVC ${ns}/${name} holds mail data but is not protected; create it with { protect: true, retainOnDelete: true } so no update can delete it.`,
    );
  }
}

export const mailDataProtected: ResourceValidationPolicy = {
  name: "mail-data-protected",
  description:
    "PVCs in the mail namespace or named mailserver-data*, and the mail Namespace, have protect: true.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
};
