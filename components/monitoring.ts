/**
 * Mail monitoring: the Prometheus alerts, the end-to-end roundtrip probe that feeds five of them,
 * and the delivery of both to the Prometheus the cluster runs: with the prometheus-community chart
 * (`setup: chart`) the rules go into a ConfigMap its server is checked to load and the mail pod is
 * scraped through its prometheus.io annotations; with a Prometheus Operator (`setup: operator`)
 * they are a PrometheusRule and a PodMonitor whose CRDs are checked to exist.
 *
 * The probe sends a mail through Mailgun's HTTP API to smoke-test@<domain>, waits for it over IMAPS
 * (the catch-all delivers it to the spam@ mailbox), deletes it and pushes its result to the
 * Pushgateway (and to an Uptime Kuma push monitor when one is given).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import {
  counterOf,
  DOVECOT_METRICS_PATH,
  DOVECOT_METRICS_PORT,
  DOVECOT_METRICS_PORT_NAME,
  dovecotAlertRules,
} from "../lib/dovecot-metrics";
import { literalEnv, secretEnv } from "../lib/env";
import {
  chartValues,
  OBSERVED_SERVER_ANNOTATION,
  observeServer,
  RULES_CONFIGMAP,
  RULES_FILE,
  SERVER_CONFIG_KEY,
} from "../lib/charts/prometheus";
import { COMPONENT_TYPE } from "../lib/component-types";

/**
 * Probe metrics, pushed by the script to the Pushgateway; the alerts read them. The names and the
 * push group (`job="email-roundtrip-monitor"`, POST) are the Terraform-era probe's, which the live
 * rules read (ViktorBarzin/infra stacks/monitoring/modules/monitoring/prometheus_chart_values.tpl,
 * EmailRoundtripStale): a renamed metric would leave the old series frozen in the persisted
 * Pushgateway group and the live Stale alert firing forever.
 */
export const METRICS = {
  success: "email_roundtrip_success",
  lastSuccess: "email_roundtrip_last_success_timestamp",
  /**
   * notAfter of the certificate the mail server presented on the probe's IMAPS connection, in
   * seconds since the epoch (Prometheus' `_timestamp_seconds` convention). New with this program:
   * the cluster's `tls-secret` is renewed outside it (Woodpecker's renew-tls, synced by Kyverno),
   * so the certificate actually served is what this checks, whoever renews it.
   */
  certExpiry: "email_roundtrip_imaps_certificate_expiry_timestamp_seconds",
} as const;

export const PROBE_NAME = "email-roundtrip-monitor";

/**
 * EmailRoundtripStale's threshold. A run's success is stamped when it ends: at most
 * startingDeadlineSeconds + activeDeadlineSeconds (780 s) after its scheduled time. After ONE failed
 * run on the 20-minute schedule the newest success is therefore at most 2 x 1200 + 780 = 3180 s old
 * when the next one lands, plus a scrape and an evaluation interval (1 m each): 3300 s. Over
 * 3600 s means two runs in a row failed or none ran; tests/monitoring/ proves both timings.
 */
export const STALE_AFTER_SECONDS = 3600;

/**
 * MailCertificateExpiresSoon fires this many days before the served certificate's notAfter.
 * Woodpecker's renew-tls issues a fresh 90-day certificate every week (ViktorBarzin/infra
 * .woodpecker/renew-tls.yml, `certbot certonly` on the weekly `renew-tls-certificate` cron), so
 * under 14 days means about ten weeks of failed renewals or a server still presenting an old file.
 */
export const CERT_EXPIRY_WARNING_DAYS = 14;

export const PROBE_SCRIPT_FILE = "email_roundtrip.py";
/** The probe's Python source (standard library only), shipped in a ConfigMap. */
export const PROBE_SCRIPT = fs.readFileSync(
  path.join(__dirname, "probe", PROBE_SCRIPT_FILE),
  "utf8",
);

export interface ProbeSecrets {
  mailgunApiKey: pulumi.Input<string>;
  /** Password of the IMAP user (the catch-all's spam@ mailbox). */
  imapPassword: pulumi.Input<string>;
  /** Uptime Kuma push monitor URL (it holds the monitor's token). */
  uptimeKumaPushUrl?: pulumi.Input<string>;
}

