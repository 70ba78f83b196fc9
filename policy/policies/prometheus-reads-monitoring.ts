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
 * How the pack knows what the server loads: the program reads the live server Deployment and its
 * prometheus.yml at preview and records what it saw on the rules ConfigMap, in the annotation
 * `mailserver.viktorbarzin.me/observed-prometheus-server` (JSON: server, configMap, mounts,
 * watched, ruleFiles). This policy re-checks that record; a rules ConfigMap without it is unproven.
 *
 * Fix: with `setup: chart`, ship rules as a rule file in a ConfigMap in the chart's namespace,
 * apply the chart values the program exports (`prometheusChartValues`) so the server mounts it,
 * its config-reloader watches it and `rule_files` lists it; scrape through the pod annotations,
 * with `prometheus.io/port` a port a container of the pod declares. If the cluster moves to the
 * Prometheus Operator, set `setup: operator` here and in `mailserver:monitoring.prometheus`.
 */
import * as path from "node:path";
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { parse } from "yaml";
import { readConfig } from "../lib/config";
import { containersOf, hasKind, kindOf, nameOf, namespaceOf, podSpecOf } from "../lib/k8s";
import { memoize } from "../lib/memo";
import { at, isObject, list, PreviewGaps, str } from "../lib/plain";
import { plainResources, type StackResource } from "../lib/stack";

export const OBSERVED_SERVER_ANNOTATION = "mailserver.viktorbarzin.me/observed-prometheus-server";
const OPERATOR_GROUP = "monitoring.coreos.com";
const OPERATOR_KINDS = ["PrometheusRule", "PodMonitor", "ServiceMonitor", "Probe"];

const configSchema: PolicyConfigSchema = {
  properties: {
    setup: {
      type: "string",
      enum: ["chart", "operator"],
      default: "chart",
      description:
        "The cluster's Prometheus: chart (prometheus-community chart, pod annotations and rule_files) or operator (Prometheus Operator CRDs)",
    },
  },
};

interface Config {
  setup: "chart" | "operator";
}

interface Observation {
  server: string;
  configMap: string;
  mounts: string[];
  watched: string[];
  ruleFiles: string[];
}

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

/** Keys of a ConfigMap's data that hold a Prometheus rule file. */
function ruleFileKeys(data: Record<string, unknown>): string[] {
  return Object.entries(data)
    .filter(([key, text]) => /\.ya?ml$/.test(key) && typeof text === "string")
    .filter(([, text]) => holdsRules(text as string))
    .map(([key]) => key);
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

/** Why the observed server does not load `keys` of ConfigMap `ns/name`; [] when it does. */
function unloaded(obs: Observation, ns: string, name: string, keys: string[]): string[] {
  const serverNs = obs.server.split("/")[0];
  if (obs.configMap !== name || serverNs !== ns) {
    return [
      `the recorded server ${obs.server} was checked for ConfigMap ${obs.configMap}, not ${ns}/${name}`,
    ];
  }
  if (obs.mounts.length === 0) return [`${obs.server} does not mount it as a directory`];
  const problems = keys
    .filter(
      (key) =>
        !obs.mounts.some((m) =>
          obs.ruleFiles.some((glob) => path.posix.matchesGlob(`${m}/${key}`, glob)),
        ),
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
  if (keys.length === 0) return;
  // A Helm release's own ConfigMap (e.g. the chart server's alerting_rules.yml, read with .get())
  // is loaded by its chart, not shipped by this stack.
  if (str(at(r.props, "metadata", "labels", "app.kubernetes.io/managed-by")) === "Helm") return;
  const name = nameOf(r.props, r.name);
  const ns = namespaceOf(r.props);
  if (gaps.check(name, r.name) || gaps.check(ns, r.name)) return;
  const where = `ConfigMap ${ns}/${name} holds Prometheus rules (${keys.join(", ")})`;
  if (cfg.setup === "operator") {
    report(
      `${where}, but the Prometheus Operator loads rules from PrometheusRule objects, not ConfigMaps; ship them as a PrometheusRule (mailserver:monitoring.prometheus.setup: operator).`,
      r.urn,
    );
    return;
  }
  const raw = at(r.props, "metadata", "annotations", OBSERVED_SERVER_ANNOTATION);
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
  if (gaps.check(rawPort, r.name)) return;
  const port = typeof rawPort === "number" ? String(rawPort) : str(rawPort);
  if (port === undefined) return;
  const declared: string[] = [];
  for (const c of containersOf(podSpec)) {
    for (const p of list(c.container.ports)) {
      const n = isObject(p) ? p.containerPort : undefined;
      if (gaps.check(n, r.name)) return;
      if (typeof n === "number") declared.push(String(n));
    }
  }
  if (!declared.includes(port)) {
    report(
      `${kindOf(r.type)} ${r.name} asks Prometheus to scrape port ${port} (prometheus.io/port), which no container of the pod declares (ports: ${declared.join(", ") || "none"}); point the annotation at the metrics port, e.g. Dovecot's stats listener.`,
      r.urn,
    );
  }
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
