/**
 * mail-data-protected: mail data volumes cannot be deleted by a Pulumi operation.
 *
 * Why: mailserver-data-* holds every mailbox, the Postfix queue and DMS state; there is no
 * backup MX. A rename or refactor that replaces the PVC would delete it with its volume.
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
import { PreviewGaps, toPlain } from "../lib/plain";

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

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  if (kindOf(args.type) !== "PersistentVolumeClaim") return;
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const props = toPlain(args.props);
  const gaps = new PreviewGaps();
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
  description: "PVCs in the mail namespace or named mailserver-data* have protect: true.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
};
