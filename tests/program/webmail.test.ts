import { strict as assert } from "node:assert";
import { parseConfig } from "../../lib/config";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";
import { loadWorld } from "../../tools/world/load";
import { problemsOf, prodRaw, set } from "../helpers/config";
import { at, find, prodRun } from "../helpers/program";

/**
 * The router annotations of the live `mail` Ingress, written out by hand from the owner's
 * ingress_factory (ViktorBarzin/infra @ 0cd4afb6 modules/kubernetes/ingress_factory/main.tf:394-415)
 * for the call in stacks/mailserver/modules/mailserver/roundcubemail.tf:287-294: auth = "required"
 * gives traefik-authentik-forward-auth and turns anti-AI off; service_name roundcubemail is not
 * anubis-*; no skip_default_rate_limit, custom CSP, local-only, sablier, body limit or extra
 * middlewares.
 */
const LIVE_ROUTER_ANNOTATIONS = {
  "traefik.ingress.kubernetes.io/router.middlewares":
    "traefik-retry@kubernetescrd,traefik-error-pages@kubernetescrd,traefik-rate-limit@kubernetescrd,traefik-csp-headers@kubernetescrd,traefik-authentik-forward-auth@kubernetescrd",
  "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
};

type Probe = Record<string, unknown>;

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

  it("is published by Traefik at mail.viktorbarzin.me with the cluster's tls-secret, created by no one here", () => {
    const ingress = find(run, "kubernetes:networking.k8s.io/v1:Ingress", "roundcubemail");
    assert.equal(at(ingress, "spec.ingressClassName"), "traefik");
    assert.deepEqual(at(ingress, "spec.tls"), [
      { hosts: ["mail.viktorbarzin.me"], secretName: "tls-secret" },
    ]);
    const secrets = run.resources.filter((r) => r.type === "kubernetes:core/v1:Secret");
    assert.ok(secrets.every((r) => at(r, "metadata.name") !== "tls-secret"));
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

  it("keeps the live Ingress's Traefik gate: the owner's middlewares in order, websecure only", () => {
    const ingress = find(run, "kubernetes:networking.k8s.io/v1:Ingress", "roundcubemail");
    assert.deepEqual(at(ingress, "metadata.annotations"), {
      "pulumi.com/skipAwait": "true",
      ...LIVE_ROUTER_ANNOTATIONS,
    });
    // The same two values as world/ records them for the live Ingress (a second transcription).
    const fact = loadWorld("today").files.mailserver.facts.find(
      (f) => f.id === "ingress mailserver/mail",
    );
    const live = (fact?.value as { annotations: Record<string, string> }).annotations;
    for (const [key, value] of Object.entries(LIVE_ROUTER_ANNOTATIONS)) {
      assert.equal(live[key], value, key);
    }
  });

  it("refuses a middleware that is not a <namespace>-<name>@kubernetescrd reference", () => {
    const bad: [unknown, string][] = [
      ["authentik-forward-auth@file", '"authentik-forward-auth@file"'],
      ["retry@kubernetescrd", '"retry@kubernetescrd"'],
      ["traefik-retry", '"traefik-retry"'],
      ["Traefik-retry@kubernetescrd", '"Traefik-retry@kubernetescrd"'],
    ];
    for (const [value, shown] of bad) {
      const problems = problemsOf(set(prodRaw(), "webmail.ingress.middlewares.1", value));
      assert.deepEqual(problems, [
        `mailserver:webmail.ingress.middlewares.1 = ${shown}: expected a Middleware CRD reference <namespace>-<name>@kubernetescrd such as traefik-retry@kubernetescrd`,
      ]);
    }
    const twice = problemsOf(
      set(prodRaw(), "webmail.ingress.middlewares", [
        "traefik-retry@kubernetescrd",
        "traefik-retry@kubernetescrd",
      ]),
    );
    assert.equal(twice.length, 1);
    assert.match(
      twice[0],
      /^mailserver:webmail\.ingress\.middlewares = .*: expected each middleware once$/,
    );
    assert.deepEqual(problemsOf(set(prodRaw(), "webmail.ingress.entrypoints", [])), [
      "mailserver:webmail.ingress.entrypoints = []: Too small: expected array to have >=1 items",
    ]);
    assert.deepEqual(problemsOf(set(prodRaw(), "webmail.ingress", undefined)), [
      "mailserver:webmail.ingress = (missing): required object is missing",
    ]);
    // Positive control: another namespace's CRD middleware is fine.
    const other = set(prodRaw(), "webmail.ingress.middlewares", [
      "mailserver-buffering-mail@kubernetescrd",
    ]);
    assert.deepEqual(parseConfig(other).webmail.ingress.middlewares, [
      "mailserver-buffering-mail@kubernetescrd",
    ]);
  });

  it("gives Roundcube's entrypoint 10 minutes to start before liveness can restart it", () => {
    const [container] = at<Probe[]>(deployment, "spec.template.spec.containers");
    assert.deepEqual(container.startupProbe, {
      tcpSocket: { port: "http" },
      periodSeconds: 10,
      failureThreshold: 60,
    });
    // Liveness and readiness are held back by the startup probe, so neither waits on its own.
    assert.deepEqual(container.livenessProbe, { tcpSocket: { port: "http" }, periodSeconds: 30 });
    assert.deepEqual(container.readinessProbe, { tcpSocket: { port: "http" }, periodSeconds: 10 });
    const ports = container.ports as { name: string; containerPort: number }[];
    assert.deepEqual(ports, [{ name: "http", containerPort: 80, protocol: "TCP" }]);
  });
});
