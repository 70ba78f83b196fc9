/**
 * The rehearsal's prometheus.yml: the chart's own, with each Kubernetes discovery of role pod or
 * service replaced by its static stand-in (./discovery.ts). Jobs of role endpoints or node (the
 * API server, kubelets, kube-state-metrics) have no stand-in and are left out.
 */
import { parse, stringify } from "yaml";
import type { StaticTarget } from "./discovery";

/** The rehearsal's intervals; the chart's are scrape 2m, evaluation 1m (world prometheus.yml). */
export const REHEARSAL_INTERVAL = "2s";

type Obj = Record<string, unknown>;

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
