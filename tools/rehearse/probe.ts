/**
 * Scenario "3 Probe and Prometheus": the program's end-to-end probe and its alert rules against
 * the real mail pod, a real Pushgateway and a real Prometheus server.
 *
 * The probe is the rendered CronJob mailserver/email-roundtrip-monitor: its script (ConfigMap key
 * email_roundtrip.py) runs unchanged under python3 as the CronJob's user, with the CronJob's env
 * and its secretKeyRef values from the rendered Secret (the mocked Vault's placeholders). Only the
 * endpoints of services outside the cluster change: MAILGUN_API_BASE points at a loopback
 * stand-in of Mailgun's HTTP API that hands the message to the pod's Postfix on port 25 from the
 * outside address, and UPTIME_KUMA_PUSH_URL at a loopback stand-in of Uptime Kuma's push endpoint;
 * PUSHGATEWAY_URL points at Debian's prometheus-pushgateway on a free loopback port. IMAP goes to
 * the pod's Dovecot under the rendered IMAP_HOST: the probe runs in a mount namespace of its own
 * whose /etc/hosts (bind-mounted) answers the planned Services' cluster names that reach the pod on
 * IMAP_PORT, as the cluster DNS would (any other name goes to the rehearsal's DNS, ./dns.ts), and its TLS check keeps IMAP_TLS_NAME, trusting only the
 * throwaway CA (SSL_CERT_FILE).
 *
 * Prometheus (./prometheus.ts) loads the rendered rule file from the chart's mount path and scrapes
 * the Pushgateway and the pod's Dovecot through the chart's own relabelling. Checks: every target
 * up, every series a rule reads present (kube-state-metrics' excepted, named "not rehearsed"),
 * every rule healthy, and a broken probe run (wrong IMAP password) moving the series the roundtrip
 * alerts read. Alert timing (`for:`, the Stale threshold) stays with tests/monitoring/promtool.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as nodemailer from "nodemailer";
import { parse } from "yaml";
import { track } from "../cli/children";
import type { CapturedResource, ProgramRun } from "../offline/mock-program";
import { loadWorld } from "../world/load";
import { loads, RULES_CONFIGMAP, RULES_FILE } from "../../lib/charts/prometheus";
import { queueId, queueLines } from "./mail-in";
import { OUTSIDE_ADDRESS, OUTSIDE_NAME, POD_ADDRESS, type MailPod } from "./pod";
import {
  api,
  chartJob,
  chartServer,
  debianVersion,
  getText,
  keepsMetric,
  podTargets,
  pushgatewayService,
  REHEARSAL_INTERVAL,
  rehearsalConfig,
  selectors,
  serviceTargets,
  startPrometheus,
  startPushgateway,
  stopChild,
  type Server,
} from "./prometheus";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";
import { freePort } from "./free-port";

const NAME = "3 Probe and Prometheus";
const DIR = "probe";
const PROBE = { namespace: "mailserver", name: "email-roundtrip-monitor" };
const MAIL = { namespace: "mailserver", deployment: "mailserver" };
const WORK_PREFIX = "/var/tmp/rehearse-probe-";
/** A probe run longer than this is killed (the rendered poll timeout is 300 s). */
const RUN_MS = 25_000;

type Obj = Record<string, unknown>;