export interface ProbeArgs {
  /** Cron schedule. Every 20 minutes is 72 mails a day, inside Mailgun's 100/day free tier. */
  schedule: string;
  /** Pinned image with python3 and CA certificates, e.g. docker.io/library/python:3.12.8-alpine. */
  image: string;
  /** Mailgun API base URL: https://api.eu.mailgun.net or https://api.mailgun.net. */
  mailgunApiBase: string;
  /** Mailgun sending domain; the probe sends from e2e-probe@<this>. */
  mailgunDomain: string;
  /** Where the probe mails, e.g. smoke-test@viktorbarzin.me (caught by the catch-all). */
  recipient: string;
  /** In-cluster host of the mail Service (IMAPS on 993). */
  imapHost: pulumi.Input<string>;
  /** Name on the mail server's certificate, e.g. mail.viktorbarzin.me. */
  imapTlsName: string;
  /** Mailbox the catch-all delivers to, e.g. spam@viktorbarzin.me. */
  imapUser: string;
  /** Pushgateway base URL, e.g. http://prometheus-pushgateway.monitoring:9091. */
  pushgatewayUrl: string;
  secrets: ProbeSecrets;
}

/**
 * The prometheus-community `prometheus` chart's server, which loads the rules from a ConfigMap it
 * mounts and scrapes annotated pods.
 */
export interface PrometheusChartArgs {
  setup: "chart";
  /** Namespace of the chart's release; the rules ConfigMap goes there. */
  namespace: string;
  /** The chart's server Deployment (`<release>-server`), read at preview. */
  serverDeployment: string;
  /** The server's config ConfigMap, read at preview. */
  serverConfigMap: string;
  /** Where the server mounts the rules ConfigMap. */
  rulesMountPath: string;
}

/** A Prometheus Operator, which reads PrometheusRule and PodMonitor objects. */
export interface PrometheusOperatorArgs {
  setup: "operator";
  /** Labels the operator's ruleSelector and podMonitorSelector require. */
  ruleLabels: Record<string, string>;
}

export type PrometheusArgs = PrometheusChartArgs | PrometheusOperatorArgs;

export interface MonitoringArgs {
  /** Mail namespace; pass the MailServer's output so these resources wait for the namespace. */
  namespace: pulumi.Input<string>;
  /** docker-mailserver Deployment watched by MailServerDown (MailServer.deploymentName). */
  deploymentName: pulumi.Input<string>;
  /** Labels of the mail pod (MailServer.podLabels); the PodMonitor selects on them. */
  podLabels: Record<string, string>;
  /** Which Prometheus reads the rules and scrapes the pod. */
  prometheus: PrometheusArgs;
  probe: ProbeArgs;
}

/**
 * Pod annotations the chart's `kubernetes-pods` job scrapes on (prometheus.io/scrape, port, path:
 * its relabel_configs in ViktorBarzin/infra prometheus_chart_values.tpl); none for an operator,
 * which scrapes through the PodMonitor.
 */
export function scrapeAnnotations(prometheus: PrometheusArgs): Record<string, string> {
  if (prometheus.setup !== "chart") return {};
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(DOVECOT_METRICS_PORT),
    "prometheus.io/path": DOVECOT_METRICS_PATH,
  };
}

/** The rule file as the chart's server loads it; promtool checks exactly this text. */
export function ruleFileText(groups: RuleGroup[]): string {
  return stringify({ groups });
}

