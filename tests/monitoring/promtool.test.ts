/**
 * The alert rules exactly as the program ships them, checked by the real Prometheus tool: the rule
 * file of the prod plan's ConfigMap (chart setup) and the PrometheusRule's groups (operator setup)
 * go through `promtool check rules`; `promtool test rules` puts each alert just before and at its
 * threshold.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { METRICS, type RuleGroup } from "../../components/monitoring";
import { RULES_FILE } from "../../lib/charts/prometheus";
import { operatorCrds } from "../../tools/world/live-cluster";
import { at, find, loadStackConfig, prodRun, runProgram } from "../helpers/program";
import { requireTool } from "../helpers/tools";
import { SHIPPED_ALERTS } from "./alerts";

const NS = "mailserver";
const DEPLOYMENT = "mailserver";

const LIVE_ALERTS = ["LiveEmailRoundtripStale", "LiveEmailRoundtripNeverRun"] as const;
type AlertName = (typeof SHIPPED_ALERTS)[number] | (typeof LIVE_ALERTS)[number];

interface AlertRuleTest {
  alertname: AlertName;
  eval_time: string;
  exp_alerts: unknown[];
}
interface UnitTest {
  name: string;
  interval: string;
  input_series: { series: string; values: string }[];
  alert_rule_test: AlertRuleTest[];
}

/**
 * The annotations each shipped alert must fire with, written out as the contract (copied once from
 * components/monitoring.ts for namespace and deployment "mailserver"; never read back from the
 * rules under test). MailCertificateExpiresSoon renders its value: see certExpiresSoon.
 */
const ANNOTATIONS = {
  MailServerDown: {
    summary: "Mail server has no available replica",
    description:
      "Deployment mailserver/mailserver has had no available replica for 5 minutes: no SMTP or IMAP. Sending MTAs queue and retry for days.",
  },
  EmailRoundtripFailing: {
    summary: "End-to-end mail probe failing",
    description:
      "Every email-roundtrip-monitor run for 40 minutes failed to get its Mailgun test mail delivered over IMAP. Check the CronJob's job logs, Mailgun (HTTP 429 = quota) and inbound port 25.",
  },
  EmailRoundtripStale: {
    summary: "No successful mail roundtrip for over 60 minutes",
    description:
      "The last successful email-roundtrip-monitor run is over 60 minutes old: at least two runs in a row failed or none ran (suspended CronJob, jobs not starting).",
  },
  EmailRoundtripNeverRun: {
    summary: "Mail roundtrip probe has never reported",
    description:
      "email_roundtrip_success has been absent from the Pushgateway for 40 minutes: the email-roundtrip-monitor CronJob never pushed (or the Pushgateway lost its data).",
  },
  DovecotAuthFailureBurst: {
    summary: "Burst of failed mail logins",
    description:
      "More than 30 failed Dovecot logins in 15m across all clients (for 5m). CrowdSec bans single IPs after 4 failures in 6 minutes; check `cscli alerts list` and `cscli decisions list`, and the mail log for the sources: a spread-out attack or a CrowdSec agent that stopped reading the mail logs.",
  },
  DovecotMetricsMissing: {
    summary: "Dovecot metrics are not scraped",
    description:
      "No dovecot_build_info from namespace mailserver for 15 minutes: the mail pod is down, its prometheus.io scrape annotations or stats listener changed, or Prometheus no longer scrapes it. DovecotAuthFailureBurst cannot fire meanwhile.",
  },
  DovecotCountersNotMoving: {
    summary: "Dovecot's counters do not move while the mail probe logs in",
    description:
      "dovecot_auth_success_total in namespace mailserver did not increase in 2h although email-roundtrip-monitor logged in over IMAP and succeeded. Dovecot serves its metrics but no process reports to its stats process (check `doveconf -h stats_writer_socket_path` in the mail pod: empty means docker-mailserver's line was not removed), so DovecotAuthFailureBurst cannot fire.",
  },
} as const;

