/**
 * no-literal-secrets: no secret-looking value in a ConfigMap or a container env literal.
 *
 * Why: ConfigMaps and pod specs are readable by anyone who can read the namespace, show up in
 * `kubectl describe`, and land unencrypted in Pulumi state and preview diffs. Relay keys,
 * Mailgun keys, DKIM private keys and passwords belong in Vault-backed Secrets.
 *
 * Invariant (effective state): no value that is readable without Secret RBAC or lands in state
 * unencrypted looks like a secret. Paths: ConfigMap data and binaryData (decoded), container env
 * literals, command and args (flag=value, flag value, or a bare key) of containers,
 * initContainers and ephemeralContainers of every workload kind, and metadata.annotations of
 * every Kubernetes object and pod template (Secrets excepted: that is where values belong).
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
import { at, isObject, list, PreviewGaps, str, toPlain, type Plain } from "../lib/plain";
import { argSecretReason, secretReason } from "../lib/secrets";

function checkConfigMap(props: Plain, report: ReportViolation, gaps: PreviewGaps): void {
  const data = at(props, "data");
  if (!gaps.check(data) && isObject(data)) {
    for (const [key, value] of Object.entries(data)) {
      if (gaps.check(value, `data.${key}`) || typeof value !== "string") continue;
      const reason = secretReason(key, value);
      if (reason) report(`ConfigMap key ${key}: ${reason}; ${TO_SECRET}`);
    }
  }
  // binaryData is base64 of the file the pod sees; decode it before judging.
  const binary = at(props, "binaryData");
  if (gaps.check(binary) || !isObject(binary)) return;
  for (const [key, value] of Object.entries(binary)) {
    if (gaps.check(value, `binaryData.${key}`) || typeof value !== "string") continue;
    const reason = secretReason(key, Buffer.from(value, "base64").toString("latin1"));
    if (reason) report(`ConfigMap binaryData key ${key}: ${reason}; ${TO_SECRET}`);
  }
}

const TO_SECRET = "move it to a Secret (from Vault) and mount or reference it.";

/** metadata.annotations of the object and of its pod template: readable like the spec. */
function checkAnnotations(
  type: string,
  props: Plain,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const template =
    kindOf(type) === "CronJob" ? ["spec", "jobTemplate", "spec", "template"] : ["spec", "template"];
  for (const path of [[], template]) {
    const annotations = at(props, ...path, "metadata", "annotations");
    if (gaps.check(annotations) || !isObject(annotations)) continue;
    for (const [key, value] of Object.entries(annotations)) {
      if (gaps.check(value, `annotation ${key}`) || typeof value !== "string") continue;
      const reason = secretReason(key, value);
      if (reason) report(`annotation ${key}: ${reason}; annotations are not secret, ${TO_SECRET}`);
    }
  }
}

function checkWorkload(
  type: string,
  props: Plain,
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
    for (const field of ["command", "args"]) {
      const words = at(c.container, field);
      if (gaps.check(words, `${field} of ${c.name}`)) continue;
      const plain = list(words).map((w) => (typeof w === "string" ? w : ""));
      plain.forEach((word, i) => {
        const reason = argSecretReason(word, plain[i + 1]);
        if (reason) {
          report(
            `container ${c.name} ${field}[${i}]: ${reason}; pass it through env from a Secret and write $(NAME) in ${field}.`,
          );
        }
      });
    }
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  if (!args.type.startsWith("kubernetes:") || kindOf(args.type) === "Secret") return;
  const gaps = new PreviewGaps();
  const props = toPlain(args.props);
  if (kindOf(args.type) === "ConfigMap") checkConfigMap(props, report, gaps);
  else if (isWorkload(args.type)) checkWorkload(args.type, props, report, gaps);
  checkAnnotations(args.type, props, report, gaps);
  gaps.settle();
}

export const noLiteralSecrets: ResourceValidationPolicy = {
  name: "no-literal-secrets",
  description: "No secret-looking value in ConfigMap data or container env literals.",
  enforcementLevel: "mandatory",
  validateResource,
};
