/**
 * The chart's Prometheus server as the program read it at preview (ConfigMap and Deployment
 * monitoring/prometheus-server in ctx.run's reads, answered from world/ready): its container args,
 * its prometheus.yml and where it mounts the rules ConfigMap.
 */
import { parse } from "yaml";
import type { CapturedResource, ProgramRun } from "../../offline/mock-program";
import { observeServer, RULES_CONFIGMAP, SERVER_CONFIG_KEY } from "../../../lib/charts/prometheus";

/** The chart release's namespace and server objects (lib/charts/prometheus.ts). */
export const CHART_NAMESPACE = "monitoring";
const SERVER = "prometheus-server";

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

/** The chart's job of that name, from its prometheus.yml. */
export function chartJob(chartYml: string, job: string): Obj | undefined {
  const doc = parse(chartYml) as { scrape_configs?: Obj[] };
  return doc.scrape_configs?.find((j) => j.job_name === job);
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
