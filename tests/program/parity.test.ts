/**
 * What the Terraform-era stack had and the program must keep (issue 10, item 5): the Roundcube
 * plugins with WebAuthn two-factor login, a writable enigma volume, the Vault child-token choice,
 * an Ingress whose await cannot hang on Traefik, and a protected, retained namespace.
 */
import { strict as assert } from "node:assert";
import { ConfigError, parseConfig, rawConfigFromPulumi } from "../../lib/config";
import { unquoteTxt } from "../../lib/dns-text";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";
import { facts, loadWorld } from "../../tools/world/load";
import { at, find, loadStackConfig, prodRun } from "../helpers/program";

describe("parity with the Terraform-era stack", () => {
  let run: ProgramRun;
  let webmail: CapturedResource;
  before(async () => {
    run = await prodRun();
    webmail = find(run, "kubernetes:apps/v1:Deployment", "roundcubemail");
  });

  const env = (): Record<string, string> =>
    Object.fromEntries(
      at<{ name: string; value?: string }[]>(webmail, "spec.template.spec.containers.0.env")
        .filter((e) => e.value !== undefined)
        .map((e) => [e.name, e.value as string]),
    );

  it("loads the live Roundcube plugins, WebAuthn two-factor login included", () => {
    assert.deepEqual(env().ROUNDCUBEMAIL_PLUGINS.split(","), [
      "attachment_reminder",
      "database_attachments",
      "enigma",
      "twofactor_webauthn",
      "persistent_login",
      "rcguard",
    ]);
    assert.equal(
      env().ROUNDCUBEMAIL_COMPOSER_PLUGINS,
      "mmvi/twofactor_webauthn,texxasrulez/persistent_login,dsoares/rcguard",
    );
  });

  it("runs the webmail pod with fsGroup 33 (www-data), so the enigma volume is writable", () => {
    const sc = at<{ fsGroup: number; fsGroupChangePolicy: string }>(
      webmail,
      "spec.template.spec.securityContext",
    );
    assert.equal(sc.fsGroup, 33);
    assert.equal(sc.fsGroupChangePolicy, "OnRootMismatch");
  });

  it("does not wait for Traefik to publish an address on the webmail Ingress", () => {
    const ingress = find(run, "kubernetes:networking.k8s.io/v1:Ingress", "roundcubemail");
    assert.equal(
      at<Record<string, string>>(ingress, "metadata.annotations")["pulumi.com/skipAwait"],
      "true",
    );
  });

  it("reads Vault through an explicit provider that uses the given token (skipChildToken)", () => {
    const providers = run.resources.filter((r) => r.type === "pulumi:providers:vault");
    assert.equal(providers.length, 1);
    assert.equal(String(providers[0].inputs.skipChildToken), "true");
  });

  it("protects the namespace and keeps it in the cluster when removed from the program", () => {
    const ns = find(run, "kubernetes:core/v1:Namespace", "mailserver");
    assert.ok(ns.protect && ns.retainOnDelete);
  });

  it("keeps the CrowdSec agents' mounted acquisition ConfigMap through a destroy or rename (review R1)", () => {
    // The agent DaemonSet mounts it by subPath (world/ready/edits.yaml, step 2): a deleted
    // ConfigMap would keep every restarting agent pod in ContainerCreating.
    const cm = find(run, "kubernetes:core/v1:ConfigMap", "crowdsec-mail-acquisition");
    assert.ok(cm.protect && cm.retainOnDelete);
  });

  it("refuses a malformed mailserver:adopt key with key, value and expectation", () => {
    const raw = rawConfigFromPulumi({
      ...loadStackConfig("prod"),
      "mailserver:adopt": JSON.stringify({ "mailserver-data": "mailserver/x" }),
    });
    assert.throws(
      () => parseConfig(raw),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) =>
          p.startsWith(
            'mailserver:adopt.mailserver-data = "mailserver-data": expected a resource URN',
          ),
        ),
    );
  });
});

describe("parity: the zone as the owner runs it (world/today/cloudflare.yaml)", () => {
  let run: ProgramRun;
  before(async () => {
    run = await prodRun();
  });

  it("the MTA-STS policy lists every MX host the live zone publishes, the backup mx2 included", () => {
    const liveMx = facts(loadWorld("today"), "cloudflare")
      .filter((f) => f.id.startsWith("record MX viktorbarzin.me "))
      .map((f) => (f.value as { content: string }).content);
    assert.deepEqual(liveMx.sort(), ["mail.viktorbarzin.me", "mx2.viktorbarzin.me"]);
    const policy = String(run.outputs.mtaStsPolicy);
    for (const host of liveMx) assert.ok(policy.includes(`\r\nmx: ${host}\r\n`), host);
  });

  it("the _mta-sts record waits for the Worker and its custom domain", () => {
    const txt = find(run, "cloudflare:index/dnsRecord:DnsRecord", "dns-mta-sts");
    const script = find(run, "cloudflare:index/workersScript:WorkersScript", "mta-sts-worker");
    const domain = find(
      run,
      "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
      "mta-sts-domain",
    );
    assert.ok(txt.dependencies.includes(script.urn), "depends on the WorkersScript");
    assert.ok(txt.dependencies.includes(domain.urn), "depends on the WorkersCustomDomain");
  });

  it("publishes the live DMARC record unchanged", () => {
    const live = facts(loadWorld("today"), "cloudflare").find(
      (f) => f.id === "record TXT _dmarc.viktorbarzin.me",
    )?.value as { content: string };
    const planned = find(run, "cloudflare:index/dnsRecord:DnsRecord", "dns-dmarc");
    assert.equal(unquoteTxt(String(planned.inputs.content)), unquoteTxt(live.content));
  });
});