const PROBE_TIMING = {
  pollTimeoutSeconds: 300,
  pollIntervalSeconds: 15,
  // Above the poll timeout plus sending and pushing: a hung run is killed before the next one.
  activeDeadlineSeconds: 480,
} as const;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}
export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** The alert groups, whichever way they ship. */
export function alertRuleGroups(args: { namespace: string; deploymentName: string }): RuleGroup[] {
  const labels = { severity: "warning" };
  const deployment = `namespace="${args.namespace}", deployment="${args.deploymentName}"`;
  const job = `{job="${PROBE_NAME}"}`;
  return [
    {
      name: "mailserver",
      rules: [
        {
          alert: "MailServerDown",
          // `or on() vector(0)`: a missing series (deployment deleted, kube-state-metrics down)
          // counts as no replica, as in the live rule.
          expr: `(kube_deployment_status_replicas_available{${deployment}} or on() vector(0)) < 1`,
          for: "5m",
          labels,
          annotations: {
            summary: "Mail server has no available replica",
            description: `Deployment ${args.namespace}/${args.deploymentName} has had no available replica for 5 minutes: no SMTP or IMAP. Sending MTAs queue and retry for days.`,
          },
        },
        {
          alert: "EmailRoundtripFailing",
          expr: `${METRICS.success}${job} == 0`,
          // One failed run holds 0 for at most 1200 + 780 s plus scrape lag (35 m): not an outage.
          for: "40m",
          labels,
          annotations: {
            summary: "End-to-end mail probe failing",
            description: `Every ${PROBE_NAME} run for 40 minutes failed to get its Mailgun test mail delivered over IMAP. Check the CronJob's job logs, Mailgun (HTTP 429 = quota) and inbound port 25.`,
          },
        },
        {
          alert: "EmailRoundtripStale",
          expr: `time() - ${METRICS.lastSuccess}${job} > ${STALE_AFTER_SECONDS}`,
          labels,
          annotations: {
            summary: "No successful mail roundtrip for over 60 minutes",
            description: `The last successful ${PROBE_NAME} run is over 60 minutes old: at least two runs in a row failed or none ran (suspended CronJob, jobs not starting).`,
          },
        },
        {
          alert: "MailCertificateExpiresSoon",
          // A probe gap is at most 2 x 1200 + 780 s + a scrape (STALE_AFTER_SECONDS): over it the
          // last value read stands in, so a Pushgateway that lost its group (no persistence, a
          // restart) neither resolves nor re-arms the alert before the next run pushes again.
          // No series at all (never read) is left to EmailRoundtripNeverRun/Stale.
          expr: `last_over_time(${METRICS.certExpiry}${job}[${STALE_AFTER_SECONDS}s]) - time() < ${CERT_EXPIRY_WARNING_DAYS} * 86400`,
          // The same gap again: a value one run read is superseded by a later run before it pages.
          for: "1h",
          labels,
          annotations: {
            summary: `Mail server certificate expires in under ${CERT_EXPIRY_WARNING_DAYS} days`,
            description: `The certificate the mail server presents on IMAPS (as ${PROBE_NAME} saw it) expires in {{ $value | humanizeDuration }}. The cluster's tls-secret is renewed weekly by Woodpecker's renew-tls (failures go to Slack) and copied into every namespace by Kyverno's sync-tls-secret: check that pipeline, tls-secret in namespace ${args.namespace}, and that the mail pod reloaded it.`,
          },
        },
        {
          alert: "EmailRoundtripNeverRun",
          expr: `absent(${METRICS.success}${job})`,
          for: "40m",
          labels,
          annotations: {
            summary: "Mail roundtrip probe has never reported",
            description: `${METRICS.success} has been absent from the Pushgateway for 40 minutes: the ${PROBE_NAME} CronJob never pushed (or the Pushgateway lost its data).`,
          },
        },
      ],
    },
    {
      name: "mailserver-dovecot",
      rules: [
        ...dovecotAlertRules({ namespace: args.namespace }),
        dovecotCountersStillRule(args.namespace, job),
      ],
    },
  ];
}

/** The window over which Dovecot's login counter must move while the probe succeeds. */
export const COUNTERS_STILL_WINDOW = "2h";

/**
 * Dovecot's counters standing still while the probe logs in. The probe's IMAP login every
 * 20 minutes is a successful `auth_request_finished` (lib/dovecot-metrics.ts), so over 2 hours
 * with a newer successful roundtrip `dovecot_auth_success_total` must rise. It stays flat when
 * Dovecot serves its metrics but no process reaches the stats-writer socket: docker-mailserver
 * 15.0.0's appended `stats_writer_socket_path=` (target/scripts/startup/setup.d/dovecot.sh:55-57)
 * does exactly that, and then DovecotAuthFailureBurst cannot fire while DovecotMetricsMissing
 * stays quiet. A failing probe proves nothing about the counters: the alert needs the success
 * timestamp to have changed in the window.
 */
function dovecotCountersStillRule(namespace: string, job: string): AlertRule {
  const w = COUNTERS_STILL_WINDOW;
  return {
    alert: "DovecotCountersNotMoving",
    expr: `(sum by (namespace) (increase(${counterOf("auth_success")}{namespace="${namespace}"}[${w}])) == 0) and on() (changes(${METRICS.lastSuccess}${job}[${w}]) > 0)`,
    // One more probe run has to log in without the counter moving.
    for: "20m",
    labels: { severity: "warning" },
    annotations: {
      summary: "Dovecot's counters do not move while the mail probe logs in",
      description: `${counterOf("auth_success")} in namespace ${namespace} did not increase in ${w} although ${PROBE_NAME} logged in over IMAP and succeeded. Dovecot serves its metrics but no process reports to its stats process (check \`doveconf -h stats_writer_socket_path\` in the mail pod: empty means docker-mailserver's line was not removed), so DovecotAuthFailureBurst cannot fire.`,
    },
  };
}

