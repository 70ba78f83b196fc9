import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { Monitoring, probeSecretData, type MonitoringArgs } from "../../components/monitoring";
import { OBSERVED_SERVER_ANNOTATION } from "../../lib/charts/prometheus";
import { liveCluster, liveKey, type LiveCluster } from "../../tools/world/live-cluster";
import { observedServer } from "../policy/fixtures";
import { SHIPPED_ALERTS } from "./alerts";

const SECRETS = {
  mailgunApiKey: "key-PLACEHOLDER-mailgun-0123456789",
  imapPassword: "PLACEHOLDER-imap-password",
  uptimeKumaPushUrl: "https://uptime.example.org/api/push/PLACEHOLDERtoken",
};

const ARGS: MonitoringArgs = {
  namespace: "mailserver",
  deploymentName: "mailserver",
  podLabels: { app: "mailserver" },
  prometheus: {
    setup: "chart",
    namespace: "monitoring",
    serverDeployment: "prometheus-server",
    serverConfigMap: "prometheus-server",
    rulesMountPath: "/etc/mailserver-rules",
  },
  probe: {
    schedule: "*/20 * * * *",
    image: "docker.io/library/python:3.12-alpine",
    mailgunApiBase: "https://api.eu.mailgun.net",
    mailgunDomain: "viktorbarzin.me",
    recipient: "smoke-test@viktorbarzin.me",
    imapHost: "mailserver.mailserver.svc.cluster.local",
    imapTlsName: "mail.viktorbarzin.me",
    imapUser: "spam@viktorbarzin.me",
    pushgatewayUrl: "http://prometheus-pushgateway.monitoring:9091",
    secrets: {
      mailgunApiKey: pulumi.secret(SECRETS.mailgunApiKey),
      imapPassword: pulumi.secret(SECRETS.imapPassword),
      uptimeKumaPushUrl: pulumi.secret(SECRETS.uptimeKumaPushUrl),
    },
  },
};

