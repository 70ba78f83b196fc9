/**
 * The certificate seam from the consumers' side: the Secret the mail pod and the webmail Ingress
 * read is the one this stack issues, its key stays secret, and renewal is the provider's.
 */
import * as assert from "node:assert/strict";
import { parseConfig, rawConfigFromPulumi } from "../../lib/config";
import type { CapturedResource, ProgramRun } from "../../tools/mock-program";
import { at, find, loadStackConfig, ofType, prodRun } from "../helpers/program";

const CERT = "acme:index/certificate:Certificate";

describe("TLS certificate owned by the stack", () => {
  let run: ProgramRun;
  let secret: CapturedResource;
  before(async () => {
    run = await prodRun();
    secret = find(run, "kubernetes:core/v1:Secret", "mailserver-tls");
  });

  it("is a kubernetes.io/tls Secret in the mail namespace with chain and key", () => {
    assert.equal(at(secret, "type"), "kubernetes.io/tls");
    assert.equal(at(secret, "metadata.namespace"), "mailserver");
    const data = at<Record<string, string>>(secret, "stringData");
    assert.deepEqual(Object.keys(data).sort(), ["tls.crt", "tls.key"]);
    // Leaf followed by issuer: the chain every client needs.
    assert.match(data["tls.crt"], /PLACEHOLDER-certificate\n.*PLACEHOLDER-issuer/s);
    assert.ok(
      secret.secretPaths.some((p) => p === "stringData" || p === "stringData.tls.key"),
      "tls.key must be secret",
    );
  });

  it("is what the mail pod mounts at SSL_CERT_PATH's directory", () => {
    const deployment = find(run, "kubernetes:apps/v1:Deployment", "mailserver");
    const volumes = at<{ name: string; secret?: { secretName: string } }[]>(
      deployment,
      "spec.template.spec.volumes",
    );
    const tlsVolume = volumes.find((v) => v.secret?.secretName === "mailserver-tls");
    assert.ok(tlsVolume, "no volume mounts the owned Secret");
    const container = at<
      { volumeMounts: { name: string; mountPath: string; subPath?: string }[] }[]
    >(deployment, "spec.template.spec.containers")[0];
    const mount = container.volumeMounts.find((m) => m.name === tlsVolume.name);
    const env = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "mailserver-env"),
      "data",
    );
    assert.equal(env["SSL_CERT_PATH"], `${mount?.mountPath}/tls.crt`);
    assert.equal(env["SSL_KEY_PATH"], `${mount?.mountPath}/tls.key`);
    // kubelet refreshes a directory mount in place; a subPath mount would never see a renewal.
    assert.equal(mount?.subPath, undefined);
  });

  it("is issued for the mail host over DNS-01 in Cloudflare with a secret token", () => {
    const [cert] = ofType(run, CERT);
    assert.equal(at(cert, "commonName"), "mail.viktorbarzin.me");
    assert.deepEqual(at(cert, "subjectAlternativeNames") ?? [], []);
    const [challenge] = at<{ provider: string; config: Record<string, string> }[]>(
      cert,
      "dnsChallenges",
    );
    assert.equal(challenge.provider, "cloudflare");
    assert.match(challenge.config["CF_DNS_API_TOKEN"], /^PLACEHOLDER-cloudflare-dns-token$/);
    assert.ok(
      cert.secretPaths.some((p) => p.startsWith("dnsChallenges")),
      "the DNS token must be a secret input",
    );
    assert.ok(cert.secretPaths.includes("accountKeyPem"));
  });

  it("renews when fewer than 30 days remain, against Let's Encrypt production", () => {
    const [cert] = ofType(run, CERT);
    assert.equal(at(cert, "minDaysRemaining"), 30);
    const [provider] = ofType(run, "pulumi:providers:acme");
    assert.equal(at(provider, "serverUrl"), "https://acme-v02.api.letsencrypt.org/directory");
    assert.ok(
      cert.dependencies.includes(ofType(run, "acme:index/registration:Registration")[0].urn),
    );
  });

  it("refuses a renewal window a 90-day certificate cannot honour, naming the key", () => {
    const raw = rawConfigFromPulumi(loadStackConfig("prod"));
    const tls = raw["tls"] as Record<string, unknown>;
    assert.throws(
      () =>
        parseConfig({ ...raw, tls: { ...tls, minDaysRemaining: 90, acmeServerUrl: "http://x" } }),
      (err: Error) =>
        /tls\.minDaysRemaining/.test(err.message) && /tls\.acmeServerUrl/.test(err.message),
    );
  });
});