const JOB = { job: "email-roundtrip-monitor" };
const REPLICAS = `kube_deployment_status_replicas_available{namespace="${NS}",deployment="${DEPLOYMENT}"}`;
const selector = (metric: string, labels: Record<string, string>) =>
  `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

/** A shipped alert as it must fire: every one carries severity "warning", plus the series' labels. */
function firing(name: keyof typeof ANNOTATIONS, seriesLabels: Record<string, string>) {
  return {
    exp_labels: { ...seriesLabels, severity: "warning" },
    exp_annotations: ANNOTATIONS[name],
  };
}

/** Values of a probe that succeeds every 20 minutes, one sample a minute for `minutes`. */
function healthyLastSuccess(minutes: number): string {
  return Array.from({ length: minutes + 1 }, (_, m) => String(Math.floor(m / 20) * 1200)).join(" ");
}

/**
 * One sample a minute of the last-success gauge as Prometheus scrapes it from the Pushgateway:
 * `stamps` are the seconds at which successful runs pushed; each becomes visible one scrape (1 m)
 * after its push.
 */
function lastSuccessSeries(stamps: number[], minutes: number): string {
  return Array.from({ length: minutes + 1 }, (_, m) => {
    const seen = stamps.filter((t) => t + 60 <= m * 60);
    return seen.length ? String(Math.max(...seen)) : "_";
  }).join(" ");
}

/** One sample a minute of the success gauge: each run's result visible a minute after it ends. */
function successSeries(runs: { end: number; ok: boolean }[], minutes: number): string {
  return Array.from({ length: minutes + 1 }, (_, m) => {
    const done = runs.filter((r) => r.end + 60 <= m * 60);
    return done.length ? (done[done.length - 1].ok ? "1" : "0") : "_";
  }).join(" ");
}

/** The latest a run can push: scheduled time + startingDeadlineSeconds + activeDeadlineSeconds. */
const LATE = 300 + 480;
/** The earliest a successful run can push: the mail needs a few seconds. */
const EARLY = 20;
const none = (alertname: AlertName, times: number[]): AlertRuleTest[] =>
  times.map((t) => ({ alertname, eval_time: `${t}m`, exp_alerts: [] }));

const LIVE_RULES = "live-rules.yaml";
/**
 * The alert expressions the live Prometheus evaluates today (ViktorBarzin/infra
 * stacks/monitoring/modules/monitoring/prometheus_chart_values.tpl, group "Application Health"):
 * the consumer of the probe's metrics until the cutover moves the rules. Thresholds as there.
 */
const liveGroups = [
  {
    name: "live-terraform-rules",
    rules: [
      {
        alert: "LiveEmailRoundtripStale",
        expr: 'time() - email_roundtrip_last_success_timestamp{job="email-roundtrip-monitor"} > 3600',
        for: "20m",
      },
      {
        alert: "LiveEmailRoundtripNeverRun",
        expr: 'absent(email_roundtrip_success{job="email-roundtrip-monitor"})',
        for: "60m",
      },
    ],
  },
];

const FAILURES = `dovecot_auth_failures_total{namespace="${NS}",pod="mailserver-7d9c-x2"}`;
const BUILD_INFO = `dovecot_build_info{namespace="${NS}",pod="mailserver-7d9c-x2",version="2.3.19.1"}`;
const perMinute = (n: number, minutes: number) => `0+${n}x${minutes}`;

/** The probe's new series, written out: the served certificate's notAfter, seconds since the epoch. */
const CERT_EXPIRY =
  'email_roundtrip_imaps_certificate_expiry_timestamp_seconds{job="email-roundtrip-monitor"}';
const DAY = 86400;
/** MailCertificateExpiresSoon as it must fire, with the remaining time Prometheus renders. */
function certExpiresSoon(remaining: string) {
  return {
    exp_labels: { job: "email-roundtrip-monitor", severity: "warning" },
    exp_annotations: {
      summary: "Mail server certificate expires in under 14 days",
      description: `The certificate the mail server presents on IMAPS (as email-roundtrip-monitor saw it) expires in ${remaining}. The cluster's tls-secret is renewed weekly by Woodpecker's renew-tls (failures go to Slack) and copied into every namespace by Kyverno's sync-tls-secret: check that pipeline, tls-secret in namespace mailserver, and that the mail pod reloaded it.`,
    },
  };
}

