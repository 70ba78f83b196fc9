/**
 * Scenario "3 Probe and Prometheus": the program's end-to-end probe and its alert rules against
 * the real mail pod, a real Pushgateway and a real Prometheus server.
 *
 * The probe is the rendered CronJob mailserver/email-roundtrip-monitor (./probe/plan.ts): its
 * script (ConfigMap key email_roundtrip.py) runs unchanged under python3 as the CronJob's user,
 * with the CronJob's env and its secretKeyRef values from the rendered Secret (the mocked Vault's
 * placeholders). Only the endpoints of services outside the cluster change: MAILGUN_API_BASE
 * points at a loopback stand-in of Mailgun's HTTP API that hands the message to the pod's Postfix
 * on port 25 from the outside address, and UPTIME_KUMA_PUSH_URL at a loopback stand-in of Uptime
 * Kuma's push endpoint (./probe/stand-ins.ts); PUSHGATEWAY_URL points at Debian's
 * prometheus-pushgateway on a free loopback port. IMAP goes to the pod's Dovecot under the
 * rendered IMAP_HOST, which the probe's own /etc/hosts answers as the cluster DNS would, and its
 * TLS check keeps IMAP_TLS_NAME, trusting only the throwaway CA (./probe/script.ts).
 *
 * Prometheus (./prometheus.ts, ./probe/monitoring.ts) loads the rendered rule file from the
 * chart's mount path and scrapes the Pushgateway and the pod's Dovecot through the chart's own
 * relabelling. Checks (./probe/checks.ts): every target up, every series a rule reads present
 * (kube-state-metrics' excepted, named "not rehearsed"), every rule healthy, and a broken probe
 * run (wrong IMAP password) moving the series the roundtrip alerts read. Alert timing (`for:`,
 * the Stale threshold) stays with tests/monitoring/promtool.test.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { OUTSIDE_ADDRESS, OUTSIDE_NAME, POD_ADDRESS, type MailPod } from "./pod";
import { chartServer, getText, stopChild, type ChartServer, type Server } from "./prometheus";
import {
  certificateNote,
  Roundtrip,
  rulesCheck,
  scrapedSince,
  seriesChecks,
  targetsCheck,
} from "./probe/checks";
import { ready, startMonitoring, type Monitoring } from "./probe/monitoring";
import {
  clusterNames,
  mailTemplate,
  PROBE,
  renderedProbe,
  renderedRules,
  type MailPodTemplate,
  type RenderedProbe,
  type RenderedRules,
} from "./probe/plan";
import { firstLines, redact, Report, type Check } from "./probe/report";
import { invocation, runProbe, type Invocation, type ProbeRun } from "./probe/script";
import { startStandIns, stopStandIns, type StandIns } from "./probe/stand-ins";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";

const NAME = "3 Probe and Prometheus";
const DIR = "probe";
const WORK_PREFIX = "/var/tmp/rehearse-probe-";

/** Work directories of earlier runs whose process is gone (a SIGKILL leaves them behind). */
function removeStaleWork(): void {
  const dir = path.dirname(WORK_PREFIX);
  for (const n of fs.readdirSync(dir)) {
    const p = path.join(dir, n);
    if (!p.startsWith(WORK_PREFIX)) continue;
    const pid = Number(p.slice(WORK_PREFIX.length).split("-")[0]);
    if (!pid || !fs.existsSync(`/proc/${pid}`)) fs.rmSync(p, { recursive: true, force: true });
  }
}

/** What the scenario starts, stopped on every way out. */
class Running {
  readonly servers: Server[] = [];
  standIns?: StandIns;

  kill(): void {
    this.servers.forEach((s) => s.child.kill("SIGKILL"));
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => stopChild(s.child)));
    await stopStandIns(this.standIns);
  }
}

function seconds(run: ProbeRun): string {
  return (run.ms / 1000).toFixed(1);
}

