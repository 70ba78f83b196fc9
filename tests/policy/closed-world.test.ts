/**
 * The closed world, through the Analyzer protocol on the program's planned resources (every
 * resource the engine hands the pack, components included, with the pack's prod config): what the
 * pack does not model is refused, a Patch is judged as the object the API server would make of it,
 * and a waiver is explicit. The families come from the consumers: what Helm, the YAML provider,
 * Traefik, Argo, Cloudflare and Server-Side Apply do with each object.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { AnalyzerResource, Diagnostic, PackConfig } from "../../tools/analyzer/client";
import { itemsFromRun } from "../../tools/offline/run-items";
import { prodRun } from "../helpers/program";
import { analyzeAll, mandatory, PACK_DIR, summary, usePack } from "./harness";

const PROD_CONFIG = JSON.parse(
  readFileSync(path.join(PACK_DIR, "config.prod.json"), "utf8"),
) as PackConfig;

const urn = (type: string, name: string) => `urn:pulumi:prod::mailserver::${type}::${name}`;

function resource(type: string, name: string, properties: Record<string, unknown>) {
  return { type, name, urn: urn(type, name), properties } satisfies AnalyzerResource;
}

/** Every resource of the prod plan as the engine sends it (inputs), components included. */
async function planned(): Promise<AnalyzerResource[]> {
  return itemsFromRun(await prodRun())
    .filter((i) => !i.external)
    .map((i) => ({
      type: i.type,
      name: i.name,
      urn: i.urn,
      properties: structuredClone(i.inputs),
    }));
}

const key = (d: Diagnostic) => `${d.policyName}|${d.message}`;

