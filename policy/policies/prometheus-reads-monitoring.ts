/**
 * prometheus-reads-monitoring: every scrape target and alert rule the stack ships is read by the
 * Prometheus the cluster runs.
 *
 * Why: the cluster's Prometheus is the prometheus-community `prometheus` chart (release
 * `prometheus`, ViktorBarzin/infra stacks/monitoring). It installs no monitoring.coreos.com CRDs
 * and reads no PrometheusRule, PodMonitor, ServiceMonitor or Probe: such objects either fail to
 * apply or sit unread, and their alerts never fire. It loads rule files only from the paths its
 * prometheus.yml lists under `rule_files`, from volumes its server Deployment mounts, and it
 * scrapes pods through the `prometheus.io/scrape|port|path` annotations of its kubernetes-pods job.
 * A rules ConfigMap nobody mounts is as inert as a PrometheusRule.
 *
 * What the server reads, judged its way: every key of the rules ConfigMap that a `rule_files`
 * glob matches under a mount is loaded whatever its name, and one file Prometheus refuses fails
 * the whole rule reload (see lib/rulefmt.ts), so each such key must be a rule file by rulefmt;
 * a key no glob matches is not read. The PromQL of an `expr` and the templates of an alerting
 * rule are not parsed here: the pack accepts only texts listed in `checkedExpressions`, which
 * `promtool check rules` accepted (tests/policy/prometheus-rules.test.ts runs it on each), and
 * refuses any other as "cannot verify". A scraped pod without `prometheus.io/port` is judged by
 * the owner's kubernetes-pods relabelling (world/today/kubernetes.yaml, prometheus.yml): its
 * `__address__` rule needs a port of digits, so without one the address stays the one the
 * kubernetes_sd pod role gives each target, one per declared port of every container and init
 * container and a port-free one per container that declares none (discovery/kubernetes/pod.go
 * `buildPod`), which v2.48.1 scrapes on 80 (443 for https) (scrape/target.go `PopulateLabels`).
 * The label `app.kubernetes.io/managed-by: Helm` proves nothing here: the engine hands a pack no
 * read resource, so a ConfigMap the pack sees is the stack's own and is judged like any other.
 *
 * How the pack knows what the server loads: the program reads the live server Deployment and its
 * prometheus.yml at preview and records what it saw on the rules ConfigMap, in the annotation
 * `mailserver.viktorbarzin.me/observed-prometheus-server` (JSON: server, configMap, mounts,
 * watched, ruleFiles). This policy re-checks that record; a rules ConfigMap without it is unproven.
 *
 * Fix: with `setup: chart`, ship rules as a rule file in a ConfigMap in the chart's namespace,
 * apply the chart values the program exports (`prometheusChartValues`) so the server mounts it,
 * its config-reloader watches it and `rule_files` lists it; scrape through the pod annotations,
 * with `prometheus.io/port` a port a container of the pod declares; list a new or changed rule
 * expression in `checkedExpressions` after `promtool check rules` accepts it. If the cluster moves to the
 * Prometheus Operator, set `setup: operator` here and in `mailserver:monitoring.prometheus`.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { parse } from "yaml";
import { readConfig } from "../lib/config";
import { goGlobMatches } from "../lib/go-glob";
import { judgeRuleFile } from "../lib/rulefmt";
import { containersOf, hasKind, kindOf, nameOf, namespaceOf, podSpecOf } from "../lib/k8s";
import { memoize } from "../lib/memo";
import { at, isObject, list, PreviewGaps, str } from "../lib/plain";
import { plainResources, type StackResource } from "../lib/stack";

export const OBSERVED_SERVER_ANNOTATION = "mailserver.viktorbarzin.me/observed-prometheus-server";
const OPERATOR_GROUP = "monitoring.coreos.com";
const OPERATOR_KINDS = ["PrometheusRule", "PodMonitor", "ServiceMonitor", "Probe"];

/**
 * The program's rule texts (components/monitoring.ts#alertRuleGroups, prod config), each accepted
 * by promtool check rules (tests/policy/prometheus-rules.test.ts).
 */