function planned(run: ProgramRun, type: string, namespace: string, name: string) {
  return run.resources.find((r) => {
    const m = (r.inputs.metadata ?? {}) as { name?: string; namespace?: string };
    return r.type === type && m.name === name && (m.namespace ?? "") === namespace;
  });
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface CronJobInputs {
  spec: {
    jobTemplate: {
      spec: {
        template: {
          spec: {
            containers: { command?: string[]; env?: EnvVar[]; volumeMounts?: Obj[] }[];
            volumes?: { name: string; configMap?: { name: string; defaultMode?: number } }[];
            securityContext?: { runAsUser?: number; runAsGroup?: number };
          };
        };
      };
    };
  };
}

interface RenderedProbe {
  env: Record<string, string>;
  /** Names of the variables that come from a Secret. */
  secretEnv: string[];
  script: string;
  /** The ConfigMap key, which is the file name under the mount. */
  key: string;
  scriptFile: string;
  scriptMode: number;
  uid?: number;
  gid?: number;
}

function secretValue(secret: CapturedResource | undefined, key: string): string | undefined {
  const i = secret?.inputs as
    { stringData?: Record<string, string>; data?: Record<string, string> } | undefined;
  if (i?.stringData?.[key] !== undefined) return String(i.stringData[key]);
  if (i?.data?.[key] !== undefined) return Buffer.from(String(i.data[key]), "base64").toString();
  return undefined;
}

/** The CronJob's container, script and env with its secretKeyRefs resolved from the plan. */
function renderedProbe(run: ProgramRun): RenderedProbe {
  const { namespace, name } = PROBE;
  const cron = planned(run, "kubernetes:batch/v1:CronJob", namespace, name);
  if (!cron) throw new Error(`no planned CronJob ${namespace}/${name}`);
  const pod = (cron.inputs as unknown as CronJobInputs).spec.jobTemplate.spec.template.spec;
  const c = pod.containers[0];
  const scriptPath = c.command?.[1] ?? "";
  const mount = (c.volumeMounts ?? []).find((m) =>
    scriptPath.startsWith(`${String(m.mountPath)}/`),
  );
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  const key = scriptPath.slice(String(mount?.mountPath).length + 1);
  const cm =
    volume?.configMap &&
    planned(run, "kubernetes:core/v1:ConfigMap", namespace, volume.configMap.name);
  const script = (cm?.inputs.data as Record<string, string> | undefined)?.[key];
  if (script === undefined) throw new Error(`${scriptPath}: no ConfigMap key behind it`);
  const env: Record<string, string> = {};
  const secretEnv: string[] = [];
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.secretKeyRef) {
      const ref = v.valueFrom.secretKeyRef;
      const value = secretValue(
        planned(run, "kubernetes:core/v1:Secret", namespace, ref.name),
        ref.key,
      );
      if (value === undefined)
        throw new Error(`${v.name}: Secret ${ref.name} has no key ${ref.key}`);
      env[v.name] = value;
      secretEnv.push(v.name);
    } else throw new Error(`${v.name}: a valueFrom the rehearsal does not resolve`);
  }
  return {
    env,
    secretEnv,
    script,
    key,
    scriptFile: `ConfigMap ${namespace}/${volume?.configMap?.name} key ${key} (${scriptPath})`,
    scriptMode: volume?.configMap?.defaultMode ?? 0o644,
    uid: pod.securityContext?.runAsUser,
    gid: pod.securityContext?.runAsGroup,
  };
}

interface MailPodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { name?: string; ports?: { name?: string; containerPort?: number }[] }[] };
}

function mailTemplate(run: ProgramRun): MailPodTemplate {
  const d = planned(run, "kubernetes:apps/v1:Deployment", MAIL.namespace, MAIL.deployment);
  if (!d) throw new Error(`no planned Deployment ${MAIL.namespace}/${MAIL.deployment}`);
  return (d.inputs as { spec: { template: MailPodTemplate } }).spec.template;
}

/**
 * The cluster DNS names under which the pod's `port` is what a client reaches: each planned
 * Service selecting the mail pod whose port `port` targets the container port `port`.
 */