/** What the probe runs, as whom, with which env, and where its cluster names lead. */
function probeEvidence(
  spec: RenderedProbe,
  inv: Invocation,
  stand: StandIns,
  mon: Monitoring,
  passwords: Record<string, string>,
  cluster: { names: string[]; services: string[] },
): string[] {
  const { env } = spec;
  const { py, user } = inv;
  const sha = createHash("sha256").update(spec.script).digest("hex").slice(0, 12);
  const imapUser = env.IMAP_USER;
  return [
    `probe: ${spec.scriptFile}, ${spec.script.length} bytes sha256 ${sha}…, run unchanged by ${py.version} (${py.bin})${user ? ` as uid ${user.uid}:${user.gid} (the CronJob's runAsUser/runAsGroup)` : " as root (no interpreter the CronJob's user can reach)"}; env as rendered but MAILGUN_API_BASE → Mailgun stand-in ${stand.origin}, PUSHGATEWAY_URL ${env.PUSHGATEWAY_URL} → ${mon.pg.url}${env.UPTIME_KUMA_PUSH_URL ? ", UPTIME_KUMA_PUSH_URL's origin → the Uptime Kuma stand-in (path and token kept)" : ""}; ${spec.secretEnv.join(", ")} from the rendered Secret ${PROBE.namespace}/${PROBE.name} (IMAP_PASSWORD equals the placeholder password of ${imapUser}: ${env.IMAP_PASSWORD === passwords[imapUser] ? "yes" : "no"})`,
    `cluster DNS stand-in (the probe's own /etc/hosts, bind-mounted in its mount namespace; other names: the rehearsal's DNS on ${OUTSIDE_ADDRESS}): ${cluster.names.length ? `${cluster.names[0]} (+ short forms) → ${POD_ADDRESS} (Service ${cluster.services.join("; ")})` : "no planned Service reaches the pod's IMAPS port"}; IMAP_HOST=${env.IMAP_HOST}, TLS verified for IMAP_TLS_NAME=${env.IMAP_TLS_NAME} against the throwaway CA only (SSL_CERT_FILE)`,
  ];
}

/** Run 1, as rendered: the probe exits 0 and pushes "up" to Uptime Kuma. */
function run1Check(run: ProbeRun, stand: StandIns, secrets: string[]): Check {
  const mg = stand.mailgun.at(-1);
  const kuma = stand.kuma.at(-1);
  return {
    pass: run.status === 0 && kuma?.startsWith("status=up") === true,
    line: `run 1 (as rendered): exit ${run.status} after ${seconds(run)} s: ${redact(firstLines(run.output), secrets)}; Mailgun stand-in: ${mg ? `POST ${mg.path}, basic auth equals api:<the Secret's MAILGUN_API_KEY>: ${mg.authOk ? "yes" : "no"}; SMTP 25 from ${OUTSIDE_ADDRESS} (${OUTSIDE_NAME}): ${mg.smtp}` : "no request"}; Uptime Kuma stand-in: ${kuma ?? "no push"}`,
  };
}

/** What the scenario's steps share once everything runs. */
interface Rig {
  spec: RenderedProbe;
  chart: ChartServer;
  rules: RenderedRules;
  tpl: MailPodTemplate;
  mon: Monitoring;
  stand: StandIns;
  inv: Invocation;
}

/** Reads the plan, starts Prometheus, the Pushgateway and the stand-ins, lays the probe out. */
async function setUp(
  ctx: RehearsalContext,
  pod: MailPod,
  passwords: Record<string, string>,
  report: Report,
  running: Running,
  work: string,
): Promise<Rig> {
  const spec = renderedProbe(ctx.run);
  const { env } = spec;
  report.secrets = spec.secretEnv.map((k) => env[k]);
  const cluster = clusterNames(ctx.run, Number(env.IMAP_PORT));
  const chart = chartServer(ctx.run);
  const rules = renderedRules(ctx.run, chart);

  // The Pushgateway and Prometheus first: the server takes ~5 s to its first scrape.
  const tpl = mailTemplate(ctx.run);
  const mon = await startMonitoring(chart, rules, tpl, work, running.servers);
  report.save("prometheus.yml", mon.config.text);
  const kumaUrl = env.UPTIME_KUMA_PUSH_URL ? new URL(env.UPTIME_KUMA_PUSH_URL) : undefined;
  const stand = await startStandIns(pod, env.MAILGUN_API_KEY, kumaUrl?.pathname);
  running.standIns = stand;
  await ready(running.servers, ctx.signal);

  // The probe's files and env: the rendered ones, endpoints outside the cluster on loopback.
  const inv = invocation(spec, work, pod.caPem, cluster.names, {
    mailgun: stand.origin,
    pushgateway: mon.pg.url,
    kuma: kumaUrl && { origin: stand.origin, url: kumaUrl },
  });
  for (const line of probeEvidence(spec, inv, stand, mon, passwords, cluster)) report.note(line);
  report.note(mon.evidence);
  return { spec, chart, rules, tpl, mon, stand, inv };
}

