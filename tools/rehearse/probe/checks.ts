/**
 * What scenario 3 asks the real Prometheus (its HTTP API): every target up, the series the
 * roundtrip alerts read moved by a broken probe run, every series a rule reads present, every
 * rule evaluated without error.
 */
import { POD_ADDRESS } from "../pod";
import {
  api,
  chartJob,
  keepsMetric,
  query,
  selectors,
  value,
  type ChartServer,
  type Server,
} from "../prometheus";
import type { AlertRule, MailPodTemplate, RenderedRules } from "./plan";
import type { Check } from "./report";
import { until } from "./until";

type Obj = Record<string, unknown>;

interface Targets {
  activeTargets: {
    scrapePool: string;
    scrapeUrl: string;
    health: string;
    lastError: string;
    labels: Record<string, string>;
  }[];
  droppedTargets: { discoveredLabels: Record<string, string> }[];
}

interface Rule {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  state?: string;
  lastEvaluation: string;
}

/**
 * Waits until Prometheus has scraped the Pushgateway group pushed at or after `since` (ms):
 * the Pushgateway stamps each group's last successful push as `push_time_seconds`
 * (prometheus/pushgateway README.md, "Exposed metrics"; the probe POSTs, which replaces only
 * the series it sends: "POST method").
 */
export function scrapedSince(base: string, job: string, since: number, signal: AbortSignal) {
  return until(
    async () => {
      const t = Number((await query(base, `push_time_seconds{job="${job}"}`))[0]?.value[1]);
      return t * 1000 >= since ? t : undefined;
    },
    12_000,
    signal,
  );
}

/** Every target up, Dovecot among them where the pod template's annotations put it. */
export async function targetsCheck(
  prom: string,
  pg: Server,
  tpl: MailPodTemplate,
  signal: AbortSignal,
): Promise<Check> {
  const ann = tpl.metadata?.annotations ?? {};
  const dovecotUrl = `http://${POD_ADDRESS}:${ann["prometheus.io/port"]}${ann["prometheus.io/path"] ?? "/metrics"}`;
  const targets =
    (await until(
      async () => {
        const t = await api<Targets>(prom, "/api/v1/targets");
        return t.activeTargets.length && t.activeTargets.every((x) => x.health === "up")
          ? t
          : undefined;
      },
      10_000,
      signal,
    )) ?? (await api<Targets>(prom, "/api/v1/targets"));
  const urls = targets.activeTargets.map((t) => t.scrapeUrl);
  const droppedBy = new Map<string, number>();
  for (const d of targets.droppedTargets) {
    const j = d.discoveredLabels.job;
    droppedBy.set(j, (droppedBy.get(j) ?? 0) + 1);
  }
  return {
    pass:
      targets.activeTargets.every((t) => t.health === "up") &&
      urls.includes(dovecotUrl) &&
      urls.includes(`${pg.url}/metrics`),
    line: `targets (/api/v1/targets): ${targets.activeTargets.map((t) => `${t.scrapePool} ${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}${t.labels.namespace ? ` namespace=${t.labels.namespace}` : ""}`).join("; ")}; expected Dovecot at ${dovecotUrl} (prometheus.io/port and /path of the planned pod template) and the Pushgateway; dropped by the chart's relabelling: ${[...droppedBy].map(([j, n]) => `${j} ${n}`).join(", ") || "none"}`,
  };
}

/** The roundtrip alerts and the two series they read: success, and the last success's time. */
export class Roundtrip {
  readonly rules: AlertRule[];
  readonly successSel: string;
  readonly lastSel: string;

  constructor(alerts: AlertRule[]) {
    this.rules = alerts.filter((r) => /^EmailRoundtrip/.test(r.alert));
    const sels = this.rules.flatMap((r) => selectors(r.expr));
    this.successSel = sels.find((s) => /_success$/.test(s.name))?.text ?? "";
    this.lastSel = sels.find((s) => /last_success/.test(s.name))?.text ?? "";
  }

  /** The two series' values, and each alert's expression as an instant query (samples). */
  async state(prom: string): Promise<RoundtripState> {
    return {
      success: await value(prom, this.successSel),
      lastSuccess: await value(prom, this.lastSel),
      holds: await Promise.all(this.rules.map(async (r) => (await query(prom, r.expr)).length)),
    };
  }

