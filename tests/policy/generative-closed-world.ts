/**
 * Generative family of closed-world, drawn from what the consumers do with a resource: any kind
 * outside the built-in groups the pack reads is a CRD whose controller the pack does not know
 * (even when its kind is called Deployment or Service), a chart or YAML group renders objects the
 * pack never sees, a Patch is merged into an object the API server holds, any other package's
 * resource talks to an API the pack does not model. Legitimate: Patches of objects the stack holds
 * that change nothing any policy reads, and the judged kinds under every built-in group version.
 */
import fc from "fast-check";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { T } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "closed-world";
const NS = "mailserver";
const dnsLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/);
const version = fc.constantFrom("v1", "v1alpha1", "v1beta1", "v2");
const kindName = fc.constantFrom(
  "Deployment",
  "Service",
  "ConfigMap",
  "Secret",
  "Rollout",
  "IngressRoute",
  "Middleware",
  "ServiceMonitor",
  "Application",
  "ExternalSecret",
);
const crdGroup = fc.constantFrom(
  "argoproj.io",
  "traefik.io",
  "serving.knative.dev",
  "monitoring.coreos.com",
  "external-secrets.io",
  "apps.example.com",
);

const urnOf = (type: string, name: string) => `urn:pulumi:prod::mailserver::${type}::${name}`;
const res = (
  type: string,
  name: string,
  properties: Record<string, unknown>,
): AnalyzerResource => ({
  type,
  name,
  urn: urnOf(type, name),
  properties,
});

const crd = fc
  .tuple(crdGroup, version, kindName, dnsLabel)
  .map(([group, v, kind, name]) =>
    res(`kubernetes:${group}/${v}:${kind}`, name, { metadata: { name, namespace: NS } }),
  );
const rendered = fc
  .tuple(
    fc.constantFrom(
      "kubernetes:helm.sh/v3:Release",
      "kubernetes:helm.sh/v4:Chart",
      "kubernetes:yaml/v2:ConfigGroup",
      "kubernetes:yaml/v2:ConfigFile",
      "kubernetes:yaml:ConfigFile",
      "kubernetes:kustomize/v2:Directory",
    ),
    dnsLabel,
  )
  .map(([type, name]) => res(type, name, { namespace: NS }));
const unheldPatch = fc
  .tuple(
    fc.constantFrom(
      "kubernetes:apps/v1:DeploymentPatch",
      "kubernetes:core/v1:ConfigMapPatch",
      "kubernetes:core/v1:ServicePatch",
      "kubernetes:core/v1:SecretPatch",
    ),
    dnsLabel,
    fc.constantFrom(NS, "crowdsec", "monitoring"),
  )
  .map(([type, name, namespace]) =>
    res(type, `p-${name}`, { metadata: { name: `x-${name}`, namespace } }),
  );
const foreign = fc
  .tuple(
    fc.constantFrom(
      "cloudflare:index/workersRoute:WorkersRoute",
      "cloudflare:index/pageRule:PageRule",
      "cloudflare:index/ruleset:Ruleset",
      "vault:kv/secretV2:SecretV2",
      "command:local:Command",
      "docker:index/container:Container",
    ),
    dnsLabel,
  )
  .map(([type, name]) => res(type, name, {}));

/** Patches of objects the good stack holds that touch nothing a policy reads. */
const harmlessPatch = fc
  .tuple(
    fc.constantFrom(
      { type: "kubernetes:apps/v1:DeploymentPatch", name: "mailserver" },
      { type: "kubernetes:core/v1:ServicePatch", name: "mailserver" },
      { type: "kubernetes:core/v1:ConfigMapPatch", name: "mailserver-env" },
    ),
    dnsLabel,
  )
  .map(([target, label]) =>
    res(target.type, `note-${label}`, {
      metadata: { name: target.name, namespace: NS, annotations: { "example.com/note": label } },
    }),
  );
const otherVersionKind = fc
  .tuple(
    fc.constantFrom("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Service", T.secret),
    dnsLabel,
  )
  .map(([type, name]) =>
    res(type, `extra-${name}`, {
      metadata: { name: `extra-${name}`, namespace: NS, labels: { app: "extra" } },
      ...(type.endsWith("Service")
        ? { spec: { type: "ClusterIP", selector: { app: "extra" }, ports: [{ port: 8080 }] } }
        : {}),
    }),
  );

export const closedWorldFamily: Family = {
  policy: POLICY,
  violating: fc
    .oneof(crd, rendered, unheldPatch, foreign)
    .map((r) => variant(POLICY, "violation")(`${r.type} ${r.name}`, replace([r]))),
  legit: fc
    .oneof(harmlessPatch, otherVersionKind)
    .map((r) => variant(POLICY, "clean")(`${r.type} ${r.name}`, replace([r]))),
};