describe("closed world (the program's plan, prod pack config)", function () {
  this.timeout(120_000);
  const pack = usePack(PROD_CONFIG);
  let baseline: Set<string>;

  before(async () => {
    baseline = new Set(mandatory(await analyzeAll(pack(), await planned())).map(key));
  });

  /** Mandatory diagnostics the extra resources add to the plan's own. */
  async function added(...extra: AnalyzerResource[]): Promise<Diagnostic[]> {
    const ds = mandatory(await analyzeAll(pack(), [...(await planned()), ...extra]));
    return ds.filter((d) => !baseline.has(key(d)));
  }

  it("refuses nothing of the program's own plan, and knows all its plain text public", async () => {
    const ds = (await analyzeAll(pack(), await planned())).filter(
      (d) => d.policyName === "closed-world" || d.policyName === "plain-text-public",
    );
    assert.deepEqual(ds, [], summary(ds));
  });

  describe("another kind or provider writing the stack's objects: cannot verify", () => {
    const cases: [string, AnalyzerResource][] = [
      [
        "a Helm release into the mail namespace",
        resource("kubernetes:helm.sh/v3:Release", "mail-chart", {
          chart: "docker-mailserver",
          namespace: "mailserver",
          values: { deployment: { env: { ENABLE_FAIL2BAN: 1 } } },
        }),
      ],
      [
        "a Helm v4 chart",
        resource("kubernetes:helm.sh/v4:Chart", "mail-chart-v4", {
          chart: "docker-mailserver",
          namespace: "mailserver",
        }),
      ],
      [
        "a YAML group",
        resource("kubernetes:yaml/v2:ConfigGroup", "mail-yaml", {
          yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mailserver-env, namespace: mailserver}\ndata: {ENABLE_FAIL2BAN: '1'}\n",
        }),
      ],
      [
        "a YAML file",
        resource("kubernetes:yaml/v2:ConfigFile", "mail-file", { file: "mail.yaml" }),
      ],
      [
        "a Traefik IngressRoute to the mail Service",
        resource("kubernetes:traefik.io/v1alpha1:IngressRouteTCP", "smtp-route", {
          metadata: { name: "smtp", namespace: "mailserver" },
          spec: {
            entryPoints: ["smtp"],
            routes: [{ match: "HostSNI(`*`)", services: [{ name: "mailserver", port: 25 }] }],
          },
        }),
      ],
      [
        "an Argo Rollout running the mail image",
        resource("kubernetes:argoproj.io/v1alpha1:Rollout", "mail-rollout", {
          metadata: { name: "mailserver", namespace: "mailserver" },
          spec: {
            template: {
              spec: { containers: [{ name: "m", image: "mailserver/docker-mailserver:15.0.0" }] },
            },
          },
        }),
      ],
      [
        "a Knative Service (a CRD reusing the kind name Service) that runs pods",
        resource("kubernetes:serving.knative.dev/v1:Service", "kn-mail", {
          metadata: { name: "mail", namespace: "mailserver" },
        }),
      ],
      [
        "a Patch of a Deployment the stack does not hold",
        resource("kubernetes:apps/v1:DeploymentPatch", "other-patch", {
          metadata: { name: "crowdsec-agent", namespace: "crowdsec" },
          spec: { template: { spec: { nodeSelector: { role: "none" } } } },
        }),
      ],
      [
        "a Worker route on the zone",
        resource("cloudflare:index/workersRoute:WorkersRoute", "mta-sts-route", {
          zoneId: "fd2c5dd4",
          pattern: "mta-sts.viktorbarzin.me/*",
          script: "other-script",
        }),
      ],
      [
        "a Worker custom domain on the mail host",
        resource("cloudflare:index/workersCustomDomain:WorkersCustomDomain", "mail-host", {
          accountId: "a",
          zoneId: "fd2c5dd4",
          hostname: "mail.viktorbarzin.me",
          service: "mta-sts-viktorbarzin-me",
        }),
      ],
      [
        "a Vault write to the mail stack's secrets",
        resource("vault:kv/secretV2:SecretV2", "mail-secret", {
          mount: "secret",
          name: "viktor",
          dataJson: "{}",
        }),
      ],
      [
        "a command that can run kubectl",
        resource("command:local:Command", "kubectl", { create: "kubectl apply -f mail.yaml" }),
      ],
      [
        "a kubernetes provider with a default namespace",
        resource("pulumi:providers:kubernetes", "mail-ns", { namespace: "mailserver" }),
      ],
      ["another package's component", resource("acme:mail:Relay", "relay", {})],
    ];
    for (const [what, r] of cases) {
      it(what, async () => {
        const ds = await added(r);
        const refused = ds.filter((d) => d.policyName === "closed-world");
        assert.equal(refused.length, 1, summary(ds));
        assert.match(
          refused[0]?.message ?? "",
          new RegExp(`^cannot verify: ${r.type} ${r.name}: `, "m"),
        );
        assert.match(refused[0]?.message ?? "", /closed-world\.waivers/);
      });
    }
  });

  describe("Patches, merged as Server-Side Apply merges them", () => {
    it("the fail2ban switch set on the mail container by a DeploymentPatch is refused", async () => {
      // containers merge by name (listType=map): the image stays, so it is still docker-mailserver.
      const ds = await added(
        resource("kubernetes:apps/v1:DeploymentPatch", "f2b", {
          metadata: { name: "mailserver", namespace: "mailserver" },
          spec: {
            template: {
              spec: {
                containers: [
                  { name: "docker-mailserver", env: [{ name: "ENABLE_FAIL2BAN", value: "1" }] },
                ],
              },
            },
          },
        }),
      );
      assert.ok(
        ds.some((d) => d.policyName === "fail2ban-disabled"),
        summary(ds),
      );
      assert.deepEqual(
        ds.filter((d) => d.policyName === "closed-world"),
        [],
      );
    });

    it("ENABLE_FAIL2BAN=1 merged into the env ConfigMap by a ConfigMapPatch is refused", async () => {
      const ds = await added(
        resource("kubernetes:core/v1:ConfigMapPatch", "env-f2b", {
          metadata: { name: "mailserver-env", namespace: "mailserver" },
          data: { ENABLE_FAIL2BAN: "1" },
        }),
      );
      assert.ok(
        ds.some((d) => d.policyName === "fail2ban-disabled"),
        summary(ds),
      );
    });

    it("externalTrafficPolicy Cluster patched onto the mail Service is refused", async () => {
      const ds = await added(
        resource("kubernetes:core/v1:ServicePatch", "etp", {
          metadata: { name: "mailserver", namespace: "mailserver" },
          spec: { externalTrafficPolicy: "Cluster" },
        }),
      );
      assert.ok(
        ds.some((d) => d.policyName === "mail-service-etp-local"),
        summary(ds),
      );
    });

    it("a private key patched into a ConfigMap is refused", async () => {
      const ds = await added(
        resource("kubernetes:core/v1:ConfigMapPatch", "key", {
          metadata: { name: "mailserver-config", namespace: "mailserver" },
          data: { "relay.key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n" },
        }),
      );
      assert.ok(
        ds.some((d) => d.policyName === "no-literal-secrets"),
        summary(ds),
      );
    });

    it("legitimate: a Patch that only adds an annotation and a label changes no verdict", async () => {
      const ds = await added(
        resource("kubernetes:apps/v1:DeploymentPatch", "note", {
          metadata: {
            name: "mailserver",
            namespace: "mailserver",
            annotations: { "example.com/owner": "viktor" },
          },
        }),
        resource("kubernetes:core/v1:ServicePatch", "label", {
          metadata: { name: "mailserver", namespace: "mailserver", labels: { tier: "mail" } },
        }),
      );
      assert.deepEqual(ds, [], summary(ds));
    });

    it("legitimate: a harmless extra Service beside the mail stack", async () => {
      const ds = await added(
        resource("kubernetes:core/v1:Service", "docs", {
          metadata: { name: "docs", namespace: "mailserver" },
          spec: { type: "ClusterIP", selector: { app: "docs" }, ports: [{ port: 80 }] },
        }),
      );
      assert.deepEqual(ds, [], summary(ds));
    });
  });

  describe("waivers", () => {
    const route = resource("kubernetes:traefik.io/v1alpha1:Middleware", "webmail-headers", {
      metadata: { name: "headers", namespace: "mailserver" },
    });
    const waived = usePack({
      ...PROD_CONFIG,
      "closed-world": {
        ...(PROD_CONFIG["closed-world"] as object),
        waivers: [
          {
            type: route.type,
            name: route.name,
            reason: "security headers for webmail only; reviewed 2026-12-04",
          },
        ],
      },
    });

    it("a waived resource is accepted", async () => {
      const ds = (await analyzeAll(waived(), [...(await planned()), route])).filter(
        (d) => d.policyName === "closed-world",
      );
      assert.deepEqual(ds, [], summary(ds));
    });

    it("the same resource without the waiver is refused", async () => {
      const ds = (await added(route)).filter((d) => d.policyName === "closed-world");
      assert.equal(ds.length, 1, summary(ds));
    });
  });
});