function clusterNames(run: ProgramRun, port: number): { names: string[]; services: string[] } {
  const tpl = mailTemplate(run);
  const labels = tpl.metadata?.labels ?? {};
  const ports = (tpl.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const names: string[] = [];
  const services: string[] = [];
  for (const r of run.resources.filter((x) => x.type === "kubernetes:core/v1:Service")) {
    const m = r.inputs.metadata as { name: string; namespace?: string };
    const spec = r.inputs.spec as {
      selector?: Record<string, string>;
      ports?: { port: number; targetPort?: number | string }[];
    };
    const sel = Object.entries(spec.selector ?? {});
    if (!sel.length || !sel.every(([k, v]) => labels[k] === v)) continue;
    const sp = spec.ports?.find((p) => p.port === port);
    const target =
      typeof sp?.targetPort === "string"
        ? ports.find((p) => p.name === sp.targetPort)?.containerPort
        : (sp?.targetPort ?? sp?.port);
    if (target !== port) continue;
    const ns = m.namespace ?? "default";
    names.push(`${m.name}.${ns}.svc.cluster.local`, `${m.name}.${ns}.svc`, `${m.name}.${ns}`);
    services.push(
      `${ns}/${m.name} port ${port} → ${String(sp?.targetPort)} = container port ${target}`,
    );
  }
  return { names, services };
}

// ------------------------------------------------------------------------------ the stand-ins

interface StandIns {
  server: http.Server;
  origin: string;
  mailgun: { path: string; authOk: boolean; smtp: string; delivered?: string; status: number }[];
  kuma: string[];
}

/**
 * Mailgun's send API (POST /v3/<domain>/messages, form fields, basic auth `api:<key>`:
 * https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages/post-v3--domain-name--messages)
 * handing the message to the pod's Postfix on 25, answering once Dovecot's LMTP stored it (so the
 * probe's first IMAP pass finds it, not one 15 s later); Uptime Kuma's push endpoint (GET
 * /api/push/<token>?status=&msg=&ping=, answered {"ok":true}: louislam/uptime-kuma
 * server/routers/api-router.js, `router.all("/api/push/:pushToken")`).
 */
async function startStandIns(pod: MailPod, apiKey: string, kumaPath: string | undefined) {
  const s: StandIns = { server: http.createServer(), origin: "", mailgun: [], kuma: [] };
  s.server.on("request", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stand-in");
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (kumaPath && req.method === "GET" && url.pathname === kumaPath) {
        s.kuma.push(`status=${url.searchParams.get("status")} msg=${url.searchParams.get("msg")}`);
        return reply(200, { ok: true });
      }
      const m = /^\/v3\/([^/]+)\/messages$/.exec(url.pathname);
      if (req.method !== "POST" || !m) return reply(404, { message: "not found" });
      const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const authOk = Buffer.from(auth ?? "", "base64").toString() === `api:${apiKey}`;
      const entry: StandIns["mailgun"][number] = {
        path: url.pathname,
        authOk,
        smtp: "",
        status: 401,
      };
      s.mailgun.push(entry);
      if (!authOk) return reply(401, { message: "Invalid private key" });
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      void handOver(pod, m[1], form, entry).then(() =>
        entry.status === 200
          ? reply(200, { id: entry.delivered, message: "Queued. Thank you." })
          : reply(entry.status, { message: entry.smtp }),
      );
    });
  });
  await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
  s.origin = `http://127.0.0.1:${(s.server.address() as { port: number }).port}`;
  return s;
}

async function handOver(
  pod: MailPod,
  domain: string,
  form: URLSearchParams,
  entry: StandIns["mailgun"][number],
) {
  const messageId = `<${Date.now()}.${randomBytes(6).toString("hex")}@${domain}>`;
  try {
    const transport = nodemailer.createTransport({
      host: POD_ADDRESS,
      port: 25,
      secure: false,
      name: OUTSIDE_NAME,
      localAddress: OUTSIDE_ADDRESS,
      tls: { ca: pod.caPem, servername: pod.hostname },
      connectionTimeout: 15_000,
    });
    const sent = await transport.sendMail({
      from: form.get("from") ?? "",
      to: form.get("to") ?? "",
      subject: form.get("subject") ?? "",
      text: form.get("text") ?? "",
      messageId,
    });
    transport.close();
    entry.smtp = `${sent.response}`;
    const id = queueId(sent.response);
    const until = Date.now() + 15_000;
    let line: string | undefined;
    while (id && !line && Date.now() < until) {
      line = queueLines(pod, id).find((l) => /status=sent/.test(l) && /lmtp/.test(l));
      if (!line) await new Promise((r) => setTimeout(r, 100));
    }
    entry.delivered = line ? messageId : undefined;
    entry.smtp += line
      ? `; Postfix ${id}: ${line.replace(/^.*?: /, "")}`
      : "; no LMTP delivery within 15 s";
    entry.status = 200;
  } catch (err) {
    entry.smtp = `SMTP refused: ${(err as Error).message.split("\n")[0]}`;
    entry.status = 502;
  }
}

// ------------------------------------------------------------------------------- the probe run

/** An interpreter the CronJob's user can run: Debian's, else the one python3 resolves to. */
function python(uid: number | undefined): { bin: string; asUser: boolean; version: string } {
  const resolved = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
  }).stdout?.trim();
  const candidates = ["/usr/bin/python3", resolved].filter((p): p is string => Boolean(p));
  const reachable = (p: string) => {
    const real = fs.realpathSync(p);
    const dirs = real
      .split("/")
      .slice(1, -1)
      .map((_, i, a) => `/${a.slice(0, i + 1).join("/")}`);
    const others = (f: string) => (fs.statSync(f).mode & 0o001) !== 0;
    return dirs.every(others) && others(real);
  };
  const usable = candidates.filter((p) => fs.existsSync(p));
  if (!usable.length) throw new Error("python3 not found (apt-get install python3)");
  const bin = (uid !== undefined && usable.find(reachable)) || usable[0];
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
  return { bin, asUser: uid !== undefined && reachable(bin), version };
}

