/**
 * The monitoring half of scenario "3 Probe and Prometheus": a real Prometheus server configured as
 * the owner's prometheus-community chart 25.8.2 configures it, and a real Pushgateway.
 *
 * The server's config is the chart's own `prometheus.yml` as the program read it at preview
 * (ConfigMap monitoring/prometheus-server in ctx.run's reads, answered from world/ready: the chart's
 * templates/cm.yaml with the owner's serverFiles), its flags are the chart's container args
 * (Deployment monitoring/prometheus-server, templates/deploy.yaml) and the rule file sits where the
 * chart mounts the rules ConfigMap (`server.extraVolumeMounts`). Only the Kubernetes service
 * discovery is replaced: each `kubernetes_sd_configs` of role pod or service becomes a
 * `static_configs` entry carrying the `__meta_kubernetes_*` labels that discovery would attach
 * (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#kubernetes_sd_config),
 * so the chart's own relabel_configs pick the address, path and labels. Jobs of role endpoints or
 * node (the API server, kubelets, kube-state-metrics) have no stand-in and are left out.
 *
 * The files live in the server's own mount namespace: /etc is an overlay there (as in the mail
 * pod), so /etc/config/prometheus.yml and the rules directory exist for it alone.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { track } from "../cli/children";
import type { CapturedResource, ProgramRun } from "../offline/mock-program";
import { observeServer, RULES_CONFIGMAP, SERVER_CONFIG_KEY } from "../../lib/charts/prometheus";

/** The chart release's server objects the program reads at preview (lib/charts/prometheus.ts). */
const CHART_NAMESPACE = "monitoring";
const SERVER = "prometheus-server";
/** The pushgateway subchart's Service (world/today/kubernetes.yaml, prometheus-pushgateway 2.4.2). */
const PUSHGATEWAY_SERVICE = "prometheus-prometheus-pushgateway";
/** The rehearsal's intervals; the chart's are scrape 2m, evaluation 1m (world prometheus.yml). */
export const REHEARSAL_INTERVAL = "2s";

type Obj = Record<string, unknown>;

export interface ChartServer {
  /** `--config.file` of the server container (/etc/config/prometheus.yml). */
  configFile: string;
  /** The server container's args as the chart renders them. */
  args: string[];
  /** The server container's image (quay.io/prometheus/prometheus:<tag>). */
  image: string;
  /** The chart config's global scrape_interval/evaluation_interval/scrape_timeout. */
  intervals: string;
  /** The chart's prometheus.yml text. */
  prometheusYml: string;
  /** Directories where the server mounts the rules ConfigMap. */
  rulesMounts: string[];
  ruleFiles: string[];
}

function meta(o: { inputs: Obj }): { name?: string; namespace?: string } {
  return o.inputs.metadata ?? {};
}

function findRead(run: ProgramRun, type: string, name: string): CapturedResource | undefined {
  return run.reads.find(
    (r) =>
      r.type === type && meta(r).name === name && (meta(r).namespace ?? "") === CHART_NAMESPACE,
  );
}

/** The chart's server as the program read it (throws naming what is missing). */
export function chartServer(run: ProgramRun): ChartServer {
  const deployment = findRead(run, "kubernetes:apps/v1:Deployment", SERVER);
  const configMap = findRead(run, "kubernetes:core/v1:ConfigMap", SERVER);
  if (!deployment || !configMap) {
    throw new Error(`the program read no ${CHART_NAMESPACE}/${SERVER} Deployment and ConfigMap`);
  }
  const spec = deployment.inputs.spec as Parameters<typeof observeServer>[1];
  const prometheusYml =
    (configMap.inputs.data as Record<string, string> | undefined)?.[SERVER_CONFIG_KEY] ?? "";
  const obs = observeServer(`${CHART_NAMESPACE}/${SERVER}`, spec, prometheusYml, RULES_CONFIGMAP);
  const container = (spec?.template?.spec?.containers ?? []).find((c) =>
    (c.args ?? []).some((a) => a.startsWith("--config.file=")),
  );
  const args = container?.args ?? [];
  const global = (parse(prometheusYml) as { global?: Record<string, string> } | null)?.global ?? {};
  const intervals = ["scrape_interval", "evaluation_interval", "scrape_timeout"]
    .map((k) => global[k] ?? "default")
    .join("/");
  const configFile = args.find((a) => a.startsWith("--config.file="))?.slice(14) ?? "";
  return {
    configFile,
    args,
    image: (container as { image?: string } | undefined)?.image ?? "?",
    intervals,
    prometheusYml,
    rulesMounts: obs.mounts,
    ruleFiles: obs.ruleFiles,
  };
}

/** Prometheus' label-name sanitising of annotation and label keys (strutil.SanitizeLabelName). */
function sanitize(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, "_");
}

