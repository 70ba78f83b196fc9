/**
 * The seam between the mail stack's alert rules and the cluster's Prometheus, the
 * prometheus-community `prometheus` chart (release `prometheus`, chart 25.8.2 in
 * ViktorBarzin/infra stacks/monitoring/modules/monitoring/prometheus.tf).
 *
 * That chart reads no PrometheusRule. Its server loads the rule files its `prometheus.yml` lists
 * under `rule_files`; the config-reloader sidecar reloads it when a watched directory changes
 * (chart templates/deploy.yaml @ prometheus-25.8.2: `--watched-dir=/etc/config` plus
 * `configmapReload.prometheus.extraVolumeDirs`). So the rules travel in a ConfigMap this program
 * owns, mounted by the server as a directory, watched by the reloader and listed in `rule_files`.
 * The program reads the live server Deployment and its config at preview, and this module decides
 * whether that server loads the rules; the observation is recorded on the ConfigMap so that the
 * policy pack can check it too.
 */
import * as path from "node:path";
import { parse, stringify } from "yaml";

/** Annotation on the rules ConfigMap: what the program saw of the live server (JSON). */
export const OBSERVED_SERVER_ANNOTATION = "mailserver.viktorbarzin.me/observed-prometheus-server";
export const RULES_CONFIGMAP = "mailserver-prometheus-rules";
export const RULES_FILE = "mailserver.rules.yml";
/** Volume name the chart values give the rules ConfigMap in the server pod. */
const RULES_VOLUME = "mailserver-rules";
/** The chart's key of the server config in its ConfigMap (`server.configPath` /etc/config/prometheus.yml). */
export const SERVER_CONFIG_KEY = "prometheus.yml";
/** `serverFiles."prometheus.yml".rule_files` defaults of chart 25.8.2 (values.yaml). */
export const CHART_DEFAULT_RULE_FILES = [
  "/etc/config/recording_rules.yml",
  "/etc/config/alerting_rules.yml",
  "/etc/config/rules",
  "/etc/config/alerts",
] as const;

/** What the live server does with the rules ConfigMap. */
export interface ServerObservation {
  /** `namespace/name` of the server Deployment read. */
  server: string;
  /** The ConfigMap whose mounts were looked for. */
  configMap: string;
  /** Directories where the Prometheus container mounts a volume of the rules ConfigMap. */
  mounts: string[];
  /** Directories of that volume a config-reloader container watches (`--watched-dir`). */
  watched: string[];
  /** `rule_files` of the live `prometheus.yml`. */
  ruleFiles: string[];
}

interface Container {
  name?: string;
  args?: string[];
  volumeMounts?: { name?: string; mountPath?: string; subPath?: string }[];
}
interface Volume {
  name?: string;
  configMap?: { name?: string };
  projected?: { sources?: { configMap?: { name?: string } }[] };
}
/** The parts of a Deployment spec the observation reads. */
export interface DeploymentSpecLike {
  template?: { spec?: { containers?: Container[]; volumes?: Volume[] } };
}

function usesConfigMap(v: Volume, name: string): boolean {
  return (
    v.configMap?.name === name ||
    (v.projected?.sources ?? []).some((s) => s.configMap?.name === name)
  );
}

/** Directory mounts of `volumes` in a container (a subPath mount is never refreshed in place). */
function dirMounts(c: Container, volumes: Set<string>): string[] {
  return (c.volumeMounts ?? [])
    .filter((m) => m.name && volumes.has(m.name) && !m.subPath && m.mountPath)
    .map((m) => path.posix.normalize(m.mountPath ?? ""));
}

function flag(c: Container, name: string): string[] {
  const prefix = `--${name}=`;
  return (c.args ?? []).filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length));
}

/** The rule_files of a prometheus.yml text; [] when it has none or does not parse. */
export function ruleFilesOf(prometheusYml: string | undefined): string[] {
  if (!prometheusYml) return [];
  try {
    const doc = parse(prometheusYml) as { rule_files?: unknown } | null;
    const files = doc?.rule_files;
    return Array.isArray(files) ? files.filter((f): f is string => typeof f === "string") : [];
  } catch {
    return [];
  }
}

