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