/** Dovecot's login counter and the probe's success time, written out. */
const AUTH_SUCCESS = `dovecot_auth_success_total{namespace="${NS}",pod="mailserver-7d9c-x2"}`;
const LAST_SUCCESS = 'email_roundtrip_last_success_timestamp{job="email-roundtrip-monitor"}';
/** One more login each 20-minute run, one sample a minute. */
function loginsEveryRun(minutes: number, from = 0): string {
  return Array.from({ length: minutes + 1 }, (_, m) => String(from + Math.floor(m / 20))).join(" ");
}
const COUNTERS_NOT_MOVING = firing("DovecotCountersNotMoving", { namespace: NS });

/** The promtool unit tests; each alert's `it` runs its own checks out of every case. */
const CASES: UnitTest[] = [
  {
    name: "MailServerDown after 5 minutes without an available replica, and only for mailserver",
    interval: "1m",
    input_series: [
      { series: REPLICAS, values: "1 1 0x20" },
      {
        series: `kube_deployment_status_replicas_available{namespace="${NS}",deployment="roundcubemail"}`,
        values: "0x20",
      },
    ],
    alert_rule_test: [
      { alertname: "MailServerDown", eval_time: "6m", exp_alerts: [] },
      {
        alertname: "MailServerDown",
        eval_time: "7m",
        exp_alerts: [firing("MailServerDown", { namespace: NS, deployment: DEPLOYMENT })],
      },
    ],
  },
  {
    name: "MailServerDown also when the deployment has no series at all",
    interval: "1m",
    input_series: [{ series: 'up{job="kube-state-metrics"}', values: "1x20" }],
    alert_rule_test: [
      { alertname: "MailServerDown", eval_time: "4m", exp_alerts: [] },
      {
        alertname: "MailServerDown",
        eval_time: "5m",
        exp_alerts: [firing("MailServerDown", {})],
      },
    ],
  },
  {
    name: "EmailRoundtripFailing after 40 minutes of failed runs",
    interval: "1m",
    input_series: [{ series: selector(METRICS.success, JOB), values: "1 1 0x60" }],
    alert_rule_test: [
      { alertname: "EmailRoundtripFailing", eval_time: "41m", exp_alerts: [] },
      {
        alertname: "EmailRoundtripFailing",
        eval_time: "42m",
        exp_alerts: [firing("EmailRoundtripFailing", JOB)],
      },
    ],
  },
  {
    name: "EmailRoundtripStale once the last success is over 60 minutes old",
    interval: "1m",
    // Last success at 10m (600 s after the epoch the test starts at).
    input_series: [{ series: selector(METRICS.lastSuccess, JOB), values: "600x90" }],
    alert_rule_test: [
      { alertname: "EmailRoundtripStale", eval_time: "70m", exp_alerts: [] },
      {
        alertname: "EmailRoundtripStale",
        eval_time: "71m",
        exp_alerts: [firing("EmailRoundtripStale", JOB)],
      },
    ],
  },
  {
    // Worst case of one failure on the */20 schedule: run 0 pushes early, run 1 fails early,
    // run 2 pushes as late as its deadlines allow, run 3 and on are on time.
    name: "one failed run fires neither Stale nor Failing, even when the next success is late",
    interval: "1m",
    input_series: [
      {
        series: selector(METRICS.lastSuccess, JOB),
        values: lastSuccessSeries([EARLY, 2400 + LATE, 3600 + EARLY, 4800 + EARLY], 100),
      },
      {
        series: selector(METRICS.success, JOB),
        values: successSeries(
          [
            { end: EARLY, ok: true },
            { end: 1200 + EARLY, ok: false },
            { end: 2400 + LATE, ok: true },
            { end: 3600 + EARLY, ok: true },
            { end: 4800 + EARLY, ok: true },
          ],
          100,
        ),
      },
    ],
    alert_rule_test: [
      ...none("EmailRoundtripStale", [40, 50, 53, 54, 55, 56, 60, 80, 100]),
      ...none("EmailRoundtripFailing", [40, 50, 54, 55, 56, 60, 80, 100]),
      ...none("LiveEmailRoundtripStale", [55, 75, 100]),
    ],
  },
  {
    name: "two failed runs in a row fire Stale a minute past 60 minutes, and Failing",
    interval: "1m",
    input_series: [
      { series: selector(METRICS.lastSuccess, JOB), values: lastSuccessSeries([EARLY], 80) },
      {
        series: selector(METRICS.success, JOB),
        values: successSeries(
          [
            { end: EARLY, ok: true },
            { end: 1200 + EARLY, ok: false },
            { end: 2400 + EARLY, ok: false },
            { end: 3600 + LATE, ok: true },
          ],
          80,
        ),
      },
    ],
    alert_rule_test: [
      ...none("EmailRoundtripStale", [60]),
      {
        alertname: "EmailRoundtripStale",
        eval_time: "61m",
        exp_alerts: [firing("EmailRoundtripStale", JOB)],
      },
      ...none("EmailRoundtripFailing", [61]),
      {
        alertname: "EmailRoundtripFailing",
        eval_time: "62m",
        exp_alerts: [firing("EmailRoundtripFailing", JOB)],
      },
    ],
  },
  {
    name: "EmailRoundtripNeverRun after 40 minutes without the success metric",
    interval: "1m",
    input_series: [{ series: 'up{job="pushgateway"}', values: "1x60" }],
    alert_rule_test: [
      { alertname: "EmailRoundtripNeverRun", eval_time: "39m", exp_alerts: [] },
      {
        alertname: "EmailRoundtripNeverRun",
        eval_time: "40m",
        exp_alerts: [firing("EmailRoundtripNeverRun", JOB)],
      },
    ],
  },
  {
    name: "DovecotAuthFailureBurst: a burst of failed logins fires after its for: window",
    interval: "1m",
    // Quiet for 10 minutes, then 10 failed logins a minute across all sources.
    input_series: [{ series: FAILURES, values: "0x10 10+10x50" }],
    alert_rule_test: [
      { alertname: "DovecotAuthFailureBurst", eval_time: "10m", exp_alerts: [] },
      // Over the threshold within minutes, but pending for the rule's for: window.
      { alertname: "DovecotAuthFailureBurst", eval_time: "15m", exp_alerts: [] },
      {
        alertname: "DovecotAuthFailureBurst",
        eval_time: "30m",
        exp_alerts: [firing("DovecotAuthFailureBurst", { namespace: NS })],
      },
    ],
  },
  {
    name: "DovecotAuthFailureBurst: the usual trickle of typos stays quiet",
    interval: "1m",
    // One failure a minute is 15 in the window, half the threshold.
    input_series: [{ series: FAILURES, values: perMinute(1, 120) }],
    alert_rule_test: ["30m", "60m", "120m"].map((eval_time): AlertRuleTest => ({
      alertname: "DovecotAuthFailureBurst",
      eval_time,
      exp_alerts: [],
    })),
  },
  {
    name: "DovecotMetricsMissing after 15 minutes without Dovecot's build info",
    interval: "1m",
    input_series: [
      { series: BUILD_INFO, values: "1x5" },
      { series: 'up{job="kubernetes-pods"}', values: "1x40" },
    ],
    alert_rule_test: [
      { alertname: "DovecotMetricsMissing", eval_time: "5m", exp_alerts: [] },
      // Stale 5 minutes after the last sample (10m), then 15 minutes pending.
      { alertname: "DovecotMetricsMissing", eval_time: "24m", exp_alerts: [] },
      {
        alertname: "DovecotMetricsMissing",
        eval_time: "27m",
        exp_alerts: [firing("DovecotMetricsMissing", { namespace: NS })],
      },
    ],
  },
  {
    // 14 days and 30 minutes left at the start: under 14 days from 31m, pending for 1h.
    name: "MailCertificateExpiresSoon an hour after the served certificate is under 14 days from expiry",
    interval: "1m",
    input_series: [{ series: CERT_EXPIRY, values: `${14 * DAY + 1800}x150` }],
    alert_rule_test: [
      ...none("MailCertificateExpiresSoon", [30, 31, 90]),
      {
        alertname: "MailCertificateExpiresSoon",
        eval_time: "91m",
        // 14 d 30 m - 91 m
        exp_alerts: [certExpiresSoon("13d 22h 59m 0s")],
      },
    ],
  },
  {
    name: "MailCertificateExpiresSoon stays quiet with a certificate renewed weekly (90 days left)",
    interval: "1m",
    input_series: [{ series: CERT_EXPIRY, values: `${90 * DAY}x200` }],
    alert_rule_test: none("MailCertificateExpiresSoon", [60, 120, 200]),
  },
  {
    name: "MailCertificateExpiresSoon stays quiet when no certificate was ever read",
    interval: "1m",
    input_series: [{ series: 'up{job="pushgateway"}', values: "1x120" }],
    alert_rule_test: none("MailCertificateExpiresSoon", [60, 120]),
  },
  {
    // 10 days left throughout; the Pushgateway loses the series for 40 minutes (31m-70m), less
    // than one probe gap: the alert keeps its pending time and fires on schedule.
    name: "MailCertificateExpiresSoon rides out one probe gap without resetting",
    interval: "1m",
    input_series: [{ series: CERT_EXPIRY, values: `${10 * DAY}x30 _x40 ${10 * DAY}x80` }],
    alert_rule_test: [
      ...none("MailCertificateExpiresSoon", [59]),
      {
        alertname: "MailCertificateExpiresSoon",
        eval_time: "60m",
        exp_alerts: [certExpiresSoon("9d 23h 0m 0s")],
      },
      {
        alertname: "MailCertificateExpiresSoon",
        eval_time: "65m",
        exp_alerts: [certExpiresSoon("9d 22h 55m 0s")],
      },
    ],
  },
  {
    // Samples until 30m, then none for 90 minutes: longer than the 1 h window, so it resets and
    // has to pend a full hour again after the series returns at 121m.
    name: "MailCertificateExpiresSoon resets after a gap longer than a probe gap",
    interval: "1m",
    input_series: [{ series: CERT_EXPIRY, values: `${10 * DAY}x30 _x90 ${10 * DAY}x80` }],
    alert_rule_test: [
      ...none("MailCertificateExpiresSoon", [100, 150, 180]),
      {
        alertname: "MailCertificateExpiresSoon",
        eval_time: "181m",
        // 10 d - 181 m
        exp_alerts: [certExpiresSoon("9d 20h 59m 0s")],
      },
    ],
  },
  {
    name: "MailCertificateExpiresSoon resolves once the probe reads a renewed certificate",
    interval: "1m",
    input_series: [{ series: CERT_EXPIRY, values: `${10 * DAY}x90 ${90 * DAY}x60` }],
    alert_rule_test: [
      {
        alertname: "MailCertificateExpiresSoon",
        eval_time: "90m",
        exp_alerts: [certExpiresSoon("9d 22h 30m 0s")],
      },
      ...none("MailCertificateExpiresSoon", [91, 120, 150]),
    ],
  },
  {
    // W1: docker-mailserver's empty stats_writer_socket_path= keeps every counter at 0.
    name: "DovecotCountersNotMoving: the probe succeeds every 20 minutes, auth_success stays flat",
    interval: "1m",
    input_series: [
      { series: AUTH_SUCCESS, values: "0x180" },
      { series: LAST_SUCCESS, values: healthyLastSuccess(180) },
    ],
    alert_rule_test: [
      // The first newer success lands at 20m; then 20 minutes pending.
      ...none("DovecotCountersNotMoving", [19, 39]),
      {
        alertname: "DovecotCountersNotMoving",
        eval_time: "40m",
        exp_alerts: [COUNTERS_NOT_MOVING],
      },
      {
        alertname: "DovecotCountersNotMoving",
        eval_time: "180m",
        exp_alerts: [COUNTERS_NOT_MOVING],
      },
    ],
  },
  {
    // Logins counted until 60m, then the counter freezes while the probe keeps succeeding: the
    // alert waits until the 2h window holds no movement (about 180m), then 20 minutes pending.
    name: "DovecotCountersNotMoving waits for 2 hours of a flat counter",
    interval: "1m",
    input_series: [
      { series: AUTH_SUCCESS, values: `${loginsEveryRun(60)} 3x180` },
      { series: LAST_SUCCESS, values: healthyLastSuccess(241) },
    ],
    alert_rule_test: [
      ...none("DovecotCountersNotMoving", [60, 150, 198]),
      {
        alertname: "DovecotCountersNotMoving",
        eval_time: "201m",
        exp_alerts: [COUNTERS_NOT_MOVING],
      },
    ],
  },
  {
    name: "DovecotCountersNotMoving stays quiet while both the success time and auth_success rise",
    interval: "1m",
    input_series: [
      { series: AUTH_SUCCESS, values: loginsEveryRun(180, 5) },
      { series: LAST_SUCCESS, values: healthyLastSuccess(180) },
    ],
    alert_rule_test: none("DovecotCountersNotMoving", [40, 60, 120, 180]),
  },
  {
    name: "DovecotCountersNotMoving stays quiet when the probe itself fails (no login to expect)",
    interval: "1m",
    input_series: [
      { series: AUTH_SUCCESS, values: "5x300" },
      // Last success at 10m, none after: the window holds no newer success from 130m on.
      { series: LAST_SUCCESS, values: "600x300" },
    ],
    alert_rule_test: none("DovecotCountersNotMoving", [40, 130, 200, 300]),
  },
  {
    name: "DovecotCountersNotMoving stays quiet across a mail pod restart (a new series from 0)",
    interval: "1m",
    input_series: [
      { series: AUTH_SUCCESS, values: loginsEveryRun(60, 3) },
      {
        series: `dovecot_auth_success_total{namespace="${NS}",pod="mailserver-7d9c-y7"}`,
        values: `_x61 ${loginsEveryRun(120)}`,
      },
      { series: LAST_SUCCESS, values: healthyLastSuccess(181) },
    ],
    alert_rule_test: none("DovecotCountersNotMoving", [60, 70, 90, 120, 181]),
  },
  {
    name: "LiveEmailRoundtripStale 20 minutes after the last success is over 60 minutes old",
    interval: "1m",
    // Last success at 10m: over 3600 s old from 71m, then pending for the live rule's 20m.
    input_series: [{ series: selector(METRICS.lastSuccess, JOB), values: "600x120" }],
    alert_rule_test: [
      ...none("LiveEmailRoundtripStale", [70, 90]),
      // The live rules carry no labels or annotations of their own.
      { alertname: "LiveEmailRoundtripStale", eval_time: "91m", exp_alerts: [{ exp_labels: JOB }] },
    ],
  },
  {
    name: "LiveEmailRoundtripNeverRun after 60 minutes without the success metric",
    interval: "1m",
    input_series: [{ series: 'up{job="pushgateway"}', values: "1x90" }],
    alert_rule_test: [
      ...none("LiveEmailRoundtripNeverRun", [59]),
      {
        alertname: "LiveEmailRoundtripNeverRun",
        eval_time: "60m",
        exp_alerts: [{ exp_labels: JOB }],
      },
    ],
  },
  {
    name: "a healthy stack: replica up, a successful run every 20 minutes, no alert at all",
    interval: "1m",
    input_series: [
      { series: REPLICAS, values: "1x180" },
      { series: selector(METRICS.success, JOB), values: "1x180" },
      { series: selector(METRICS.lastSuccess, JOB), values: healthyLastSuccess(180) },
      { series: BUILD_INFO, values: "1x180" },
      { series: FAILURES, values: perMinute(1, 180) },
      { series: AUTH_SUCCESS, values: loginsEveryRun(180) },
      { series: CERT_EXPIRY, values: `${83 * DAY}x180` },
    ],
    alert_rule_test: ["60m", "120m", "180m"].flatMap((eval_time) =>
      [...SHIPPED_ALERTS, ...LIVE_ALERTS].map((alertname): AlertRuleTest => ({
        alertname,
        eval_time,
        exp_alerts: [],
      })),
    ),
  },
];