/**
 * Run 1 as rendered, the targets, then run 2 with a wrong IMAP password moving the roundtrip
 * alerts' series; returns when run 1 started and when run 2's effect was read (ms).
 */
async function probeRuns(ctx: RehearsalContext, rig: Rig, report: Report) {
  const { mon, stand } = rig;
  const { secrets } = report;
  const prom = mon.prom.url;
  const job = rig.spec.env.PUSH_JOB;
  const t1 = Date.now();
  const run1 = await runProbe(rig.inv, ctx.signal);
  report.check(run1Check(run1, stand, secrets));
  const seen1 = await scrapedSince(prom, job, t1, ctx.signal);
  report.save("pushgateway-after-run-1.txt", await getText(`${mon.pg.url}/metrics`));
  report.check(await targetsCheck(prom, mon.pg, rig.tpl, ctx.signal));

  const roundtrip = new Roundtrip(rig.rules.alerts);
  const before = await roundtrip.state(prom);
  const wrong = `wrong-${randomBytes(8).toString("hex")}`;
  secrets.push(wrong);
  const t2 = Date.now();
  const run2 = await runProbe(
    { ...rig.inv, env: { ...rig.inv.env, IMAP_PASSWORD: wrong } },
    ctx.signal,
  );
  const kuma2 = stand.kuma.at(-1);
  const seen2 = await scrapedSince(prom, job, t2, ctx.signal);
  report.save("pushgateway-after-run-2.txt", await getText(`${mon.pg.url}/metrics`));
  const after = await roundtrip.state(prom);
  const tAfter = Date.now();
  const moved = roundtrip.moved(before, after, [seen1, seen2]);
  report.check({
    pass: run2.status === 1 && moved.pass,
    line: `run 2 (IMAP_PASSWORD wrong): exit ${run2.status} after ${seconds(run2)} s: ${redact(firstLines(run2.output), secrets)}; Uptime Kuma stand-in: ${kuma2 ?? "no push"}; ${moved.line}`,
  });
  report.save(
    "probe-output.txt",
    `# run 1 (as rendered): exit ${run1.status}\n${run1.output}\n# run 2 (IMAP_PASSWORD wrong): exit ${run2.status}\n${run2.output}`,
  );
  return { t1, tAfter };
}

/** The series every rule reads, and every rule evaluated with run 2's data. */
async function ruleChecks(
  ctx: RehearsalContext,
  rig: Rig,
  report: Report,
  t: { t1: number; tAfter: number },
) {
  const prom = rig.mon.prom.url;
  const { series, kube } = await seriesChecks(prom, rig.chart, rig.rules.alerts, t.t1, ctx.signal);
  report.check(series);
  if (kube) report.note(kube.line, kube.pass);
  report.check(await rulesCheck(prom, rig.rules, t.tAfter, ctx.signal));
  const cert = await certificateNote(prom, rig.rules.alerts);
  if (cert) report.note(cert);
  report.note(
    "alert timing (for:, the Stale and certificate thresholds) is not rehearsed here: tests/monitoring/promtool.test.ts runs promtool's rule unit tests on the rendered file",
  );
  report.save("prometheus.log", rig.mon.prom.log());
}

/** Scenario 3 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function probe(pod: MailPod, passwords: Record<string, string>): Scenario {
  return async (ctx: RehearsalContext): Promise<ScenarioResult> => {
    const report = new Report(ctx.out, DIR);
    removeStaleWork();
    const work = fs.mkdtempSync(`${WORK_PREFIX}${process.pid}-`);
    fs.chmodSync(work, 0o755);
    const running = new Running();
    const onAbort = () => running.kill();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const rig = await setUp(ctx, pod, passwords, report, running, work);
      await ruleChecks(ctx, rig, report, await probeRuns(ctx, rig, report));
    } catch (err) {
      report.note(`error: ${redact((err as Error).message.split("\n")[0], report.secrets)}`, false);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      await running.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
    return report.result(NAME);
  };
}