function kv(prefix: string, map: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) {
    out[`${prefix}_${sanitize(k)}`] = v;
    out[`${prefix}present_${sanitize(k)}`] = "true";
  }
  return out;
}

export interface StaticTarget {
  targets: string[];
  labels: Record<string, string>;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { name?: string; ports?: { name?: string; containerPort?: number }[] }[] };
}

/**
 * The targets the pod role discovers for one pod of the template: one per declared container
 * port, `__address__` `<pod IP>:<port>`, with the pod's labels and annotations as meta labels.
 */
export function podTargets(
  namespace: string,
  podName: string,
  podIp: string,
  template: PodTemplate,
): StaticTarget[] {
  const base = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_pod_name: podName,
    __meta_kubernetes_pod_ip: podIp,
    __meta_kubernetes_pod_phase: "Running",
    __meta_kubernetes_pod_ready: "true",
    __meta_kubernetes_pod_node_name: "rehearsal",
    ...kv("__meta_kubernetes_pod_label", template.metadata?.labels),
    ...kv("__meta_kubernetes_pod_annotation", template.metadata?.annotations),
  };
  return (template.spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? []).map((p) => ({
      targets: [`${podIp}:${p.containerPort}`],
      labels: {
        ...base,
        __meta_kubernetes_pod_container_name: c.name ?? "",
        __meta_kubernetes_pod_container_port_name: p.name ?? "",
        __meta_kubernetes_pod_container_port_number: String(p.containerPort),
        __meta_kubernetes_pod_container_port_protocol: "TCP",
      },
    })),
  );
}

interface ServiceObject {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { type?: string; ports?: { name?: string; port?: number; protocol?: string }[] };
}

/**
 * The targets the service role discovers for a Service: one per port. Its `__address__`
 * (`<service>.<namespace>.svc:<port>` in the cluster) is `address`, where the stand-in listens.
 */
export function serviceTargets(svc: ServiceObject, address: string): StaticTarget[] {
  const m = svc.metadata ?? {};
  return (svc.spec?.ports ?? []).map((p) => ({
    targets: [address],
    labels: {
      __meta_kubernetes_namespace: m.namespace ?? "",
      __meta_kubernetes_service_name: m.name ?? "",
      __meta_kubernetes_service_type: svc.spec?.type ?? "ClusterIP",
      __meta_kubernetes_service_port_name: p.name ?? "",
      __meta_kubernetes_service_port_number: String(p.port),
      __meta_kubernetes_service_port_protocol: p.protocol ?? "TCP",
      ...kv("__meta_kubernetes_service_label", m.labels),
      ...kv("__meta_kubernetes_service_annotation", m.annotations),
    },
  }));
}

/** The pushgateway Service as the world records it (the program does not read it). */
export function pushgatewayService(world: {
  files: Record<string, { facts: { id: string; value: unknown }[] }>;
}): ServiceObject {
  const id = `kubernetes:core/v1:Service ${CHART_NAMESPACE}/${PUSHGATEWAY_SERVICE}`;
  const f = world.files.kubernetes?.facts.find((x) => x.id === id);
  if (!f) throw new Error(`world has no ${id}`);
  return f.value as ServiceObject;
}

export interface RehearsalConfig {
  text: string;
  /** Jobs kept, with the role their discovery had. */
  kept: { job: string; role: string; honorLabels: boolean }[];
  /** Jobs left out, and why. */
  dropped: { job: string; why: string }[];
}

/**
 * The chart's prometheus.yml with the Kubernetes discovery replaced by static stand-ins per role;
 * the intervals shortened for the rehearsal; the Alertmanager left out (none runs here).
 */
export function rehearsalConfig(
  chartYml: string,
  standIns: Record<"pod" | "service", StaticTarget[]>,
): RehearsalConfig {
  const doc = parse(chartYml) as { global?: Obj; scrape_configs?: Obj[]; alerting?: unknown };
  const kept: RehearsalConfig["kept"] = [];
  const dropped: RehearsalConfig["dropped"] = [];
  const jobs: Obj[] = [];
  for (const job of doc.scrape_configs ?? []) {
    const name = String(job.job_name);
    const sd = job.kubernetes_sd_configs as { role?: string }[] | undefined;
    const role = sd?.length === 1 ? sd[0].role : undefined;
    if (!sd) {
      dropped.push({ job: name, why: "static target of the chart server itself" });
      continue;
    }
    if (role !== "pod" && role !== "service") {
      dropped.push({ job: name, why: `role ${role ?? "?"}: no stand-in` });
      continue;
    }
    const copy: Obj = { ...job };
    delete copy.kubernetes_sd_configs;
    // Per-job intervals (the -slow jobs' 5m) give way to the rehearsal's.
    delete copy.scrape_interval;
    delete copy.scrape_timeout;
    copy.static_configs = standIns[role];
    jobs.push(copy);
    kept.push({ job: name, role, honorLabels: job.honor_labels === true });
  }
  const out: Obj = {
    global: {
      ...doc.global,
      scrape_interval: REHEARSAL_INTERVAL,
      evaluation_interval: REHEARSAL_INTERVAL,
      scrape_timeout: REHEARSAL_INTERVAL,
    },
    ...Object.fromEntries(
      Object.entries(doc).filter(([k]) => !/^(global|scrape_configs|alerting)$/.test(k)),
    ),
    scrape_configs: jobs,
  };
  if (doc.alerting) dropped.push({ job: "alerting.alertmanagers", why: "no Alertmanager here" });
  return { text: stringify(out, { aliasDuplicateObjects: false }), kept, dropped };
}