export function observeServer(
  server: string,
  spec: DeploymentSpecLike | undefined,
  prometheusYml: string | undefined,
  configMap: string,
): ServerObservation {
  const pod = spec?.template?.spec;
  const volumes = new Set(
    (pod?.volumes ?? []).filter((v) => usesConfigMap(v, configMap)).map((v) => v.name ?? ""),
  );
  const containers = pod?.containers ?? [];
  // The Prometheus container is the one started with --config.file (chart: prometheus-server).
  const mounts = containers
    .filter((c) => flag(c, "config.file").length > 0)
    .flatMap((c) => dirMounts(c, volumes));
  const watched = containers.flatMap((c) => {
    const dirs = new Set(flag(c, "watched-dir").map((d) => path.posix.normalize(d)));
    return dirMounts(c, volumes).filter((m) => dirs.has(m));
  });
  return { server, configMap, mounts, watched, ruleFiles: ruleFilesOf(prometheusYml) };
}

/** Does a rule_files entry (a glob, Prometheus uses Go's filepath.Glob) load this file? */
export function loads(ruleFiles: string[], file: string): boolean {
  return ruleFiles.some((glob) => path.posix.matchesGlob(file, glob));
}

/** What keeps the server from loading `files` of the ConfigMap; [] when it loads them all. */
export function loadProblems(obs: ServerObservation, files: string[]): string[] {
  const configMap = obs.configMap;
  if (obs.mounts.length === 0) {
    return [`${obs.server} does not mount ConfigMap ${configMap} as a directory`];
  }
  const problems: string[] = [];
  for (const file of files) {
    const paths = obs.mounts.map((m) => `${m}/${file}`);
    if (!paths.some((p) => loads(obs.ruleFiles, p))) {
      problems.push(
        `no rule_files entry of ${obs.server}'s prometheus.yml matches ${paths.join(" or ")} (rule_files: ${JSON.stringify(obs.ruleFiles)})`,
      );
    }
  }
  if (obs.watched.length === 0) {
    problems.push(
      `no config-reloader container of ${obs.server} watches the mounted ConfigMap ${configMap}: rule changes would wait for a restart`,
    );
  }
  return problems;
}

/**
 * The chart values that make the chart's server load the rules: Helm replaces lists, so append
 * these entries to the lists the release's values already have. The volume is optional, so the
 * server starts whichever of the two stacks is applied first.
 */
export function chartValues(mountPath: string, configMap: string = RULES_CONFIGMAP): string {
  const mount = { name: RULES_VOLUME, mountPath, readOnly: true };
  return stringify(
    {
      server: {
        extraVolumes: [{ name: RULES_VOLUME, configMap: { name: configMap, optional: true } }],
        extraVolumeMounts: [mount],
      },
      configmapReload: { prometheus: { extraVolumeDirs: [mountPath], extraVolumeMounts: [mount] } },
      serverFiles: {
        "prometheus.yml": { rule_files: [...CHART_DEFAULT_RULE_FILES, `${mountPath}/*.yml`] },
      },
    },
    { aliasDuplicateObjects: false },
  );
}

/*
 * The chart's server as chart 25.8.2 renders it from the owner's values (ViktorBarzin/infra
 * @ 0cd4afb6) plus given values of `chartValues`: what observeServer reads, for runs without a
 * cluster.
 */

/** The chart values `chartValues` writes, parsed: what the server rendering reads. */
export interface ServerValues {
  server: { extraVolumes: unknown[]; extraVolumeMounts: unknown[] };
  configmapReload: { prometheus: { extraVolumeDirs: string[]; extraVolumeMounts: unknown[] } };
  serverFiles: { "prometheus.yml": { rule_files: string[] } };
}