/** A promtool test file holding only `alert`'s checks, from every case that has some. */
function unitTestsFor(alert: AlertName) {
  return {
    rule_files: ["rules.yaml", LIVE_RULES],
    evaluation_interval: "1m",
    tests: CASES.map((c) => ({
      ...c,
      alert_rule_test: c.alert_rule_test.filter((t) => t.alertname === alert),
    })).filter((c) => c.alert_rule_test.length > 0),
  };
}

/** The rule groups the operator setup would ship in its PrometheusRule. */
async function operatorGroups(): Promise<RuleGroup[]> {
  const config = loadStackConfig("prod");
  const monitoring = JSON.parse(config["mailserver:monitoring"]) as Record<string, unknown>;
  monitoring.prometheus = { setup: "operator", ruleLabels: { release: "prometheus" } };
  const run = await runProgram({
    config: { ...config, "mailserver:monitoring": JSON.stringify(monitoring) },
    live: operatorCrds(),
  });
  return at<RuleGroup[]>(
    find(run, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "mailserver-alerts"),
    "spec.groups",
  );
}

describe("alert rules under promtool", function () {
  this.timeout(60_000);
  let dir: string;
  let bin: string;
  let shipped: string;

  before(async function () {
    bin = requireTool(this, "promtool");
    const run = await prodRun();
    shipped = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "mailserver-prometheus-rules"),
      "data",
    )[RULES_FILE];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-rules-"));
    fs.writeFileSync(path.join(dir, "rules.yaml"), shipped);
    for (const alert of [...SHIPPED_ALERTS, ...LIVE_ALERTS]) {
      fs.writeFileSync(path.join(dir, `${alert}.test.yaml`), stringify(unitTestsFor(alert)));
    }
    // The live Terraform-era rules read the same series the new probe pushes.
    fs.writeFileSync(path.join(dir, LIVE_RULES), stringify({ groups: liveGroups }));
    fs.writeFileSync(
      path.join(dir, "operator.yaml"),
      stringify({ groups: await operatorGroups() }),
    );
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => {
    try {
      return execFileSync(bin, args, {
        cwd: dir,
        encoding: "utf8",
        stdio: "pipe",
        timeout: 30_000,
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`promtool ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  };

  it("accepts the rule file the chart's server loads, every rule written out here (promtool check rules)", () => {
    // promtool counts the shipped rules; each needs its entry in SHIPPED_ALERTS and its own test.
    assert.equal(SHIPPED_ALERTS.length, 8);
    assert.match(run("check", "rules", "rules.yaml"), /SUCCESS: 8 rules found/);
  });

  it("accepts the PrometheusRule's groups of the operator setup, the same rules", () => {
    assert.match(run("check", "rules", "operator.yaml"), /SUCCESS/);
    assert.deepEqual(
      parse(fs.readFileSync(path.join(dir, "operator.yaml"), "utf8")),
      parse(shipped),
    );
  });

  for (const alert of [...SHIPPED_ALERTS, ...LIVE_ALERTS]) {
    it(`${alert} fires with its labels and annotations at its threshold and not before (promtool test rules)`, () => {
      const fires = unitTestsFor(alert).tests.some((c) =>
        c.alert_rule_test.some((t) => t.exp_alerts.length > 0),
      );
      assert.ok(fires, `no case expects ${alert} to fire`);
      assert.match(run("test", "rules", `${alert}.test.yaml`), /SUCCESS/);
    });
  }
});