interface Captured {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const isWireSecret = (v: unknown): boolean =>
  !!v &&
  typeof v === "object" &&
  (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;

/** The inputs with secrets unwrapped, for reading. */
function plain(v: unknown): unknown {
  if (isWireSecret(v)) return plain((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** The two CRDs an operator setup reads, as a cluster with the Prometheus Operator serves them. */
const OPERATOR_CRDS: LiveCluster = Object.fromEntries(
  ["prometheusrules", "podmonitors"].map((plural) => [
    liveKey(
      "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
      `${plural}.monitoring.coreos.com`,
    ),
    {
      metadata: { name: `${plural}.monitoring.coreos.com` },
      spec: { group: "monitoring.coreos.com" },
    },
  ]),
);

/** Renders the component; `.get()` reads are answered from `live` and recorded as `read:<id>`. */
async function render(
  args: MonitoringArgs,
  live: LiveCluster = liveCluster(),
): Promise<Captured[]> {
  const captured: Captured[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        if (a.id) {
          const found = live[liveKey(a.type, a.id)];
          if (!found) throw new Error(`${a.type} ${a.id} not found`);
          captured.push({ type: a.type, name: `read:${a.id}`, inputs: {} });
          return { id: a.id, state: structuredClone(found) };
        }
        captured.push({ type: a.type, name: a.name, inputs: a.inputs as Record<string, unknown> });
        return { id: `${a.name}-id`, state: a.inputs as Record<string, unknown> };
      },
      call: (a) => a.inputs as Record<string, unknown>,
    },
    "mailserver",
    "test",
    false,
  );
  new Monitoring("monitoring", args);
  // Every registration and read holds the runtime's RPC queue open until the mocks answered it:
  // once the queue drains, `captured` is complete.
  await pulumi.runtime.disconnect();
  return captured;
}

type Container = {
  image: string;
  command: string[];
  env: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  securityContext: Record<string, unknown>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
};

describe("Monitoring component", () => {
  let resources: Captured[];
  const one = (type: string, kind?: string) => {
    const found = resources.filter(
      (r) => r.type === type && (!kind || (r.inputs as { kind?: string }).kind === kind),
    );
    assert.equal(found.length, 1, `${type} ${kind ?? ""}`);
    return found[0];
  };
  const read = <T>(r: Captured, at: string): T =>
    at
      .split(".")
      .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], plain(r.inputs)) as T;

  before(async () => {
    resources = await render(ARGS);
  });

  type Groups = { rules: { alert: string; labels: { severity: string } }[] }[];

  describe("with the prometheus chart (setup: chart)", () => {
    it("ships the warning alerts as a rule file in a ConfigMap in the chart's namespace", () => {
      const cm = resources.find((r) => r.name === "monitoring-rules");
      assert.ok(cm);
      assert.equal(read(cm, "metadata.name"), "mailserver-prometheus-rules");
      assert.equal(read(cm, "metadata.namespace"), "monitoring");
      const file = read<Record<string, string>>(cm, "data")["mailserver.rules.yml"];
      const rules = (parse(file) as { groups: Groups }).groups.flatMap((g) => g.rules);
      assert.deepEqual(
        rules.map((r) => r.alert),
        SHIPPED_ALERTS,
      );
      assert.ok(rules.every((r) => r.labels.severity === "warning"));
    });

    it("reads the live server Deployment and its config, and records what it saw", () => {
      assert.ok(
        resources.some(
          (r) => r.name === "read:monitoring/prometheus-server" && r.type.endsWith("Deployment"),
        ),
      );
      assert.ok(
        resources.some(
          (r) => r.name === "read:monitoring/prometheus-server" && r.type.endsWith("ConfigMap"),
        ),
      );
      const cm = resources.find((r) => r.name === "monitoring-rules");
      assert.ok(cm);
      const observed = JSON.parse(
        read<Record<string, string>>(cm, "metadata.annotations")[OBSERVED_SERVER_ANNOTATION],
      ) as Record<string, unknown>;
      assert.deepEqual(observed, observedServer(), "what the pack tests feed the pack");
    });

    it("creates no PrometheusRule or PodMonitor, which that chart does not read", () => {
      assert.ok(!resources.some((r) => r.type.includes("monitoring.coreos.com")));
    });
  });

  describe("with a Prometheus Operator (setup: operator)", () => {
    let op: Captured[];
    before(async () => {
      op = await render(
        { ...ARGS, prometheus: { setup: "operator", ruleLabels: { release: "prometheus" } } },
        OPERATOR_CRDS,
      );
    });

    it("reads both CRDs, then creates the PrometheusRule with the same alerts", () => {
      for (const plural of ["prometheusrules", "podmonitors"]) {
        assert.ok(
          op.some((r) => r.name === `read:${plural}.monitoring.coreos.com`),
          plural,
        );
      }
      const rule = op.find((r) => r.type === "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
      assert.ok(rule);
      assert.equal(read(rule, "metadata.namespace"), "mailserver");
      assert.equal(read<Record<string, string>>(rule, "metadata.labels").release, "prometheus");
      const rules = read<Groups>(rule, "spec.groups").flatMap((g) => g.rules);
      assert.deepEqual(
        rules.map((r) => r.alert),
        SHIPPED_ALERTS,
      );
    });

    it("scrapes Dovecot's own metrics port through a PodMonitor", () => {
      const pm = op.find((r) => r.type === "kubernetes:monitoring.coreos.com/v1:PodMonitor");
      assert.ok(pm);
      assert.deepEqual(read(pm, "spec.selector"), { matchLabels: { app: "mailserver" } });
      assert.deepEqual(read(pm, "spec.podMetricsEndpoints"), [
        { port: "dovecot-metrics", path: "/metrics", interval: "60s" },
      ]);
    });

    it("ships no rules ConfigMap", () => {
      assert.ok(!op.some((r) => r.name === "monitoring-rules"));
    });
  });

  describe("probe CronJob", () => {
    let cron: Captured;
    let container: Container;
    before(() => {
      cron = one("kubernetes:batch/v1:CronJob");
      container = read<Container[]>(cron, "spec.jobTemplate.spec.template.spec.containers")[0];
    });

    it("runs every 20 minutes, never two at once, never retried", () => {
      assert.equal(read(cron, "metadata.name"), "email-roundtrip-monitor");
      assert.equal(read(cron, "spec.schedule"), "*/20 * * * *");
      assert.equal(read(cron, "spec.concurrencyPolicy"), "Forbid");
      assert.equal(read(cron, "spec.jobTemplate.spec.backoffLimit"), 0);
      const deadline = read<number>(cron, "spec.jobTemplate.spec.activeDeadlineSeconds");
      assert.ok(deadline > 300 && deadline < 20 * 60, `activeDeadlineSeconds ${deadline}`);
      assert.ok(read<number>(cron, "spec.startingDeadlineSeconds") > 0);
      assert.equal(read(cron, "spec.successfulJobsHistoryLimit"), 3);
      assert.equal(read(cron, "spec.failedJobsHistoryLimit"), 3);
    });

    it("runs the ConfigMap's script with the pinned image's python, installing nothing", () => {
      assert.equal(container.image, "docker.io/library/python:3.12-alpine");
      assert.deepEqual(container.command, ["python3", "/probe/email_roundtrip.py"]);
      const cm = resources.find((r) => r.name === "monitoring-probe-script");
      assert.ok(cm);
      const script = read<Record<string, string>>(cm, "data")["email_roundtrip.py"];
      assert.match(script, /def main\(\)/);
      assert.doesNotMatch(script, /pip install|apk add/);
    });

    it("runs as non-root with a read-only root filesystem and bounded resources", () => {
      const pod = read<Record<string, unknown>>(cron, "spec.jobTemplate.spec.template.spec");
      assert.equal((pod.securityContext as { runAsNonRoot: boolean }).runAsNonRoot, true);
      assert.equal(pod.automountServiceAccountToken, false);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
      assert.ok(container.resources.requests.memory && container.resources.limits.memory);
    });

    it("targets the EU Mailgun API, smoke-test@ and the spam@ mailbox over IMAPS", () => {
      const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
      assert.equal(env.MAILGUN_API_BASE, "https://api.eu.mailgun.net");
      assert.equal(env.PROBE_TO, "smoke-test@viktorbarzin.me");
      assert.equal(env.IMAP_USER, "spam@viktorbarzin.me");
      assert.equal(env.IMAP_HOST, "mailserver.mailserver.svc.cluster.local");
      assert.equal(env.IMAP_PORT, "993");
      assert.equal(env.PUSH_JOB, "email-roundtrip-monitor");
    });

    it("gets every credential through secretKeyRef to the component's Secret", () => {
      const secret = one("kubernetes:core/v1:Secret");
      const name = read<string>(secret, "metadata.name");
      const refs = container.env.filter((e) => e.valueFrom?.secretKeyRef);
      assert.deepEqual(
        refs.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.key]),
        [
          ["MAILGUN_API_KEY", name, "MAILGUN_API_KEY"],
          ["IMAP_PASSWORD", name, "IMAP_PASSWORD"],
          ["UPTIME_KUMA_PUSH_URL", name, "UPTIME_KUMA_PUSH_URL"],
        ],
      );
    });
  });

  describe("secrets", () => {
    it("sends the Secret's data to the engine as secret values", () => {
      const secret = one("kubernetes:core/v1:Secret");
      assert.ok(isWireSecret(secret.inputs.stringData), "stringData is not secret");
      assert.deepEqual(plain(secret.inputs.stringData), {
        MAILGUN_API_KEY: SECRETS.mailgunApiKey,
        IMAP_PASSWORD: SECRETS.imapPassword,
        UPTIME_KUMA_PUSH_URL: SECRETS.uptimeKumaPushUrl,
      });
    });

    it("marks each credential secret even when handed over as a plain string", async () => {
      const data = probeSecretData({ mailgunApiKey: "a", imapPassword: "b" });
      assert.deepEqual(Object.keys(data), ["MAILGUN_API_KEY", "IMAP_PASSWORD"]);
      for (const v of Object.values(data)) assert.equal(await pulumi.isSecret(v), true);
    });

    it("leaves no credential in any other resource (env literals, ConfigMap, CronJob)", () => {
      for (const r of resources.filter((x) => x.type !== "kubernetes:core/v1:Secret")) {
        const text = JSON.stringify(plain(r.inputs));
        for (const [name, value] of Object.entries(SECRETS)) {
          assert.ok(!text.includes(value), `${name} appears in ${r.type} ${r.name}`);
        }
      }
    });

    it("omits the Uptime Kuma key when no push URL is given", async () => {
      const { mailgunApiKey, imapPassword } = ARGS.probe.secrets;
      const secrets = { mailgunApiKey, imapPassword };
      const res = await render({ ...ARGS, probe: { ...ARGS.probe, secrets } });
      const secret = res.find((r) => r.type === "kubernetes:core/v1:Secret");
      assert.deepEqual(Object.keys(plain(secret?.inputs.stringData) as object).sort(), [
        "IMAP_PASSWORD",
        "MAILGUN_API_KEY",
      ]);
    });
  });
});