/** `<package> <version>` of an installed Debian package, or "" when dpkg does not know it. */
export function debianVersion(pkg: string): string {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

export interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}

function logged(child: ChildProcess, file: string): () => string {
  const out = fs.createWriteStream(file);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
}

/** Debian's prometheus-pushgateway on 127.0.0.1:`port`, no persistence file. */
export function startPushgateway(port: number, dir: string): Server {
  const child = track(
    spawn("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  return { child, url: `http://127.0.0.1:${port}`, log: logged(child, path.join(dir, "pg.log")) };
}

/**
 * The Prometheus server with the chart's args (storage path and listen address excepted), in a
 * mount namespace where `etcFiles` (paths under /etc → text) lie over the host's /etc.
 */
export function startPrometheus(
  server: ChartServer,
  etcFiles: Record<string, string>,
  port: number,
  dir: string,
): Server {
  const upper = path.join(dir, "etc");
  const work = path.join(dir, "etc.work");
  fs.mkdirSync(work, { recursive: true });
  for (const [file, text] of Object.entries(etcFiles)) {
    if (!file.startsWith("/etc/")) throw new Error(`${file}: only files under /etc are laid over`);
    const target = path.join(upper, file.slice(5));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
  }
  const data = path.join(dir, "data");
  fs.mkdirSync(data, { recursive: true });
  const args = [
    ...server.args.filter((a) => !/^--(storage\.tsdb\.path|web\.listen-address)=/.test(a)),
    `--storage.tsdb.path=${data}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  const script =
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && shift 2 && exec "$@"';
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
        upper,
        work,
        "prometheus",
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    log: logged(child, path.join(dir, "prometheus.log")),
  };
}

/** GET of a URL's body (text). */
export async function getText(url: string, ms = 3000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

/** A Prometheus HTTP API call (https://prometheus.io/docs/prometheus/latest/querying/api/). */
export async function api<T>(base: string, p: string, query: Record<string, string> = {}) {
  const qs = new URLSearchParams(query).toString();
  const body = JSON.parse(await getText(`${base}${p}${qs ? `?${qs}` : ""}`)) as {
    status: string;
    data: T;
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${p}: ${body.error ?? body.status}`);
  return body.data;
}

export interface Selector {
  name: string;
  /** The selector as the rule writes it, e.g. `name{job="x"}`. */
  text: string;
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on"]);

/**
 * The vector selectors of a PromQL expression: metric names with their matchers. Skipped: strings,
 * range and subquery brackets, grouping clauses, keywords, and names followed by `(` (functions)
 * or by a `by`/`without` clause and `(` (aggregation operators, `sum by (x) (...)`).
 */
export function selectors(expr: string): Selector[] {
  const re =
    /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|(?<![\w.:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\()?/g;
  const out = new Map<string, Selector>();
  for (const m of expr.matchAll(re)) {
    const [, name, matchers, call] = m;
    if (!name || call || KEYWORDS.has(name)) continue;
    const text = `${name}${(matchers ?? "").replace(/\s+/g, " ")}`;
    out.set(text, { name, text });
  }
  return [...out.values()];
}

/** Whether a job's metric_relabel_configs keep `name` (keep/drop on __name__ only). */
export function keepsMetric(job: Obj | undefined, name: string): boolean {
  for (const r of (job?.metric_relabel_configs ?? []) as Obj[]) {
    const src = (r.source_labels ?? []) as string[];
    if (src.length !== 1 || src[0] !== "__name__") continue;
    const hit = new RegExp(`^(?:${String(r.regex)})$`).test(name);
    if (r.action === "keep" && !hit) return false;
    if (r.action === "drop" && hit) return false;
  }
  return true;
}

/** The chart's job of that name, from its prometheus.yml. */
export function chartJob(chartYml: string, job: string): Obj | undefined {
  const doc = parse(chartYml) as { scrape_configs?: Obj[] };
  return doc.scrape_configs?.find((j) => j.job_name === job);
}

/** Ends a child: SIGTERM, then SIGKILL after `ms`; resolves once it has exited. */
export async function stopChild(child: ChildProcess | undefined, ms = 3000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), ms);
  await exited;
  clearTimeout(t);
}