const CHECKED_EXPRESSIONS = [
  '(kube_deployment_status_replicas_available{namespace="mailserver", deployment="mailserver"} or on() vector(0)) < 1',
  'email_roundtrip_success{job="email-roundtrip-monitor"} == 0',
  'time() - email_roundtrip_last_success_timestamp{job="email-roundtrip-monitor"} > 3600',
  'last_over_time(email_roundtrip_imaps_certificate_expiry_timestamp_seconds{job="email-roundtrip-monitor"}[3600s]) - time() < 14 * 86400',
  "The certificate the mail server presents on IMAPS (as email-roundtrip-monitor saw it) expires in {{ $value | humanizeDuration }}. The cluster's tls-secret is renewed weekly by Woodpecker's renew-tls (failures go to Slack) and copied into every namespace by Kyverno's sync-tls-secret: check that pipeline, tls-secret in namespace mailserver, and that the mail pod reloaded it.",
  'absent(email_roundtrip_success{job="email-roundtrip-monitor"})',
  'sum by (namespace) (increase(dovecot_auth_failures_total{namespace="mailserver"}[15m])) > 30',
  'absent(dovecot_build_info{namespace="mailserver"})',
  '(sum by (namespace) (increase(dovecot_auth_success_total{namespace="mailserver"}[2h])) == 0) and on() (changes(email_roundtrip_last_success_timestamp{job="email-roundtrip-monitor"}[2h]) > 0)',
];

const configSchema: PolicyConfigSchema = {
  properties: {
    setup: {
      type: "string",
      enum: ["chart", "operator"],
      default: "chart",
      description:
        "The cluster's Prometheus: chart (prometheus-community chart, pod annotations and rule_files) or operator (Prometheus Operator CRDs)",
    },
    checkedExpressions: {
      type: "array",
      items: { type: "string" },
      default: CHECKED_EXPRESSIONS,
      description:
        "Texts Prometheus parses in a rule file (an expr's PromQL, an alerting rule's label or annotation template with {{) that promtool check rules accepted, verbatim",
    },
  },
};

interface Config {
  setup: "chart" | "operator";
  checkedExpressions: string[];
}

interface Observation {
  server: string;
  configMap: string;
  mounts: string[];
  watched: string[];
  ruleFiles: string[];
}

const CHECKED_KEY =
  "prometheus-reads-monitoring.checkedExpressions (the schema default and policy/config.prod.json)";

const CHART_FIX =
  "ship it as a rule file in a ConfigMap in the chart's namespace and apply the chart values the program exports as prometheusChartValues (server.extraVolumes + server.extraVolumeMounts, configmapReload.prometheus.extraVolumeDirs + extraVolumeMounts, serverFiles.prometheus.yml.rule_files), then run the preview again";

/** Is the text a Prometheus rule file (`groups:` with `rules:`)? Parsed once per distinct text. */
const holdsRules = memoize((text: string): boolean => {
  try {
    const doc = parse(text) as { groups?: unknown } | null;
    const groups: unknown[] = Array.isArray(doc?.groups) ? doc.groups : [];
    return groups.some(
      (g) => typeof g === "object" && g !== null && Array.isArray((g as { rules?: unknown }).rules),
    );
  } catch {
    return false;
  }
});

/**
 * Keys of a ConfigMap's data that hold a Prometheus rule file, whatever their name: Prometheus
 * loads what its rule_files globs match (cmd/prometheus/main.go, filepath.Glob), not by extension.
 */
function ruleFileKeys(data: Record<string, unknown>): string[] {
  return Object.entries(data)
    .filter(([, text]) => typeof text === "string" && holdsRules(text))
    .map(([key]) => key);
}

const judgeText = memoize(judgeRuleFile);

/** The glob of `obs` that loads `key` from one of its mounts, if one does. */
function loadingGlob(obs: Observation, key: string): string | undefined {
  for (const m of obs.mounts) {
    const glob = obs.ruleFiles.find((g) => goGlobMatches(g, `${m}/${key}`));
    if (glob) return `${m}/${key} matches ${glob}`;
  }
  return undefined;
}