/** Non-secret settings of the probe container. */
export function probeEnv(probe: ProbeArgs): k8s.types.input.core.v1.EnvVar[] {
  const plain: Record<string, pulumi.Input<string>> = {
    MAILGUN_API_BASE: probe.mailgunApiBase,
    MAILGUN_DOMAIN: probe.mailgunDomain,
    PROBE_FROM: `e2e-probe@${probe.mailgunDomain}`,
    PROBE_TO: probe.recipient,
    IMAP_HOST: probe.imapHost,
    IMAP_PORT: "993",
    IMAP_TLS_NAME: probe.imapTlsName,
    IMAP_USER: probe.imapUser,
    PUSHGATEWAY_URL: probe.pushgatewayUrl,
    PUSH_JOB: PROBE_NAME,
    POLL_TIMEOUT_SECONDS: String(PROBE_TIMING.pollTimeoutSeconds),
    POLL_INTERVAL_SECONDS: String(PROBE_TIMING.pollIntervalSeconds),
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
  };
  return literalEnv(plain);
}

/** Secret env var name -> the probe secret it carries. */
export function probeSecretData(secrets: ProbeSecrets): Record<string, pulumi.Output<string>> {
  const data: Record<string, pulumi.Output<string>> = {
    MAILGUN_API_KEY: pulumi.secret(secrets.mailgunApiKey),
    IMAP_PASSWORD: pulumi.secret(secrets.imapPassword),
  };
  if (secrets.uptimeKumaPushUrl !== undefined) {
    data.UPTIME_KUMA_PUSH_URL = pulumi.secret(secrets.uptimeKumaPushUrl);
  }
  return data;
}

