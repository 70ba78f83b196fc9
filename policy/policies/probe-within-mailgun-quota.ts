/**
 * probe-within-mailgun-quota: the roundtrip probe's Mailgun sends per day stay under the quota.
 *
 * Why: the probe sends through Mailgun's free tier (100 messages/day). Past it Mailgun answers
 * 429, the probe fails, and EmailRoundtripFailing/Stale page for a healthy mail server. The spec
 * budgets ~72/day (every 20 minutes); maxSendsPerDay keeps headroom for retries and manual tests.
 *
 * Invariant (effective state): in the worst case (every attempt fails and is retried), the
 * probe pods started per day times sendsPerRun stay within maxSendsPerDay. Paths: every CronJob
 * (batch/v1, v1beta1, v2alpha1) named in probeCronJobs in any namespace, or whose effective env
 * carries the Mailgun key (a renamed copy counts too, also when the key comes through envFrom
 * from a Secret or ConfigMap of the stack); spec.schedule (runs on the busiest day), spec.suspend,
 * jobTemplate.spec.completions/parallelism (pods per run) and backoffLimit (retries, default 6).
 * concurrencyPolicy and startingDeadlineSeconds only skip runs, so they never raise the count.
 *
 * Fix: schedule the CronJob no more often than every 20 minutes ("*\/20 * * * *" = 72/day);
 * every 10 minutes is 144/day and over the quota.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { busiestDayRuns } from "../lib/cron";
import { containersOf, kindOf, nameOf, namespaceOf, podSpecOf } from "../lib/k8s";
import { at, PreviewGaps, str } from "../lib/plain";
import { effectiveEnv, plainResources, type DmsContainer, type StackResource } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    probeCronJobs: {
      type: "array",
      items: { type: "string" },
      default: [...SPEC.probeCronJobs],
      description: "CronJobs that send through Mailgun",
    },
    mailgunKeyEnv: {
      type: "array",
      items: { type: "string" },
      default: ["MAILGUN_API_KEY"],
      description: "Env names that carry the Mailgun key: a CronJob using one is a probe too",
    },
    sendsPerRun: { type: "integer", default: 1, description: "Mailgun messages per probe pod" },
    maxSendsPerDay: {
      type: "integer",
      default: 80,
      description: "Budget per day: Mailgun free tier (100) minus headroom",
    },
  },
};

interface Config {
  probeCronJobs: string[];
  mailgunKeyEnv: string[];
  sendsPerRun: number;
  maxSendsPerDay: number;
}

/** Kubernetes' Job default when backoffLimit is unset (batch/v1 JobSpec). */
const DEFAULT_BACKOFF_LIMIT = 6;

/**
 * Does the container's effective env set `key` (lib/stack.ts#effectiveEnv: env over envFrom, a
 * prefix prepended)? An envFrom Secret or ConfigMap of the stack counts when it holds the key;
 * one outside the stack is not read as the key.
 */
function setsKey(resources: readonly StackResource[], c: DmsContainer, key: string): boolean {
  const v = effectiveEnv(resources, c, key);
  if (v.kind === "missing") return false;
  if (v.kind !== "opaque") return true;
  return v.source.kind !== "unresolved" && !(v.source.kind === "secret" && !v.source.resource);
}

/** Is this CronJob a probe: listed by name, or a copy whose env carries the Mailgun key? */
function isProbe(
  resources: readonly StackResource[],
  r: StackResource,
  name: string,
  cfg: Config,
): boolean {
  if (cfg.probeCronJobs.includes(name)) return true;
  const ns = namespaceOf(r.props);
  if (typeof ns !== "string") return false;
  return containersOf(podSpecOf(r.type, r.props)).some((container) =>
    cfg.mailgunKeyEnv.some((key) =>
      setsKey(resources, { workload: r, workloadName: name, namespace: ns, container }, key),
    ),
  );
}

/**
 * Worst-case pods per scheduled run: completions (or parallelism when completions is unset)
 * successful pods, plus backoffLimit retries, each of which sends again.
 */
function podsPerRun(r: StackResource, gaps: PreviewGaps): number | undefined {
  const job = at(r.props, "spec", "jobTemplate", "spec");
  const fields = ["completions", "parallelism", "backoffLimit"].map((f) => at(job, f));
  if (fields.some((v) => gaps.check(v, r.name))) return undefined;
  const [completions, parallelism, backoff] = fields.map((v) =>
    typeof v === "number" ? v : undefined,
  );
  const successes = completions ?? parallelism ?? 1;
  return Math.max(successes, parallelism ?? 1) + (backoff ?? DEFAULT_BACKOFF_LIMIT);
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  let total = 0;
  const parts: string[] = [];
  let probes = 0;
  const resources = plainResources(args.resources, (t) =>
    ["CronJob", "Secret", "ConfigMap"].includes(kindOf(t) ?? ""),
  );
  for (const r of resources.filter((x) => kindOf(x.type) === "CronJob")) {
    const name = nameOf(r.props, r.name);
    if (gaps.check(name, r.name) || !isProbe(resources, r, name, cfg)) continue;
    probes++;
    const suspend = at(r.props, "spec", "suspend");
    const schedule = at(r.props, "spec", "schedule");
    if (gaps.check(suspend, name) || suspend === true || gaps.check(schedule, name)) continue;
    const runs = busiestDayRuns(str(schedule) ?? "");
    if (!runs.ok) {
      report(
        `CronJob ${name}: schedule ${runs.error}; use a five-field cron expression such as "*/20 * * * *".`,
        r.urn,
      );
      continue;
    }
    const pods = podsPerRun(r, gaps);
    if (pods === undefined) continue;
    total += runs.runs * pods * cfg.sendsPerRun;
    const ns = namespaceOf(r.props);
    parts.push(
      `${typeof ns === "string" ? ns : "?"}/${name} "${str(schedule)}" = ${runs.runs} runs x ${pods} pods x ${cfg.sendsPerRun}`,
    );
  }
  if (total > cfg.maxSendsPerDay) {
    report(
      `the probe sends ${total} messages/day through Mailgun in the worst case (${parts.join("; ")}; pods = completions or parallelism plus backoffLimit retries, default 6), over the budget of ${cfg.maxSendsPerDay} (free tier 100/day); schedule it no more often than every 20 minutes ("*/20 * * * *" = 72/day), with backoffLimit: 0, one pod per run and one probe CronJob.`,
    );
  }
  gaps.settle();
  if (probes === 0) args.notApplicable("no probe CronJob in this stack");
}

export const probeWithinMailgunQuota: StackValidationPolicy = {
  name: "probe-within-mailgun-quota",
  description:
    "The roundtrip probe CronJob sends at most maxSendsPerDay (80) messages/day via Mailgun.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