/** What Prometheus refuses, or the pack cannot verify, in the keys `obs` loads. */
function loadedFileProblems(
  obs: Observation,
  data: Record<string, unknown>,
  cfg: Config,
): string[] {
  const problems: string[] = [];
  for (const [key, text] of Object.entries(data)) {
    const why = loadingGlob(obs, key);
    if (!why) continue;
    if (typeof text !== "string") {
      problems.push(`key ${key} (${why}) is not text`);
      continue;
    }
    const j = judgeText(text);
    if (j.errors.length > 0) {
      problems.push(
        `key ${key} (${why}) is not a rule file Prometheus accepts (${j.errors.join("; ")}), and one such file makes the server refuse the whole rule reload (rules/manager.go: error loading rules, previous rule set restored; at startup it exits)`,
      );
      continue;
    }
    if (j.unmodelled.length > 0) {
      problems.push(
        `cannot verify: key ${key} (${why}) is YAML the pack does not read as Prometheus' rulefmt does (${j.unmodelled.join("; ")}); write it plainly (no tags, aliases only for labels and annotations, one document)`,
      );
    }
    const unchecked = j.texts.filter((t) => !cfg.checkedExpressions.includes(t.text));
    if (unchecked.length > 0) {
      problems.push(
        `cannot verify: key ${key} (${why}) has ${unchecked.map((t) => `${t.where} ${JSON.stringify(t.text)}`).join(", ")}, which Prometheus parses (PromQL, Go templates) and the pack cannot offline; check the file with promtool check rules and list each text in ${CHECKED_KEY}`,
      );
    }
  }
  return problems;
}

function parseObservation(text: string | undefined): Observation | undefined {
  if (!text) return undefined;
  try {
    const o = JSON.parse(text) as Partial<Observation>;
    const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
    if (typeof o.server !== "string" || typeof o.configMap !== "string") return undefined;
    if (!strings(o.mounts) || !strings(o.watched) || !strings(o.ruleFiles)) return undefined;
    return o as Observation;
  } catch {
    return undefined;
  }
}

/**
 * What the kubelet's AtomicWriter keeps beside the keys of a ConfigMap volume: the `..data`
 * symlink, its `..data_tmp` while it swaps, and a `..<UTC time>.<random>` directory
 * (kubernetes pkg/volume/util/atomic_writer.go, dataDirName, newDataDirName, newTimestampDir).
 * Go's `*` matches their leading dots, and Prometheus reads every match as a rule file.
 */
const ATOMIC_WRITER_NAMES = ["..data", "..data_tmp", "..2026_12_06_21_22_00.1234567890"];

/** Why the observed server does not load `keys` of ConfigMap `ns/name`; [] when it does. */
function unloaded(obs: Observation, ns: string, name: string, keys: string[]): string[] {
  const serverNs = obs.server.split("/")[0];
  if (obs.configMap !== name || serverNs !== ns) {
    return [
      `the recorded server ${obs.server} was checked for ConfigMap ${obs.configMap}, not ${ns}/${name}`,
    ];
  }
  if (obs.mounts.length === 0) return [`${obs.server} does not mount it as a directory`];
  const writerNames = obs.mounts.flatMap((m) =>
    ATOMIC_WRITER_NAMES.flatMap((n) => {
      const glob = obs.ruleFiles.find((g) => goGlobMatches(g, `${m}/${n}`));
      return glob ? [`${glob} also matches ${m}/${n}`] : [];
    }),
  );
  if (writerNames.length > 0) {
    return [
      `${writerNames.join(", ")}: the kubelet's directories of the ConfigMap volume, which Prometheus cannot read as rule files ("is a directory"), so every rule load fails; match the keys (e.g. *.yml), not *`,
    ];
  }
  const problems = keys
    .filter(
      (key) =>
        !obs.mounts.some((m) => obs.ruleFiles.some((glob) => goGlobMatches(glob, `${m}/${key}`))),
    )
    .map(
      (key) =>
        `no rule_files entry of ${obs.server} (${obs.ruleFiles.join(", ") || "none"}) loads ${obs.mounts.map((m) => `${m}/${key}`).join(" or ")}`,
    );
  if (obs.watched.length === 0) {
    problems.push(`no config-reloader of ${obs.server} watches it, so changes wait for a restart`);
  }
  return problems;
}