interface ProbeRun {
  status: number | null;
  output: string;
  ms: number;
}

/**
 * One run of the script: its own mount namespace with `hosts` as /etc/hosts and `resolv` as
 * /etc/resolv.conf, then python3 (as `user` when given).
 */
function runProbe(
  opts: { py: string; script: string; env: Record<string, string>; hosts: string; resolv: string },
  user: { uid: number; gid: number } | undefined,
  signal: AbortSignal,
): Promise<ProbeRun> {
  const start = Date.now();
  const drop = user
    ? ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--"]
    : [];
  const script =
    'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"';
  const child = track(
    spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        script,
        "sh",
        opts.hosts,
        opts.resolv,
        ...drop,
        opts.py,
        opts.script,
      ],
      { env: opts.env, stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const kill = () => child.kill("SIGKILL");
  const timer = setTimeout(kill, RUN_MS);
  signal.addEventListener("abort", kill, { once: true });
  return new Promise((resolve) => {
    child.once("close", (status) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", kill);
      resolve({ status, output, ms: Date.now() - start });
    });
  });
}

// --------------------------------------------------------------------------------- the checks

async function until<T>(find: () => Promise<T | undefined>, ms: number, signal: AbortSignal) {
  const end = Date.now() + ms;
  for (;;) {
    const hit = await find().catch(() => undefined);
    if (hit !== undefined || Date.now() >= end || signal.aborted) return hit;
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, q: string): Promise<Sample[]> {
  return (await api<{ result: Sample[] }>(base, "/api/v1/query", { query: q })).result;
}

async function value(base: string, q: string): Promise<string> {
  const r = await query(base, q);
  return r.length ? r.map((s) => s.value[1]).join(",") : "absent";
}

/**
 * Waits until Prometheus has scraped the Pushgateway group pushed at or after `since` (ms):
 * the Pushgateway stamps each group's last successful push as `push_time_seconds`
 * (prometheus/pushgateway README.md, "Exposed metrics"; the probe POSTs, which replaces only
 * the series it sends: "POST method").
 */
function scrapedSince(base: string, job: string, since: number, signal: AbortSignal) {
  return until(
    async () => {
      const t = Number((await query(base, `push_time_seconds{job="${job}"}`))[0]?.value[1]);
      return t * 1000 >= since ? t : undefined;
    },
    12_000,
    signal,
  );
}

interface Rule {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  state?: string;
  lastEvaluation: string;
}

function redact(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join("<secret>"), text);
}

function firstLines(text: string): string {
  return text.trim().split("\n").slice(-2).join(" | ");
}

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