  /** A failed run sets success to 0, keeps the last success's time and makes an alert hold. */
  moved(before: RoundtripState, after: RoundtripState, seen: (number | undefined)[]): Check {
    const flipped = this.rules.filter((_, i) => !before.holds[i] && after.holds[i]);
    return {
      pass:
        before.success === "1" &&
        after.success === "0" &&
        before.lastSuccess !== "absent" &&
        after.lastSuccess === before.lastSuccess &&
        flipped.length > 0,
      line: `Prometheus, scraped after each push (push_time_seconds ${seen[0] ?? "never"} → ${seen[1] ?? "never"}): ${this.successSel} ${before.success} → ${after.success}, ${this.lastSel} ${before.lastSuccess} → ${after.lastSuccess} (EmailRoundtripFailing reads the first, EmailRoundtripStale the second); the roundtrip alerts' expressions as instant queries, samples before → after: ${this.rules.map((r, i) => `${r.alert} ${before.holds[i]} → ${after.holds[i]}`).join(", ")}`,
    };
  }
}

export interface RoundtripState {
  success: string;
  lastSuccess: string;
  holds: number[];
}

/**
 * Every series a rule reads, under the name and matchers the rule writes, present since `since`
 * (ms); kube-state-metrics' are not rehearsed, only checked to survive the chart's relabelling.
 */
export async function seriesChecks(
  prom: string,
  chart: ChartServer,
  alerts: AlertRule[],
  since: number,
  signal: AbortSignal,
): Promise<{ series: Check; kube?: Check }> {
  const sels = new Map<string, { name: string; text: string }>();
  for (const r of alerts) for (const s of selectors(r.expr)) sels.set(s.text, s);
  const kube = [...sels.values()].filter((s) => /^kube_/.test(s.name));
  const own = [...sels.values()].filter((s) => !/^kube_/.test(s.name));
  const counts = new Map<string, number>();
  const present = () => own.every((s) => (counts.get(s.text) ?? 0) > 0);
  await until(
    async () => {
      for (const s of own) {
        const found = await api<Obj[]>(prom, "/api/v1/series", {
          "match[]": s.text,
          start: String(Math.floor(since / 1000) - 60),
        });
        counts.set(s.text, found.length);
      }
      return present() ? true : undefined;
    },
    6_000,
    signal,
  );
  const series = {
    pass: present(),
    line: `series the rules read (/api/v1/series): ${own.map((s) => `${s.text} ${counts.get(s.text) ? `present (${counts.get(s.text)})` : "ABSENT"}`).join("; ")}`,
  };
  if (!kube.length) return { series };
  const kse = chartJob(chart.prometheusYml, "kubernetes-service-endpoints");
  return {
    series,
    kube: {
      pass: kube.every((s) => keepsMetric(kse, s.name)),
      line: `not rehearsed: ${kube.map((s) => s.text).join(", ")}: kube-state-metrics series, scraped in the cluster by the chart's kubernetes-service-endpoints job (role endpoints, no stand-in here), whose metric_relabel_configs keep ${kube.map((s) => `${s.name}: ${keepsMetric(kse, s.name) ? "yes" : "NO"}`).join(", ")} (absent here, MailServerDown's \`or on() vector(0)\` makes it hold: pending below)`,
    },
  };
}

/** Every rule of the rendered file evaluated after `since` (ms), healthy, from its path. */
export async function rulesCheck(
  prom: string,
  rules: RenderedRules,
  since: number,
  signal: AbortSignal,
): Promise<Check> {
  const evaluated =
    (await until(
      async () => {
        const g = await api<{ groups: { file: string; rules: Rule[] }[] }>(prom, "/api/v1/rules");
        const all = g.groups.flatMap((x) => x.rules.map((r) => ({ ...r, file: x.file })));
        const fresh = all.every(
          (r) => Date.parse(r.lastEvaluation) > since && r.health !== "unknown",
        );
        return all.length && fresh ? all : undefined;
      },
      8_000,
      signal,
    )) ?? [];
  const expected = rules.alerts.length;
  return {
    pass:
      evaluated.length === expected &&
      evaluated.every((r) => r.health === "ok" && r.file === rules.path),
    line: `rules (/api/v1/rules): ${evaluated.length} of ${expected} from ${rules.path} evaluated after run 2: ${evaluated.map((r) => `${r.name} ${r.health}${r.lastError ? ` (${r.lastError})` : ""} ${r.state ?? ""}`.trim()).join(", ")}`,
  };
}

/** Why MailCertificateExpiresSoon is pending: the days left on the pod's throwaway certificate. */
export async function certificateNote(prom: string, alerts: AlertRule[]) {
  const certSel = alerts
    .flatMap((r) => selectors(r.expr))
    .find((x) => /certificate_expiry/.test(x.name))?.text;
  const certLeft = certSel ? await query(prom, `${certSel} - time()`) : [];
  if (!certLeft.length) return undefined;
  return `pending = the expression holds and its for: has not elapsed; ${certSel} is ${(Number(certLeft[0].value[1]) / 86400).toFixed(1)} days ahead (the throwaway certificate the pod serves), so MailCertificateExpiresSoon's expression holds as it should`;
}