function checkRuleConfigMap(
  r: StackResource,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const data = at(r.props, "data");
  if (gaps.check(data, r.name) || !isObject(data)) return;
  // A file not known yet may be a rule file: leave the verdict to the preview advisory.
  if (Object.entries(data).some(([key, text]) => gaps.check(text, `${r.name} data.${key}`))) return;
  const keys = ruleFileKeys(data);
  const raw = at(r.props, "metadata", "annotations", OBSERVED_SERVER_ANNOTATION);
  // A rules ConfigMap: one holding a rule file, or one the program recorded a server for (its
  // keys may all be broken). No Helm exemption: every ConfigMap the pack sees is the stack's own.
  if (keys.length === 0 && raw === undefined) return;
  const name = nameOf(r.props, r.name);
  const ns = namespaceOf(r.props);
  if (gaps.check(name, r.name) || gaps.check(ns, r.name)) return;
  const where =
    keys.length > 0
      ? `ConfigMap ${ns}/${name} holds Prometheus rules (${keys.join(", ")})`
      : `ConfigMap ${ns}/${name} carries ${OBSERVED_SERVER_ANNOTATION}`;
  if (cfg.setup === "operator") {
    report(
      `${where}, but the Prometheus Operator loads rules from PrometheusRule objects, not ConfigMaps; ship them as a PrometheusRule (mailserver:monitoring.prometheus.setup: operator).`,
      r.urn,
    );
    return;
  }
  if (gaps.check(raw, `${r.name} ${OBSERVED_SERVER_ANNOTATION}`)) return;
  const obs = parseObservation(str(raw));
  if (!obs) {
    report(
      `${where}, but carries no readable ${OBSERVED_SERVER_ANNOTATION} record of the live Prometheus server that loads it, so nothing proves any server reads it; read the server Deployment and its prometheus.yml at preview (components/monitoring.ts does) and ${CHART_FIX}.`,
      r.urn,
    );
    return;
  }
  const problems = unloaded(obs, ns, name, keys);
  if (obs.configMap === name && obs.server.split("/")[0] === ns) {
    problems.push(...loadedFileProblems(obs, data, cfg));
  }
  if (problems.length > 0) {
    report(
      `${where}, but the chart's server does not load it: ${problems.join("; ")}; ${CHART_FIX}.`,
      r.urn,
    );
  }
}

function checkOperatorKind(r: StackResource, cfg: Config, report: ReportViolation): void {
  const kind = kindOf(r.type);
  if (cfg.setup !== "chart" || !kind || !OPERATOR_KINDS.includes(kind)) return;
  if (!r.type.startsWith(`kubernetes:${OPERATOR_GROUP}/`)) return;
  report(
    `${kind} ${r.name} needs the Prometheus Operator, but the cluster's Prometheus is the prometheus-community chart, which installs no ${OPERATOR_GROUP} CRDs and reads no ${kind}; scrape through the pod annotations prometheus.io/scrape, port and path, and for rules ${CHART_FIX}. If the cluster now runs the Operator, set this policy's setup (and mailserver:monitoring.prometheus.setup) to operator.`,
    r.urn,
  );
}

