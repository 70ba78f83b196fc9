/**
 * no-literal-secrets: no secret-looking value in a ConfigMap or a container env literal.
 *
 * Why: ConfigMaps and pod specs are readable by anyone who can read the namespace, show up in
 * `kubectl describe`, and land unencrypted in Pulumi state and preview diffs. Relay keys,
 * Mailgun keys, DKIM private keys and passwords belong in Vault-backed Secrets.
 *
 * Fix: put the value in a Kubernetes Secret (from Vault, wrapped in pulumi.secret) and reference
 * it with valueFrom.secretKeyRef, envFrom.secretRef or a volume. Heuristics: names like
 * *PASSWORD*, *SECRET*, *TOKEN*, *API_KEY* with a non-empty literal (paths such as
 * SSL_KEY_PATH=/etc/... and 0/1 switches are fine), and values that look like PEM private keys,
 * Brevo xsmtpsib-/xkeysib- keys, Mailgun key-... keys or "[host]:port user:pass" lines.
 * Messages never repeat the value.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { containersOf, isWorkload, kindOf, podSpecOf } from "../lib/k8s";
import { at, isObject, list, PreviewGaps, str, toPlain } from "../lib/plain";
import { secretReason } from "../lib/secrets";

function checkConfigMap(
  props: ReturnType<typeof toPlain>,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const data = at(props, "data");
  if (gaps.check(data) || !isObject(data)) return;
  for (const [key, value] of Object.entries(data)) {
    if (gaps.check(value, `data.${key}`) || typeof value !== "string") continue;
    const reason = secretReason(key, value);
    if (reason) {
      report(
        `ConfigMap key ${key}: ${reason}; move it to a Secret (from Vault) and mount or reference it.`,
      );
    }
  }
}

function checkWorkload(
  type: string,
  props: ReturnType<typeof toPlain>,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  for (const c of containersOf(podSpecOf(type, props))) {
    for (const entry of list(c.container.env)) {
      const name = str(at(entry, "name")) ?? "";
      const value = at(entry, "value");
      if (gaps.check(value, `env ${name} of ${c.name}`) || typeof value !== "string") continue;
      const reason = secretReason(name, value);
      if (reason) {
        report(
          `container ${c.name} env ${name}: ${reason}; use valueFrom.secretKeyRef to a Secret (from Vault) instead of a literal.`,
        );
      }
    }
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const gaps = new PreviewGaps();
  const props = toPlain(args.props);
  if (kindOf(args.type) === "ConfigMap") checkConfigMap(props, report, gaps);
  else if (isWorkload(args.type)) checkWorkload(args.type, props, report, gaps);
  gaps.settle();
}

export const noLiteralSecrets: ResourceValidationPolicy = {
  name: "no-literal-secrets",
  description: "No secret-looking value in ConfigMap data or container env literals.",
  enforcementLevel: "mandatory",
  validateResource,
};
