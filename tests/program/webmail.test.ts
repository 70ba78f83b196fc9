import { strict as assert } from "node:assert";
import type { CapturedResource, ProgramRun } from "../../tools/mock-program";
import { at, find, prodRun } from "../helpers/program";

type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
};

describe("webmail component", () => {
  let run: ProgramRun;
  let deployment: CapturedResource;
  let env: EnvVar[];
  before(async () => {
    run = await prodRun();
    deployment = find(run, "kubernetes:apps/v1:Deployment", "roundcubemail");
    env = at<{ env: EnvVar[] }[]>(deployment, "spec.template.spec.containers")[0].env;
  });
  const value = (name: string) => env.find((e) => e.name === name)?.value;

  it("runs Roundcube 1.6.13-apache", () => {
    const [container] = at<{ image: string }[]>(deployment, "spec.template.spec.containers");
    assert.equal(container.image, "docker.io/roundcube/roundcubemail:1.6.13-apache");
  });

  it("talks IMAPS and submission to the in-cluster mail Service", () => {
    assert.equal(value("ROUNDCUBEMAIL_DEFAULT_HOST"), "ssl://mailserver");
    assert.equal(value("ROUNDCUBEMAIL_DEFAULT_PORT"), "993");
    assert.equal(value("ROUNDCUBEMAIL_SMTP_SERVER"), "tls://mailserver");
    assert.equal(value("ROUNDCUBEMAIL_SMTP_PORT"), "587");
  });

  it("verifies the mail certificate against the public mail host", () => {
    const php = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "roundcubemail-config"),
      "data",
    );
    assert.match(
      php["tls-peer.inc.php"],
      /'peer_name' => 'mail\.viktorbarzin\.me', 'verify_peer' => true/,
    );
  });

  it("uses MySQL in dbaas with the password only through a secretKeyRef", () => {
    assert.equal(value("ROUNDCUBEMAIL_DB_TYPE"), "mysql");
    assert.equal(value("ROUNDCUBEMAIL_DB_HOST"), "mysql.dbaas.svc.cluster.local");
    const password = env.find((e) => e.name === "ROUNDCUBEMAIL_DB_PASSWORD");
    assert.equal(password?.value, undefined);
    assert.deepEqual(password?.valueFrom?.secretKeyRef, {
      name: "roundcubemail-db",
      key: "password",
    });
    const secret = find(run, "kubernetes:core/v1:Secret", "roundcubemail-db");
    assert.ok(secret.secretPaths.length > 0, "the DB password is a secret output");
  });

  it("keeps its two 1Gi volumes, protected", () => {
    for (const name of ["roundcubemail-html-encrypted", "roundcubemail-enigma-encrypted"]) {
      const pvc = find(run, "kubernetes:core/v1:PersistentVolumeClaim", name);
      assert.equal(at(pvc, "spec.resources.requests.storage"), "1Gi");
      assert.equal(at(pvc, "spec.storageClassName"), "proxmox-lvm-encrypted");
      assert.ok(pvc.protect && pvc.retainOnDelete, name);
    }
  });

  it("is published by Traefik at mail.viktorbarzin.me with the stack's own TLS Secret", () => {
    const ingress = find(run, "kubernetes:networking.k8s.io/v1:Ingress", "roundcubemail");
    assert.equal(at(ingress, "spec.ingressClassName"), "traefik");
    assert.deepEqual(at(ingress, "spec.tls"), [
      { hosts: ["mail.viktorbarzin.me"], secretName: "mailserver-tls" },
    ]);
    const secret = find(run, "kubernetes:core/v1:Secret", "mailserver-tls");
    assert.equal(at(secret, "type"), "kubernetes.io/tls");
    const [rule] = at<{ host: string; http: { paths: { backend: unknown }[] } }[]>(
      ingress,
      "spec.rules",
    );
    assert.equal(rule.host, "mail.viktorbarzin.me");
    assert.deepEqual(rule.http.paths[0].backend, {
      service: { name: "roundcubemail", port: { name: "http" } },
    });
    assert.equal(run.outputs.webmailUrl, "https://mail.viktorbarzin.me");
  });
});