export class Monitoring extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.monitoring;
  /** The ConfigMap (chart) or PrometheusRule (operator) that carries the alerts. */
  public readonly rulesName: pulumi.Output<string>;
  public readonly cronJobName: pulumi.Output<string>;
  /** Chart values the monitoring stack needs (chart setup only; see lib/charts/prometheus.ts). */
  public readonly chartValues?: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Monitoring.TYPE, name, {}, opts);
    const groups = pulumi
      .all([args.namespace, args.deploymentName])
      .apply(([namespace, deploymentName]) => alertRuleGroups({ namespace, deploymentName }));
    const p = args.prometheus;
    if (p.setup === "chart") {
      this.rulesName = this.chartRules(name, p, groups);
      this.chartValues = pulumi.output(chartValues(p.rulesMountPath));
    } else {
      this.rulesName = this.operatorObjects(name, args, p.ruleLabels, groups);
    }
    this.cronJobName = this.probe(name, args.namespace, args.probe).metadata.name;
    this.registerOutputs({
      rulesName: this.rulesName,
      cronJobName: this.cronJobName,
      chartValues: this.chartValues,
    });
  }

  /**
   * The rules ConfigMap in the chart's namespace. The live server Deployment and its config are
   * read at preview and what was read is recorded on the ConfigMap; the policy pack refuses the
   * preview while the server would not load the file.
   */
  private chartRules(
    name: string,
    p: PrometheusChartArgs,
    groups: pulumi.Output<RuleGroup[]>,
  ): pulumi.Output<string> {
    const serverId = `${p.namespace}/${p.serverDeployment}`;
    const server = k8s.apps.v1.Deployment.get(`${name}-prometheus-server`, serverId, {
      parent: this,
    });
    // prometheus.yml may carry scrape credentials: whatever is read stays secret in the state.
    const serverConfig = k8s.core.v1.ConfigMap.get(
      `${name}-prometheus-server-config`,
      `${p.namespace}/${p.serverConfigMap}`,
      { parent: this, additionalSecretOutputs: ["data"] },
    );
    // The pack (prometheus-reads-monitoring) refuses the preview while the server would not load
    // the rules, naming the chart values to add: the preview still shows everything else.
    const observed = pulumi
      .all([server.spec, serverConfig.data])
      .apply(([spec, data]) =>
        JSON.stringify(observeServer(serverId, spec, data?.[SERVER_CONFIG_KEY], RULES_CONFIGMAP)),
      );
    const cm = new k8s.core.v1.ConfigMap(
      `${name}-rules`,
      {
        metadata: {
          name: RULES_CONFIGMAP,
          namespace: p.namespace,
          labels: { "app.kubernetes.io/part-of": "mailserver" },
          // Paths and rule_files only: nothing secret, so the pack can read it.
          annotations: { [OBSERVED_SERVER_ANNOTATION]: pulumi.unsecret(observed) },
        },
        data: { [RULES_FILE]: groups.apply(ruleFileText) },
      },
      { parent: this },
    );
    return cm.metadata.name;
  }

  /** PrometheusRule and PodMonitor, after reading their CRDs so a cluster without them fails the preview. */
  private operatorObjects(
    name: string,
    args: MonitoringArgs,
    ruleLabels: Record<string, string>,
    groups: pulumi.Output<RuleGroup[]>,
  ): pulumi.Output<string> {
    const crds = ["prometheusrules", "podmonitors"].map((plural) =>
      k8s.apiextensions.v1.CustomResourceDefinition.get(
        `${name}-${plural}-crd`,
        `${plural}.monitoring.coreos.com`,
        { parent: this },
      ),
    );
    const labels = { ...ruleLabels, "app.kubernetes.io/part-of": "mailserver" };
    const namespace = args.namespace;
    const rule = new k8s.apiextensions.CustomResource(
      `${name}-alerts`,
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: "mailserver-alerts", namespace, labels },
        spec: { groups },
      },
      { parent: this, dependsOn: crds },
    );
    new k8s.apiextensions.CustomResource(
      `${name}-dovecot-metrics`,
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata: { name: "mailserver-dovecot", namespace, labels },
        spec: {
          selector: { matchLabels: args.podLabels },
          podMetricsEndpoints: [
            { port: DOVECOT_METRICS_PORT_NAME, path: DOVECOT_METRICS_PATH, interval: "60s" },
          ],
        },
      },
      { parent: this, dependsOn: crds },
    );
    return rule.metadata.name;
  }

  private probe(
    name: string,
    namespace: pulumi.Input<string>,
    probe: ProbeArgs,
  ): k8s.batch.v1.CronJob {
    const labels = { app: PROBE_NAME };
    const meta = { name: PROBE_NAME, namespace, labels };
    const script = new k8s.core.v1.ConfigMap(
      `${name}-probe-script`,
      { metadata: meta, data: { [PROBE_SCRIPT_FILE]: PROBE_SCRIPT } },
      { parent: this },
    );
    const secretData = probeSecretData(probe.secrets);
    const secret = new k8s.core.v1.Secret(
      `${name}-probe-credentials`,
      { metadata: meta, type: "Opaque", stringData: secretData },
      { parent: this },
    );
    // Each variable is read from the Secret key of the same name.
    const credentials = secretEnv(
      secret.metadata.name,
      Object.fromEntries(Object.keys(secretData).map((key) => [key, key])),
    );

    return new k8s.batch.v1.CronJob(
      `${name}-probe`,
      {
        metadata: meta,
        spec: {
          schedule: probe.schedule,
          timeZone: "Etc/UTC",
          concurrencyPolicy: "Forbid",
          // A run more than 5 minutes late is skipped: the next one is due soon after.
          startingDeadlineSeconds: 300,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            metadata: { labels },
            spec: {
              // No retry: each attempt spends one mail of the Mailgun quota.
              backoffLimit: 0,
              activeDeadlineSeconds: PROBE_TIMING.activeDeadlineSeconds,
              template: {
                metadata: { labels },
                spec: {
                  restartPolicy: "Never",
                  automountServiceAccountToken: false,
                  securityContext: {
                    runAsNonRoot: true,
                    runAsUser: 65534,
                    runAsGroup: 65534,
                    seccompProfile: { type: "RuntimeDefault" },
                  },
                  containers: [
                    {
                      name: "probe",
                      image: probe.image,
                      command: ["python3", `/probe/${PROBE_SCRIPT_FILE}`],
                      env: [...probeEnv(probe), ...credentials],
                      resources: {
                        requests: { cpu: "10m", memory: "32Mi" },
                        limits: { memory: "64Mi" },
                      },
                      securityContext: {
                        allowPrivilegeEscalation: false,
                        readOnlyRootFilesystem: true,
                        capabilities: { drop: ["ALL"] },
                      },
                      volumeMounts: [{ name: "script", mountPath: "/probe", readOnly: true }],
                    },
                  ],
                  volumes: [
                    {
                      name: "script",
                      configMap: { name: script.metadata.name, defaultMode: 0o444 },
                    },
                  ],
                },
              },
            },
          },
        },
      },
      { parent: this },
    );
  }
}
