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
 * from a Secret or ConfigMap of the stack), or that reads the Secret key one of those reads it
 * from, under any env name (a CronJob that is none of these but takes envFrom from a Secret or
 * ConfigMap outside the stack is refused as "cannot verify"); spec.schedule (runs on the busiest
 * day), spec.suspend, jobTemplate.spec.completions/parallelism (pods per run) and backoffLimit
 * (retries, default 6).
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
import { at, list, PreviewGaps, str } from "../lib/plain";
import {
  effectiveEnv,
  findObject,
  plainResources,
  type DmsContainer,
  type StackResource,
} from "../lib/stack";

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
 * one outside the stack is not read as the key (findProbes refuses it instead).
 */
function setsKey(resources: readonly StackResource[], c: DmsContainer, key: string): boolean {
  const v = effectiveEnv(resources, c, key);
  if (v.kind === "missing") return false;
  if (v.kind !== "opaque") return true;
  return v.source.kind !== "unresolved" && !(v.source.kind === "secret" && !v.source.resource);
}

/** A key of a Secret that a known probe reads the Mailgun key from. */
interface KeySource {
  namespace: string;
  secret: string;
  key: string;
}

/** Where the effective value of `key` comes from, when it is a key of a named Secret. */
function keySource(
  resources: readonly StackResource[],
  c: DmsContainer,
  key: string,
): KeySource | undefined {
  const v = effectiveEnv(resources, c, key);
  if (v.kind !== "opaque") return undefined;
  const s = v.source;
  if (s.kind === "valueFrom" && s.secretKeyRef) {
    return { namespace: c.namespace, secret: s.secretKeyRef.name, key: s.secretKeyRef.key };
  }
  return s.kind === "secret" ? { namespace: c.namespace, secret: s.name, key: s.key } : undefined;
}

/**
 * Does the container read one of `sources`, under any env name: a secretKeyRef to that key, or
 * envFrom of that Secret (which sets every key of it, under the entry's prefix)?
 */
function readsSource(c: DmsContainer, sources: readonly KeySource[]): boolean {
  const mine = sources.filter((s) => s.namespace === c.namespace);
  const env = list(c.container.container.env).some((e) => {
    const ref = at(e, "valueFrom", "secretKeyRef");
    return mine.some((s) => at(ref, "name") === s.secret && at(ref, "key") === s.key);
  });
  const envFrom = list(c.container.container.envFrom).some((e) =>
    mine.some((s) => at(e, "secretRef", "name") === s.secret),
  );
  return env || envFrom;
}

/** envFrom sources of the container that the stack does not hold: they may set any env name. */
function outsideSources(resources: readonly StackResource[], c: DmsContainer): string[] {
  return list(c.container.container.envFrom).flatMap((e) => {
    const secret = str(at(e, "secretRef", "name"));
    if (secret !== undefined && !findObject(resources, "Secret", c.namespace, secret)) {
      return [`Secret ${secret}`];
    }
    const cm = str(at(e, "configMapRef", "name"));
    if (cm !== undefined && !findObject(resources, "ConfigMap", c.namespace, cm)) {
      return [`ConfigMap ${cm}`];
    }
    return [];
  });
}

interface CronJob {
  r: StackResource;
  name: string;
  namespace: string;
  containers: DmsContainer[];
}

/** The stack's CronJobs with their containers; unknown names and namespaces are noted. */
function cronJobs(resources: readonly StackResource[], gaps: PreviewGaps): CronJob[] {
  return resources
    .filter((r) => kindOf(r.type) === "CronJob")
    .flatMap((r) => {
      const name = nameOf(r.props, r.name);
      const namespace = namespaceOf(r.props);
      if (gaps.check(name, r.name) || gaps.check(namespace, r.name)) return [];
      const containers = containersOf(podSpecOf(r.type, r.props)).map((container) => ({
        workload: r,
        workloadName: name,
        namespace,
        container,
      }));
      return [{ r, name, namespace, containers }];
    });
}

/**
 * The probes: CronJobs listed by name or whose env carries a Mailgun key name, then any CronJob
 * that reads a Secret key one of those reads the Mailgun key from, under whatever env name. A
 * CronJob that is neither but takes envFrom from outside the stack may carry the key unseen: it
 * is refused as unverifiable.
 */
function findProbes(
  resources: readonly StackResource[],
  cfg: Config,
  gaps: PreviewGaps,
  report: ReportViolation,
): CronJob[] {
  const all = cronJobs(resources, gaps);
  const carriesKey = (c: DmsContainer) => cfg.mailgunKeyEnv.some((k) => setsKey(resources, c, k));
  const direct = all.filter(
    (j) => cfg.probeCronJobs.includes(j.name) || j.containers.some(carriesKey),
  );
  const sources = direct.flatMap((j) =>
    j.containers.flatMap((c) => cfg.mailgunKeyEnv.flatMap((k) => keySource(resources, c, k) ?? [])),
  );
  const probes = [...direct];
  for (const j of all.filter((x) => !direct.includes(x))) {
    if (j.containers.some((c) => readsSource(c, sources))) {
      probes.push(j);
      continue;
    }
    const outside = j.containers.flatMap((c) => outsideSources(resources, c));
    if (outside.length === 0) continue;
    report(
      `cannot verify: CronJob ${j.namespace}/${j.name} takes envFrom from ${outside.join(", ")}, which this stack does not hold, so it may carry ${cfg.mailgunKeyEnv.join(" or ")} and send through Mailgun unseen; create that object in this stack, or list ${j.name} in probe-within-mailgun-quota.probeCronJobs (policy/config.prod.json) to count it in the budget.`,
      j.r.urn,
    );
  }
  return probes;
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
  const resources = plainResources(args.resources, (t) =>
    ["CronJob", "Secret", "ConfigMap"].includes(kindOf(t) ?? ""),
  );
  const probes = findProbes(resources, cfg, gaps, report);
  for (const { r, name, namespace } of probes) {
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
    parts.push(
      `${namespace}/${name} "${str(schedule)}" = ${runs.runs} runs x ${pods} pods x ${cfg.sendsPerRun}`,
    );
  }
  if (total > cfg.maxSendsPerDay) {
    report(
      `the probe sends ${total} messages/day through Mailgun in the worst case (${parts.join("; ")}; pods = completions or parallelism plus backoffLimit retries, default 6), over the budget of ${cfg.maxSendsPerDay} (free tier 100/day); schedule it no more often than every 20 minutes ("*/20 * * * *" = 72/day), with backoffLimit: 0, one pod per run and one probe CronJob.`,
    );
  }
  gaps.settle();
  if (probes.length === 0) args.notApplicable("no probe CronJob in this stack");
}

export const probeWithinMailgunQuota: StackValidationPolicy = {
  name: "probe-within-mailgun-quota",
  description:
    "The roundtrip probe CronJob sends at most maxSendsPerDay (80) messages/day via Mailgun.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