/** Labels chart 25.8.2 puts on the server's objects (_helpers.tpl prometheus.server.labels). */
const SERVER_LABELS = {
  "app.kubernetes.io/component": "server",
  "app.kubernetes.io/name": "prometheus",
  "app.kubernetes.io/instance": "prometheus",
  "app.kubernetes.io/version": "v2.48.1",
  "helm.sh/chart": "prometheus-25.8.2",
  "app.kubernetes.io/managed-by": "Helm",
  "app.kubernetes.io/part-of": "prometheus",
};

/**
 * The `prometheus-server` Deployment as prometheus-community chart 25.8.2 (templates/deploy.yaml)
 * renders it from the owner's values (stacks/monitoring/modules/monitoring/prometheus_chart_values.tpl:
 * Recreate, extraFlags, the WAL tmpfs and backup volumes, the backup sidecar), plus `values`.
 */
export function prometheusServerDeployment(values: ServerValues): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "prometheus-server", namespace: "monitoring", labels: SERVER_LABELS },
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: {
        matchLabels: {
          "app.kubernetes.io/component": "server",
          "app.kubernetes.io/name": "prometheus",
        },
      },
      template: {
        spec: {
          containers: [
            {
              name: "prometheus-server-configmap-reload",
              image: "quay.io/prometheus-operator/prometheus-config-reloader:v0.70.0",
              args: [
                "--watched-dir=/etc/config",
                "--reload-url=http://127.0.0.1:9090/-/reload",
                ...values.configmapReload.prometheus.extraVolumeDirs.map(
                  (d) => `--watched-dir=${d}`,
                ),
              ],
              volumeMounts: [
                { name: "config-volume", mountPath: "/etc/config", readOnly: true },
                ...values.configmapReload.prometheus.extraVolumeMounts,
              ],
            },
            {
              name: "prometheus-server",
              image: "quay.io/prometheus/prometheus:v2.48.1",
              args: [
                "--storage.tsdb.retention.time=26w",
                "--config.file=/etc/config/prometheus.yml",
                "--storage.tsdb.path=/data",
                "--web.console.libraries=/etc/prometheus/console_libraries",
                "--web.console.templates=/etc/prometheus/consoles",
                "--web.enable-admin-api",
                "--web.enable-lifecycle",
              ],
              ports: [{ containerPort: 9090 }],
              volumeMounts: [
                { name: "config-volume", mountPath: "/etc/config" },
                { name: "storage-volume", mountPath: "/data", subPath: "" },
                { name: "prometheus-wal-tmpfs", mountPath: "/data/wal" },
                { name: "prometheus-backup", mountPath: "/backup" },
                ...values.server.extraVolumeMounts,
              ],
            },
            {
              name: "prometheus-backup",
              image: "docker.io/library/alpine:3.21",
              volumeMounts: [{ name: "prometheus-backup", mountPath: "/backup" }],
            },
          ],
          volumes: [
            { name: "config-volume", configMap: { name: "prometheus-server" } },
            {
              name: "storage-volume",
              persistentVolumeClaim: { claimName: "prometheus-data-proxmox" },
            },
            { name: "prometheus-wal-tmpfs", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } },
            {
              name: "prometheus-backup",
              persistentVolumeClaim: { claimName: "monitoring-prometheus-backup-host" },
            },
            ...values.server.extraVolumes,
          ],
        },
      },
    },
  };
}

/** The chart's server ConfigMap: prometheus.yml (scrape configs abridged) with the rule_files. */
export function prometheusServerConfigMap(ruleFiles: string[]): Record<string, unknown> {
  const prometheusYml = stringify({
    global: { scrape_interval: "2m", evaluation_interval: "1m" },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: "kubernetes-pods", kubernetes_sd_configs: [{ role: "pod" }] }],
  });
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "prometheus-server", namespace: "monitoring", labels: SERVER_LABELS },
    data: {
      "allow-snippet-annotations": "false",
      "prometheus.yml": prometheusYml,
      // Abridged: the owner's file holds many groups; one is enough to be a rule file.
      "alerting_rules.yml": stringify({ groups: [{ name: "Image Ownership", rules: [] }] }),
      "recording_rules.yml": "{}\n",
    },
  };
}
