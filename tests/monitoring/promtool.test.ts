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
import { METRICS, type AlertRule, type RuleGroup } from "../../components/monitoring";
import { RULES_FILE } from "../../lib/prometheus-chart";
import { operatorCrds } from "../../tools/live-cluster";
import { at, find, loadStackConfig, prodRun, runProgram } from "../helpers/program";
import { requireTool } from "../helpers/tools";

const NS = "mailserver";
const DEPLOYMENT = "mailserver";
/** Filled from the shipped rule file before the tests run. */
let groups: RuleGroup[] = [];
const rule = (name: string): AlertRule => {
  const r = groups.flatMap((g) => g.rules).find((x) => x.alert === name);
  assert.ok(r, name);
  return r;
};

const JOB = { job: "email-roundtrip-monitor" };
const REPLICAS = `kube_deployment_status_replicas_available{namespace="${NS}",deployment="${DEPLOYMENT}"}`;
const selector = (metric: string, labels: Record<string, string>) =>
  `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

/** Expected firing alert: the rule's labels and annotations plus the series' labels. */
function firing(name: string, seriesLabels: Record<string, string>) {
  const r = rule(name);
  return { exp_labels: { ...seriesLabels, ...r.labels }, exp_annotations: r.annotations };
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
const none = (alertname: string, times: number[]) =>
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

const unitTests = () => ({
  rule_files: ["rules.yaml", LIVE_RULES],
  evaluation_interval: "1m",
  tests: [
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
      alert_rule_test: ["30m", "60m", "120m"].map((eval_time) => ({
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
      name: "a healthy stack: replica up, a successful run every 20 minutes, no alert at all",
      interval: "1m",
      input_series: [
        { series: REPLICAS, values: "1x180" },
        { series: selector(METRICS.success, JOB), values: "1x180" },
        { series: selector(METRICS.lastSuccess, JOB), values: healthyLastSuccess(180) },
        { series: BUILD_INFO, values: "1x180" },
        { series: FAILURES, values: perMinute(1, 180) },
      ],
      alert_rule_test: ["60m", "120m", "180m"].flatMap((eval_time) =>
        [...groups.flatMap((g) => g.rules), ...liveGroups.flatMap((g) => g.rules)].map((r) => ({
          alertname: r.alert,
          eval_time,
          exp_alerts: [],
        })),
      ),
    },
  ],
});

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
    groups = (parse(shipped) as { groups: RuleGroup[] }).groups;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-rules-"));
    fs.writeFileSync(path.join(dir, "rules.yaml"), shipped);
    fs.writeFileSync(path.join(dir, "rules.test.yaml"), stringify(unitTests()));
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

  it("accepts the rule file the chart's server loads (promtool check rules)", () => {
    const count = groups.flatMap((g) => g.rules).length;
    assert.ok(count >= 6, `${count} rules`);
    assert.match(run("check", "rules", "rules.yaml"), new RegExp(`SUCCESS: ${count} rules found`));
  });

  it("accepts the PrometheusRule's groups of the operator setup, the same rules", () => {
    assert.match(run("check", "rules", "operator.yaml"), /SUCCESS/);
    assert.deepEqual(
      parse(fs.readFileSync(path.join(dir, "operator.yaml"), "utf8")),
      parse(shipped),
    );
  });

  it("fires each alert at its threshold and not before (promtool test rules)", () => {
    assert.match(run("test", "rules", "rules.test.yaml"), /SUCCESS/);
  });
});