/** A pod asking the kubernetes-pods job to scrape a port none of its containers declares. */
function checkScrapePort(
  r: StackResource,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  if (cfg.setup !== "chart") return;
  const podSpec = podSpecOf(r.type, r.props);
  const kind = kindOf(r.type);
  if (!kind || podSpec === undefined) return;
  // Where the pod's metadata sits, as podSpecOf finds its spec (a CronJob's under jobTemplate).
  const template =
    kind === "Pod"
      ? r.props
      : kind === "CronJob"
        ? at(r.props, "spec", "jobTemplate", "spec", "template")
        : at(r.props, "spec", "template");
  const annotations = at(template, "metadata", "annotations");
  if (gaps.check(annotations, r.name) || !isObject(annotations)) return;
  if (str(annotations["prometheus.io/scrape"]) !== "true") return;
  const rawPort = annotations["prometheus.io/port"];
  const rawScheme = annotations["prometheus.io/scheme"];
  if (gaps.check(rawPort, r.name) || gaps.check(rawScheme, r.name)) return;
  const port = typeof rawPort === "number" ? String(rawPort) : str(rawPort);
  // Every container's ports, init containers included (the pod role discovers those too).
  const declared: string[] = [];
  const portless: string[] = [];
  for (const field of ["containers", "initContainers"]) {
    if (gaps.check(at(podSpec, field), r.name)) return;
  }
  for (const c of containersOf(podSpec)) {
    if (c.where.startsWith("ephemeralContainers")) continue;
    const ports = c.container.ports;
    if (gaps.check(ports, r.name)) return;
    const own = list(ports);
    if (own.length === 0) portless.push(c.name || c.where);
    for (const p of own) {
      const n = isObject(p) ? p.containerPort : undefined;
      if (gaps.check(n, r.name)) return;
      if (typeof n === "number") declared.push(String(n));
    }
  }
  const who = `${kind} ${r.name}`;
  // The kubernetes-pods job replaces __address__ only when the annotation is digits ((\d+);ip).
  if (port !== undefined && /^\d+$/.test(port)) {
    if (!declared.includes(port)) {
      report(
        `${who} asks Prometheus to scrape port ${port} (prometheus.io/port), which no container of the pod declares (ports: ${declared.join(", ") || "none"}); point the annotation at the metrics port, e.g. Dovecot's stats listener.`,
        r.urn,
      );
    }
    return;
  }
  const scheme = str(rawScheme) === "https" ? "https" : "http";
  const defaultPort = scheme === "https" ? "443" : "80";
  const targets = [...new Set([...declared, ...(portless.length > 0 ? [defaultPort] : [])])];
  const asked =
    port === undefined
      ? "without prometheus.io/port"
      : `with prometheus.io/port ${JSON.stringify(port)}, which is no port number, so the kubernetes-pods job keeps the discovered address`;
  // One target on a declared port: as if the annotation named it.
  if (targets.length === 1 && declared.includes(targets[0] ?? "")) return;
  if (targets.length === 0) return; // a pod without containers is refused by the API server
  const parts = [
    declared.length > 0
      ? `every declared container port (${[...new Set(declared)].join(", ")})`
      : "",
    portless.length > 0
      ? `port ${defaultPort} (the ${scheme} default) for the containers that declare none (${portless.join(", ")}), which no container declares`
      : "",
  ].filter(Boolean);
  report(
    `${who} asks Prometheus to scrape it (prometheus.io/scrape) ${asked}: the kubernetes_sd pod role then gives one target per container port, so the kubernetes-pods job scrapes ${parts.join(" and ")} at the metrics path, and each that serves no metrics is a target that is down; set prometheus.io/port to the one metrics port a container declares.`,
    r.urn,
  );
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  // Operator kinds, rule ConfigMaps and pod specs of any kind.
  for (const r of plainResources(args.resources, hasKind)) {
    checkOperatorKind(r, cfg, report);
    if (kindOf(r.type) === "ConfigMap") checkRuleConfigMap(r, cfg, report, gaps);
    checkScrapePort(r, cfg, report, gaps);
  }
  gaps.settle();
}

export const prometheusReadsMonitoring: StackValidationPolicy = {
  name: "prometheus-reads-monitoring",
  description:
    "Scrape targets and alert rules reach the Prometheus the cluster runs (chart: pod annotations and mounted rule files; operator: CRDs).",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
