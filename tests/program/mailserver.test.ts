import { strict as assert } from "node:assert";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";
import { placeholderKeys } from "../../tools/offline/placeholder-keys";
import { vaultPlaceholders } from "../../tools/offline/placeholders";
import {
  at,
  find,
  loadStackConfig,
  ofType,
  prodRun,
  referenceFile,
  runProgram,
} from "../helpers/program";

type Container = {
  name: string;
  image: string;
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] } };
};

const CM = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";

describe("mail server component", () => {
  let run: ProgramRun;
  let deployment: CapturedResource;
  let containers: Container[];
  before(async () => {
    run = await prodRun();
    deployment = find(run, "kubernetes:apps/v1:Deployment", "mailserver");
    containers = at<Container[]>(deployment, "spec.template.spec.containers");
  });
  const container = (name: string) => {
    const c = containers.find((x) => x.name === name);
    assert.ok(c, `container ${name}`);
    return c;
  };

  it("creates the mailserver namespace under the component", () => {
    const ns = find(run, "kubernetes:core/v1:Namespace", "mailserver");
    const parent = run.resources.find((r) => r.urn === ns.parent);
    assert.equal(parent?.type, "mailserver:mail:MailServer");
  });

  describe("environment", () => {
    let env: Record<string, string>;
    before(() => {
      env = at(find(run, CM, "mailserver-env"), "data");
    });

    it("keeps Fail2ban explicitly off and Rspamd on with learning", () => {
      assert.equal(env.ENABLE_FAIL2BAN, "0");
      assert.equal(env.ENABLE_RSPAMD, "1");
      assert.equal(env.RSPAMD_LEARN, "1");
    });

    it("turns off every daemon Rspamd replaces", () => {
      for (const key of [
        "ENABLE_OPENDKIM",
        "ENABLE_OPENDMARC",
        "ENABLE_POLICYD_SPF",
        "ENABLE_AMAVIS",
        "ENABLE_SPAMASSASSIN",
      ]) {
        assert.equal(env[key], "0", key);
      }
    });

    it("relays through Brevo with SRS off (the owner's 2026-07-08 decision), manual TLS and the public hostname", () => {
      assert.equal(env.DEFAULT_RELAY_HOST, "[smtp-relay.brevo.com]:587");
      assert.equal(env.ENABLE_SRS, "0");
      assert.equal(env.SSL_TYPE, "manual");
      assert.equal(env.OVERRIDE_HOSTNAME, "mail.viktorbarzin.me");
      const tls = container("docker-mailserver").volumeMounts.find((m) => m.name === "tls");
      assert.ok(
        env.SSL_CERT_PATH.startsWith(`${tls?.mountPath}/`),
        "cert path inside the TLS mount",
      );
      assert.ok(env.SSL_KEY_PATH.startsWith(`${tls?.mountPath}/`), "key path inside the TLS mount");
    });

    it("sets only variables docker-mailserver 15.0.0 reads", () => {
      const tsv = referenceFile("dms-15.0.0-env.tsv");
      const rows = tsv
        .split("\n")
        .slice(1)
        .map((line) => line.split("\t"));
      const read = new Set(
        rows
          .filter((r) => !/REMOVED|n\/a in 15\.0\.0|^\(n\/a\)/.test(`${r[1]} ${r[2]}`))
          .map((r) => r[0]),
      );
      for (const key of Object.keys(env)) assert.ok(read.has(key), `${key} is not read by 15.0.0`);
    });

    it("is used by the mail container through envFrom", () => {
      assert.deepEqual(container("docker-mailserver").envFrom, [
        { configMapRef: { name: "mailserver-env" } },
      ]);
    });
  });

  describe("config files", () => {
    let files: Record<string, string>;
    before(() => {
      files = at(find(run, CM, "mailserver-config"), "data");
    });

    it("carries the spec's three Postfix rate limits", () => {
      assert.match(files["postfix-main.cf"], /^smtpd_client_connection_rate_limit = 10$/m);
      assert.match(files["postfix-main.cf"], /^smtpd_client_message_rate_limit = 30$/m);
      assert.match(files["postfix-main.cf"], /^anvil_rate_time_unit = 60s$/m);
    });

    it("serves Dovecot's own metrics: stats-writer reopened, stats-reader left closed", () => {
      assert.match(files["dovecot.cf"], /inet_listener http \{\s+port = 9900\s+\}/);
      assert.match(files["dovecot.cf"], /unix_listener stats-writer \{\s+mode = 0660/);
      assert.doesNotMatch(files["dovecot.cf"], /stats-reader/);
    });

    it("signs DKIM with selector mail from the mounted key", () => {
      const conf = files["dkim_signing.conf"];
      assert.match(conf, /selector = "mail";/);
      const keyPath = /path = "([^"]+)";/.exec(conf)?.[1];
      const mount = container("docker-mailserver").volumeMounts.find((m) => m.name === "dkim");
      assert.equal(mount?.mountPath, keyPath);
    });

    it("mounts every config file into docker-mailserver's config directory", () => {
      const paths = container("docker-mailserver").volumeMounts.map((m) => m.mountPath);
      for (const file of [
        "postfix-main.cf",
        "dovecot.cf",
        "user-patches.sh",
        "rspamd/override.d/dkim_signing.conf",
        "rspamd/override.d/external_relay.conf",
        "rspamd/override.d/force_actions.conf",
        "backup-mx-permit.cidr",
        "docs@viktorbarzin.me.dovecot.sieve",
        "postfix-accounts.cf",
        "postfix-virtual.cf",
        "postfix-sasl-password.cf",
      ]) {
        assert.ok(paths.includes(`/tmp/docker-mailserver/${file}`), file);
      }
    });
  });

  describe("secrets", () => {
    it("puts accounts, aliases and relay credentials in a Secret as secret outputs", () => {
      const secret = find(run, SECRET, "mailserver-accounts");
      const data = at<Record<string, string>>(secret, "stringData");
      assert.deepEqual(Object.keys(data).sort(), [
        "postfix-accounts.cf",
        "postfix-sasl-password.cf",
        "postfix-virtual.cf",
      ]);
      assert.ok(
        secret.secretPaths.some((p) => p === "stringData" || p.startsWith("stringData.")),
        `stringData is secret (secret paths: ${secret.secretPaths.join(", ")})`,
      );
      assert.match(data["postfix-sasl-password.cf"], /^\[smtp-relay\.brevo\.com\]:587 \S+:\S+\n$/);
    });

    it("hashes account passwords as SHA512-CRYPT, never in plain text", () => {
      const data = at<Record<string, string>>(
        find(run, SECRET, "mailserver-accounts"),
        "stringData",
      );
      const accounts = data["postfix-accounts.cf"];
      for (const line of accounts.trim().split("\n")) {
        assert.match(
          line,
          /^[^|]+@viktorbarzin\.me\|\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/,
        );
      }
      assert.doesNotMatch(accounts, /PLACEHOLDER-password/);
    });

    it("keeps the DKIM private key in a Secret readable by _rspamd", () => {
      const dkim = find(run, SECRET, "mailserver-dkim");
      assert.ok(dkim.secretPaths.length > 0, "DKIM key is a secret output");
      const volumes = at<{ name: string; secret?: { defaultMode?: number } }[]>(
        deployment,
        "spec.template.spec.volumes",
      );
      assert.equal(volumes.find((v) => v.name === "dkim")?.secret?.defaultMode, 0o444);
    });

    it("leaves no Vault value in any ConfigMap or env literal", async () => {
      const placeholders = vaultPlaceholders(
        {
          domain: "viktorbarzin.me",
          relay: { host: "smtp-relay.brevo.com", port: 587 },
          probeMailbox: "spam@viktorbarzin.me",
        },
        await placeholderKeys(),
      );
      const secretValues = [
        ...Object.values(placeholders.platform),
        ...Object.values(placeholders.personal),
      ].flatMap((v) =>
        v.startsWith("{") ? Object.values(JSON.parse(v) as Record<string, string>) : [v],
      );
      const literals = [
        ...ofType(run, CM).flatMap((cm) =>
          Object.values(at<Record<string, string>>(cm, "data") ?? {}),
        ),
        ...JSON.stringify(run.resources.map((r) => r.inputs))
          .match(/"value":"[^"]*"/g)!
          .map((s) => s.slice(9, -1)),
      ];
      for (const secret of secretValues.filter((v) => v.includes("PLACEHOLDER"))) {
        for (const literal of literals) {
          assert.ok(
            !literal.includes(secret),
            "a Vault value appears in a ConfigMap or env literal",
          );
        }
      }
    });
  });

  describe("deployment", () => {
    it("runs one replica with the Recreate strategy", () => {
      assert.equal(at(deployment, "spec.replicas"), 1);
      assert.equal(at(deployment, "spec.strategy.type"), "Recreate");
    });

    it("runs docker-mailserver 15.0.0 alone: no exporter sidecar", () => {
      assert.deepEqual(
        containers.map((c) => [c.name, c.image]),
        [["docker-mailserver", "docker.io/mailserver/docker-mailserver:15.0.0"]],
      );
    });

    it("exposes Dovecot's metrics port on the pod, annotated for the chart's kubernetes-pods job", () => {
      const port = container("docker-mailserver").ports?.find((p) => p.name === "dovecot-metrics");
      assert.equal(port?.containerPort, 9900);
      const annotations = at<Record<string, string>>(
        deployment,
        "spec.template.metadata.annotations",
      );
      assert.equal(annotations["prometheus.io/scrape"], "true");
      assert.equal(annotations["prometheus.io/port"], String(port?.containerPort));
      assert.equal(annotations["prometheus.io/path"], "/metrics");
      const svc = find(run, "kubernetes:core/v1:Service", "mailserver");
      assert.ok(!at<{ port: number }[]>(svc, "spec.ports").some((p) => p.port === 9900));
    });

    it("adds no NET_ADMIN or NET_RAW to any container while Fail2ban is off", () => {
      for (const c of containers) {
        const add = c.securityContext?.capabilities?.add ?? [];
        assert.ok(!add.includes("NET_ADMIN") && !add.includes("NET_RAW"), c.name);
      }
      assert.deepEqual(container("docker-mailserver").securityContext?.capabilities?.drop, [
        "NET_ADMIN",
        "NET_RAW",
      ]);
    });

    it("checks SMTP (readiness) and IMAPS (liveness) listening with exec probes, never a TCP session", () => {
      type Probe = { tcpSocket?: unknown; exec?: { command: string[] } };
      const c = containers[0] as Container & Record<string, Probe>;
      const script = (p: Probe) => p.exec?.command.join(" ") ?? "";
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        assert.equal(probe.tcpSocket, undefined);
      }
      assert.match(script(c.readinessProbe), /ss --listening --tcp \| grep -P 'LISTEN\.\+:smtp'$/);
      assert.match(script(c.startupProbe), /:smtp'$/);
      assert.match(script(c.livenessProbe), /:imaps'$/);
    });

    it("keeps mail, state and logs on the data volume", () => {
      const mounts = container("docker-mailserver").volumeMounts.filter((m) => m.name === "data");
      assert.deepEqual(
        mounts.map((m) => [m.mountPath, m.subPath]),
        [
          ["/var/mail", "data"],
          ["/var/mail-state", "state"],
          ["/var/log/mail", "log"],
        ],
      );
    });
  });

  describe("data volume", () => {
    it("is the live 5Gi encrypted claim that auto-resizes to 10Gi at 10% free", () => {
      const pvc = find(
        run,
        "kubernetes:core/v1:PersistentVolumeClaim",
        "mailserver-data-encrypted",
      );
      assert.equal(at(pvc, "spec.storageClassName"), "proxmox-lvm-encrypted");
      assert.equal(at(pvc, "spec.resources.requests.storage"), "5Gi");
      const annotations = at<Record<string, string>>(pvc, "metadata.annotations");
      assert.equal(annotations["resize.topolvm.io/storage_limit"], "10Gi");
      assert.equal(annotations["resize.topolvm.io/threshold"], "10%");
    });

    it("is protected from deletion and retained if ever removed from the program", () => {
      const pvc = find(
        run,
        "kubernetes:core/v1:PersistentVolumeClaim",
        "mailserver-data-encrypted",
      );
      assert.equal(pvc.protect, true);
      assert.equal(pvc.retainOnDelete, true);
    });
  });

  describe("service", () => {
    let svc: CapturedResource;
    before(() => {
      svc = find(run, "kubernetes:core/v1:Service", "mailserver");
    });

    it("is a LoadBalancer with externalTrafficPolicy Local pinned to 10.0.20.202", () => {
      assert.equal(at(svc, "spec.type"), "LoadBalancer");
      assert.equal(at(svc, "spec.externalTrafficPolicy"), "Local");
      assert.equal(
        at<Record<string, string>>(svc, "metadata.annotations")["metallb.io/loadBalancerIPs"],
        "10.0.20.202",
      );
      assert.equal(at(svc, "spec.loadBalancerIP"), undefined);
    });

    it("exposes 25, 465, 587 and 993 to the mail pod", () => {
      assert.deepEqual(
        at<{ port: number }[]>(svc, "spec.ports").map((p) => p.port),
        [25, 465, 587, 993],
      );
      assert.deepEqual(at(svc, "spec.selector"), at(deployment, "spec.selector.matchLabels"));
    });

    it("is the in-cluster name exported for Roundcube and the probe", () => {
      assert.equal(run.outputs.mailServiceHost, "mailserver.mailserver.svc.cluster.local");
      assert.equal(run.outputs.mailLoadBalancerIp, "10.0.20.202");
    });
  });
  describe("PROXY-v2 path (pfSense HAProxy)", () => {
    let svc: CapturedResource;
    before(() => {
      svc = find(run, "kubernetes:core/v1:Service", "mailserver-proxy");
    });

    it("is the live NodePort Service mailserver-proxy, ETP Cluster, port for port", () => {
      assert.equal(at(svc, "metadata.namespace"), "mailserver");
      assert.deepEqual(at(svc, "metadata.labels"), { app: "mailserver" });
      assert.equal(at(svc, "spec.type"), "NodePort");
      assert.equal(at(svc, "spec.externalTrafficPolicy"), "Cluster");
      // infra stacks/mailserver/modules/mailserver/main.tf, kubernetes_service.mailserver_proxy.
      assert.deepEqual(at(svc, "spec.ports"), [
        { name: "smtp-proxy", protocol: "TCP", port: 25, targetPort: 2525, nodePort: 30125 },
        { name: "smtps-proxy", protocol: "TCP", port: 465, targetPort: 4465, nodePort: 30126 },
        { name: "sub-proxy", protocol: "TCP", port: 587, targetPort: 5587, nodePort: 30127 },
        { name: "imaps-proxy", protocol: "TCP", port: 993, targetPort: 10993, nodePort: 30128 },
        { name: "smtp-check", protocol: "TCP", port: 2500, targetPort: 25, nodePort: 30145 },
        { name: "smtps-check", protocol: "TCP", port: 4650, targetPort: 465, nodePort: 30146 },
        { name: "sub-check", protocol: "TCP", port: 5870, targetPort: 587, nodePort: 30147 },
      ]);
      assert.deepEqual(at(svc, "spec.selector"), at(deployment, "spec.template.metadata.labels"));
    });

    it("declares the PROXY listeners as container ports with names Kubernetes accepts", () => {
      const ports = container("docker-mailserver").ports ?? [];
      const proxy = ports.filter((p) => [2525, 4465, 5587, 10993].includes(p.containerPort));
      assert.deepEqual(
        proxy.map((p) => [p.name, p.containerPort]),
        [
          ["smtp-proxy", 2525],
          ["smtps-proxy", 4465],
          ["sub-proxy", 5587],
          ["imaps-proxy", 10993],
        ],
      );
      for (const p of ports) assert.match(p.name, /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/, p.name);
    });

    it("leaves the LoadBalancer Service without the PROXY ports (in-cluster clients send none)", () => {
      const lb = find(run, "kubernetes:core/v1:Service", "mailserver");
      const targets = at<{ targetPort: string }[]>(lb, "spec.ports").map((p) => p.targetPort);
      assert.deepEqual(targets, ["smtp", "submissions", "submission", "imaps"]);
    });

    it("is left out when the config has no proxy section", async () => {
      const raw = loadStackConfig("prod");
      const mail = JSON.parse(raw["mailserver:mailserver"]) as Record<string, unknown>;
      delete mail.proxy;
      const bare = await runProgram({
        config: { ...raw, "mailserver:mailserver": JSON.stringify(mail) },
      });
      const names = bare.resources
        .filter((r) => r.type === "kubernetes:core/v1:Service")
        .map((r) => (r.inputs.metadata as { name: string }).name);
      assert.ok(!names.includes("mailserver-proxy"), names.join(", "));
      const files = at<Record<string, string>>(find(bare, CM, "mailserver-config"), "data");
      assert.doesNotMatch(files["user-patches.sh"], /postconf/);
      assert.doesNotMatch(files["dovecot.cf"], /haproxy/);
    });
  });
});