/** Scenario 3 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function probe(pod: MailPod, passwords: Record<string, string>): Scenario {
  return async (ctx: RehearsalContext): Promise<ScenarioResult> => {
    const evidence: string[] = [];
    const files: string[] = [];
    const out = path.join(ctx.out, DIR);
    fs.mkdirSync(out, { recursive: true });
    removeStaleWork();
    const work = fs.mkdtempSync(`${WORK_PREFIX}${process.pid}-`);
    fs.chmodSync(work, 0o755);
    const servers: Server[] = [];
    let standIns: StandIns | undefined;
    let secrets: string[] = [];
    const onAbort = () => servers.forEach((s) => s.child.kill("SIGKILL"));
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const save = (name: string, text: string) => {
      fs.writeFileSync(path.join(out, name), redact(text, secrets));
      files.push(path.posix.join(DIR, name));
    };
    let ok = true;
    const check = (pass: boolean, line: string) => {
      ok &&= pass;
      evidence.push(`${pass ? "pass" : "FAIL"}: ${line}`);
    };
    try {
      const probeSpec = renderedProbe(ctx.run);
      const env = probeSpec.env;
      secrets = probeSpec.secretEnv.map((k) => env[k]);
      const job = env.PUSH_JOB;
      const imapPort = Number(env.IMAP_PORT);
      const cluster = clusterNames(ctx.run, imapPort);
      const chart = chartServer(ctx.run);
      const rulesCm = planned(
        ctx.run,
        "kubernetes:core/v1:ConfigMap",
        "monitoring",
        RULES_CONFIGMAP,
      );
      const rules = (rulesCm?.inputs.data as Record<string, string> | undefined)?.[RULES_FILE];
      if (rules === undefined)
        throw new Error(`no planned ConfigMap ${RULES_CONFIGMAP} key ${RULES_FILE}`);
      const rulePath = `${chart.rulesMounts[0] ?? "?"}/${RULES_FILE}`;
      if (!chart.rulesMounts.length || !loads(chart.ruleFiles, rulePath)) {
        throw new Error(
          `the chart server does not load ${RULES_CONFIGMAP} (${JSON.stringify(chart.ruleFiles)})`,
        );
      }

      // The Pushgateway and Prometheus first: the server takes ~5 s to its first scrape.
      const [pgPort, promPort] = [await freePort(), await freePort()];
      const pg = startPushgateway(pgPort, work);
      servers.push(pg);
      const tpl = mailTemplate(ctx.run);
      const pgService = pushgatewayService(loadWorld("ready"));
      const config = rehearsalConfig(chart.prometheusYml, {
        pod: podTargets(MAIL.namespace, `${MAIL.deployment}-rehearsal`, POD_ADDRESS, tpl),
        service: serviceTargets(pgService, `127.0.0.1:${pgPort}`),
      });
      const prom = startPrometheus(
        chart,
        { [chart.configFile]: config.text, [rulePath]: rules },
        promPort,
        work,
      );
      servers.push(prom);
      save("prometheus.yml", config.text);
      const kumaUrl = env.UPTIME_KUMA_PUSH_URL ? new URL(env.UPTIME_KUMA_PUSH_URL) : undefined;
      standIns = await startStandIns(pod, env.MAILGUN_API_KEY, kumaUrl?.pathname);
      for (const s of [pg, prom]) {
        const up = await until(
          () => getText(`${s.url}/-/ready`).then(() => true),
          15_000,
          ctx.signal,
        );
        if (!up) throw new Error(`${s.url} not ready: ${firstLines(s.log())}`);
      }

      // The probe's files and env: the rendered ones, endpoints outside the cluster on loopback.
      const py = python(probeSpec.uid);
      const user =
        py.asUser && probeSpec.uid !== undefined
          ? { uid: probeSpec.uid, gid: probeSpec.gid ?? probeSpec.uid }
          : undefined;
      const script = path.join(work, "probe", probeSpec.key);
      fs.mkdirSync(path.dirname(script), { recursive: true, mode: 0o755 });
      fs.writeFileSync(script, probeSpec.script, { mode: probeSpec.scriptMode });
      fs.chmodSync(script, probeSpec.scriptMode);
      const ca = path.join(work, "ca.crt");
      fs.writeFileSync(ca, pod.caPem, { mode: 0o644 });
      const hosts = path.join(work, "hosts");
      const hostLines = ["127.0.0.1 localhost", "::1 localhost"];
      if (cluster.names.length) hostLines.push(`${POD_ADDRESS} ${cluster.names.join(" ")}`);
      fs.writeFileSync(hosts, `${hostLines.join("\n")}\n`, { mode: 0o644 });
      const resolv = path.join(work, "resolv.conf");
      fs.writeFileSync(resolv, `nameserver ${OUTSIDE_ADDRESS}\noptions timeout:1 attempts:1\n`, {
        mode: 0o644,
      });
      const runEnv: Record<string, string> = {
        ...env,
        MAILGUN_API_BASE: standIns.origin,
        PUSHGATEWAY_URL: pg.url,
        ...(kumaUrl
          ? { UPTIME_KUMA_PUSH_URL: `${standIns.origin}${kumaUrl.pathname}${kumaUrl.search}` }
          : {}),
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        SSL_CERT_FILE: ca,
      };
      const sha = createHash("sha256").update(probeSpec.script).digest("hex").slice(0, 12);
      const imapUser = env.IMAP_USER;
      evidence.push(
        `probe: ${probeSpec.scriptFile}, ${probeSpec.script.length} bytes sha256 ${sha}…, run unchanged by ${py.version} (${py.bin})${user ? ` as uid ${user.uid}:${user.gid} (the CronJob's runAsUser/runAsGroup)` : " as root (no interpreter the CronJob's user can reach)"}; env as rendered but MAILGUN_API_BASE → Mailgun stand-in ${standIns.origin}, PUSHGATEWAY_URL ${env.PUSHGATEWAY_URL} → ${pg.url}${kumaUrl ? ", UPTIME_KUMA_PUSH_URL's origin → the Uptime Kuma stand-in (path and token kept)" : ""}; ${probeSpec.secretEnv.join(", ")} from the rendered Secret ${PROBE.namespace}/${PROBE.name} (IMAP_PASSWORD equals the placeholder password of ${imapUser}: ${env.IMAP_PASSWORD === passwords[imapUser] ? "yes" : "no"})`,
      );
      evidence.push(
        `cluster DNS stand-in (the probe's own /etc/hosts, bind-mounted in its mount namespace; other names: the rehearsal's DNS on ${OUTSIDE_ADDRESS}): ${cluster.names.length ? `${cluster.names[0]} (+ short forms) → ${POD_ADDRESS} (Service ${cluster.services.join("; ")})` : "no planned Service reaches the pod's IMAPS port"}; IMAP_HOST=${env.IMAP_HOST}, TLS verified for IMAP_TLS_NAME=${env.IMAP_TLS_NAME} against the throwaway CA only (SSL_CERT_FILE)`,
      );
      const pgVersion = debianVersion("prometheus-pushgateway");
      const promVersion = debianVersion("prometheus");
      evidence.push(
        `Prometheus: Debian prometheus ${promVersion} (the chart runs ${chart.image}) with the chart server's args (${chart.args.length}; --storage.tsdb.path and --web.listen-address=127.0.0.1:${promPort} replaced), ${chart.configFile} = the chart's prometheus.yml read from ConfigMap monitoring/prometheus-server with scrape_interval/evaluation_interval/scrape_timeout ${REHEARSAL_INTERVAL} for the rehearsal (chart: ${chart.intervals}); rule file ${rulePath} (the chart's mount of ConfigMap ${RULES_CONFIGMAP}); jobs with static stand-ins for Kubernetes discovery: ${config.kept.map((k) => `${k.job} (role ${k.role}, honor_labels ${k.honorLabels})`).join(", ")}; left out: ${config.dropped.map((d) => `${d.job} (${d.why})`).join(", ")}; Pushgateway: Debian prometheus-pushgateway ${pgVersion} (the chart's Service says app.kubernetes.io/version ${pgService.metadata?.labels?.["app.kubernetes.io/version"] ?? "?"}) on ${pg.url}`,
      );

      // Run 1: as rendered.
      const t1 = Date.now();
      const run1 = await runProbe(
        { py: py.bin, script, env: runEnv, hosts, resolv },
        user,
        ctx.signal,
      );
      const mg1 = standIns.mailgun.at(-1);
      const kuma1 = standIns.kuma.at(-1);
      check(
        run1.status === 0 && kuma1?.startsWith("status=up") === true,
        `run 1 (as rendered): exit ${run1.status} after ${(run1.ms / 1000).toFixed(1)} s: ${redact(firstLines(run1.output), secrets)}; Mailgun stand-in: ${mg1 ? `POST ${mg1.path}, basic auth equals api:<the Secret's MAILGUN_API_KEY>: ${mg1.authOk ? "yes" : "no"}; SMTP 25 from ${OUTSIDE_ADDRESS} (${OUTSIDE_NAME}): ${mg1.smtp}` : "no request"}; Uptime Kuma stand-in: ${kuma1 ?? "no push"}`,
      );
      const seen1 = await scrapedSince(prom.url, job, t1, ctx.signal);
      save("pushgateway-after-run-1.txt", await getText(`${pg.url}/metrics`));

      // Targets: every one up; the pod's address and path from its annotations via relabelling.
      const ann = tpl.metadata?.annotations ?? {};
      const dovecotUrl = `http://${POD_ADDRESS}:${ann["prometheus.io/port"]}${ann["prometheus.io/path"] ?? "/metrics"}`;
      type Targets = {
        activeTargets: {
          scrapePool: string;
          scrapeUrl: string;
          health: string;
          lastError: string;
          labels: Record<string, string>;
        }[];
        droppedTargets: { discoveredLabels: Record<string, string> }[];
      };
      const targets =
        (await until(
          async () => {
            const t = await api<Targets>(prom.url, "/api/v1/targets");
            return t.activeTargets.length && t.activeTargets.every((x) => x.health === "up")
              ? t
              : undefined;
          },
          10_000,
          ctx.signal,
        )) ?? (await api<Targets>(prom.url, "/api/v1/targets"));
      const urls = targets.activeTargets.map((t) => t.scrapeUrl);
      const droppedBy = new Map<string, number>();
      for (const d of targets.droppedTargets) {
        const j = d.discoveredLabels.job;
        droppedBy.set(j, (droppedBy.get(j) ?? 0) + 1);
      }
      check(
        targets.activeTargets.every((t) => t.health === "up") &&
          urls.includes(dovecotUrl) &&
          urls.includes(`${pg.url}/metrics`),
        `targets (/api/v1/targets): ${targets.activeTargets.map((t) => `${t.scrapePool} ${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}${t.labels.namespace ? ` namespace=${t.labels.namespace}` : ""}`).join("; ")}; expected Dovecot at ${dovecotUrl} (prometheus.io/port and /path of the planned pod template) and the Pushgateway; dropped by the chart's relabelling: ${[...droppedBy].map(([j, n]) => `${j} ${n}`).join(", ") || "none"}`,
      );
      const before = {
        success: "",
        lastSuccess: "",
      };
      const roundtripSelectors = (parseRules(rules) ?? [])
        .filter((r) => /^EmailRoundtrip/.test(r.alert))
        .flatMap((r) => selectors(r.expr));
      const successSel = roundtripSelectors.find((s) => /_success$/.test(s.name))?.text ?? "";
      const lastSel = roundtripSelectors.find((s) => /last_success/.test(s.name))?.text ?? "";
      before.success = await value(prom.url, successSel);
      before.lastSuccess = await value(prom.url, lastSel);
      // The roundtrip alerts' own expressions, as instant queries.
      const roundtripRules = (parseRules(rules) ?? []).filter((r) =>
        /^EmailRoundtrip/.test(r.alert),
      );
      const holds = async () =>
        Promise.all(roundtripRules.map(async (r) => (await query(prom.url, r.expr)).length));
      const holdsBefore = await holds();

      // Run 2: broken (the IMAP password wrong).
      const wrong = `wrong-${randomBytes(8).toString("hex")}`;
      secrets.push(wrong);
      const t2 = Date.now();
      const run2 = await runProbe(
        { py: py.bin, script, env: { ...runEnv, IMAP_PASSWORD: wrong }, hosts, resolv },
        user,
        ctx.signal,
      );
      const kuma2 = standIns.kuma.at(-1);
      const seen2 = await scrapedSince(prom.url, job, t2, ctx.signal);
      save("pushgateway-after-run-2.txt", await getText(`${pg.url}/metrics`));
      const after = {
        success: await value(prom.url, successSel),
        lastSuccess: await value(prom.url, lastSel),
      };
      const holdsAfter = await holds();
      const tAfter = Date.now();
      const flipped = roundtripRules.filter((_, i) => !holdsBefore[i] && holdsAfter[i]);
      check(
        run2.status === 1 &&
          before.success === "1" &&
          after.success === "0" &&
          before.lastSuccess !== "absent" &&
          after.lastSuccess === before.lastSuccess &&
          flipped.length > 0,
        `run 2 (IMAP_PASSWORD wrong): exit ${run2.status} after ${(run2.ms / 1000).toFixed(1)} s: ${redact(firstLines(run2.output), secrets)}; Uptime Kuma stand-in: ${kuma2 ?? "no push"}; Prometheus, scraped after each push (push_time_seconds ${seen1 ?? "never"} → ${seen2 ?? "never"}): ${successSel} ${before.success} → ${after.success}, ${lastSel} ${before.lastSuccess} → ${after.lastSuccess} (EmailRoundtripFailing reads the first, EmailRoundtripStale the second); the roundtrip alerts' expressions as instant queries, samples before → after: ${roundtripRules.map((r, i) => `${r.alert} ${holdsBefore[i]} → ${holdsAfter[i]}`).join(", ")}`,
      );
      save(
        "probe-output.txt",
        `# run 1 (as rendered): exit ${run1.status}\n${run1.output}\n# run 2 (IMAP_PASSWORD wrong): exit ${run2.status}\n${run2.output}`,
      );

      // Every series a rule reads, under the name and matchers the rule writes.
      const sels = new Map<string, { name: string; text: string }>();
      for (const r of parseRules(rules) ?? [])
        for (const s of selectors(r.expr)) sels.set(s.text, s);
      const kube = [...sels.values()].filter((s) => /^kube_/.test(s.name));
      const own = [...sels.values()].filter((s) => !/^kube_/.test(s.name));
      const counts = new Map<string, number>();
      await until(
        async () => {
          for (const s of own) {
            const found = await api<Obj[]>(prom.url, "/api/v1/series", {
              "match[]": s.text,
              start: String(Math.floor(t1 / 1000) - 60),
            });
            counts.set(s.text, found.length);
          }
          return own.every((s) => (counts.get(s.text) ?? 0) > 0) ? true : undefined;
        },
        6_000,
        ctx.signal,
      );
      check(
        own.every((s) => (counts.get(s.text) ?? 0) > 0),
        `series the rules read (/api/v1/series): ${own.map((s) => `${s.text} ${counts.get(s.text) ? `present (${counts.get(s.text)})` : "ABSENT"}`).join("; ")}`,
      );
      const kse = chartJob(chart.prometheusYml, "kubernetes-service-endpoints");
      if (kube.length) {
        evidence.push(
          `not rehearsed: ${kube.map((s) => s.text).join(", ")}: kube-state-metrics series, scraped in the cluster by the chart's kubernetes-service-endpoints job (role endpoints, no stand-in here), whose metric_relabel_configs keep ${kube.map((s) => `${s.name}: ${keepsMetric(kse, s.name) ? "yes" : "NO"}`).join(", ")} (absent here, MailServerDown's \`or on() vector(0)\` makes it hold: pending below)`,
        );
        ok &&= kube.every((s) => keepsMetric(kse, s.name));
      }

      // Every rule evaluated, with the broken run's data, without error.
      const evaluated =
        (await until(
          async () => {
            const g = await api<{ groups: { file: string; rules: Rule[] }[] }>(
              prom.url,
              "/api/v1/rules",
            );
            const all = g.groups.flatMap((x) => x.rules.map((r) => ({ ...r, file: x.file })));
            const fresh = all.every(
              (r) => Date.parse(r.lastEvaluation) > tAfter && r.health !== "unknown",
            );
            return all.length && fresh ? all : undefined;
          },
          8_000,
          ctx.signal,
        )) ?? [];
      const expected = (parseRules(rules) ?? []).length;
      check(
        evaluated.length === expected &&
          evaluated.every((r) => r.health === "ok" && r.file === rulePath),
        `rules (/api/v1/rules): ${evaluated.length} of ${expected} from ${rulePath} evaluated after run 2: ${evaluated.map((r) => `${r.name} ${r.health}${r.lastError ? ` (${r.lastError})` : ""} ${r.state ?? ""}`.trim()).join(", ")}`,
      );
      const certSel = (parseRules(rules) ?? [])
        .flatMap((r) => selectors(r.expr))
        .find((x) => /certificate_expiry/.test(x.name))?.text;
      const certLeft = certSel ? await query(prom.url, `${certSel} - time()`) : [];
      if (certLeft.length) {
        evidence.push(
          `pending = the expression holds and its for: has not elapsed; ${certSel} is ${(Number(certLeft[0].value[1]) / 86400).toFixed(1)} days ahead (the throwaway certificate the pod serves), so MailCertificateExpiresSoon's expression holds as it should`,
        );
      }
      evidence.push(
        "alert timing (for:, the Stale and certificate thresholds) is not rehearsed here: tests/monitoring/promtool.test.ts runs promtool's rule unit tests on the rendered file",
      );
      save("prometheus.log", prom.log());
      return { name: NAME, verdict: ok ? "pass" : "fail", evidence, files };
    } catch (err) {
      evidence.push(`error: ${redact((err as Error).message.split("\n")[0], secrets)}`);
      return { name: NAME, verdict: "fail", evidence, files };
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      await Promise.all(servers.map((s) => stopChild(s.child)));
      const server = standIns?.server;
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
      fs.rmSync(work, { recursive: true, force: true });
    }
  };
}

/** The alerting rules of the rendered file. */
function parseRules(text: string): { alert: string; expr: string }[] | undefined {
  const doc = parse(text) as { groups?: { rules?: { alert: string; expr: string }[] }[] };
  return doc.groups?.flatMap((g) => g.rules ?? []);
}
