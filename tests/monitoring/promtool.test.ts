/**
 * The alert rules the component deploys, checked by the real Prometheus tool: `promtool check
 * rules`, then `promtool test rules` with unit tests that put each alert just before and at its
 * threshold.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { METRICS, alertRuleGroups, type AlertRule } from "../../components/monitoring";
import { requireTool } from "../helpers/tools";

const NS = "mailserver";
const DEPLOYMENT = "mailserver";
const groups = alertRuleGroups({ namespace: NS, deploymentName: DEPLOYMENT });
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

const unitTests = {
  rule_files: ["rules.yaml"],
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
      name: "EmailRoundtripFailing after 30 minutes of failed runs",
      interval: "1m",
      input_series: [{ series: selector(METRICS.success, JOB), values: "1 1 0x40" }],
      alert_rule_test: [
        { alertname: "EmailRoundtripFailing", eval_time: "31m", exp_alerts: [] },
        {
          alertname: "EmailRoundtripFailing",
          eval_time: "32m",
          exp_alerts: [firing("EmailRoundtripFailing", JOB)],
        },
      ],
    },
    {
      name: "EmailRoundtripStale once the last success is over 40 minutes old",
      interval: "1m",
      // Last success at 10m (600 s after the epoch the test starts at).
      input_series: [{ series: selector(METRICS.lastSuccess, JOB), values: "600x60" }],
      alert_rule_test: [
        { alertname: "EmailRoundtripStale", eval_time: "50m", exp_alerts: [] },
        {
          alertname: "EmailRoundtripStale",
          eval_time: "51m",
          exp_alerts: [firing("EmailRoundtripStale", JOB)],
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
          exp_alerts: [firing("EmailRoundtripNeverRun", {})],
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
      ],
      alert_rule_test: ["60m", "120m", "180m"].flatMap((eval_time) =>
        [
          "MailServerDown",
          "EmailRoundtripFailing",
          "EmailRoundtripStale",
          "EmailRoundtripNeverRun",
        ].map((alertname) => ({ alertname, eval_time, exp_alerts: [] })),
      ),
    },
  ],
};

describe("alert rules under promtool", function () {
  this.timeout(60_000);
  let dir: string;
  let bin: string;

  before(function () {
    bin = requireTool(this, "promtool");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-rules-"));
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify({ groups }));
    fs.writeFileSync(path.join(dir, "rules.test.yaml"), stringify(unitTests));
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

  it("accepts the rendered rule groups (promtool check rules)", () => {
    assert.match(run("check", "rules", "rules.yaml"), /SUCCESS: 4 rules found/);
  });

  it("fires each alert at its threshold and not before (promtool test rules)", () => {
    assert.match(run("test", "rules", "rules.test.yaml"), /SUCCESS/);
  });
});
