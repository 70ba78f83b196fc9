/**
 * probe-within-mailgun-quota: the roundtrip probe's Mailgun sends per day stay under the quota.
 *
 * Why: the probe sends through Mailgun's free tier (100 messages/day). Past it Mailgun answers
 * 429, the probe fails, and EmailRoundtripFailing/Stale page for a healthy mail server. The spec
 * budgets ~72/day (every 20 minutes); maxSendsPerDay keeps headroom for retries and manual tests.
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
import { kindOf, nameOf } from "../lib/k8s";
import { at, PreviewGaps, str } from "../lib/plain";
import { plainResources } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    probeCronJobs: {
      type: "array",
      items: { type: "string" },
      default: [...SPEC.probeCronJobs],
      description: "CronJobs that send through Mailgun",
    },
    sendsPerRun: { type: "integer", default: 1, description: "Mailgun messages per probe run" },
    maxSendsPerDay: {
      type: "integer",
      default: 80,
      description: "Budget per day: Mailgun free tier (100) minus headroom",
    },
  },
};

interface Config {
  probeCronJobs: string[];
  sendsPerRun: number;
  maxSendsPerDay: number;
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  let total = 0;
  const parts: string[] = [];
  let probes = 0;
  for (const r of plainResources(args.resources)) {
    if (kindOf(r.type) !== "CronJob") continue;
    const name = nameOf(r.props, r.name);
    if (gaps.check(name, r.name) || !cfg.probeCronJobs.includes(name)) continue;
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
    total += runs.runs * cfg.sendsPerRun;
    parts.push(`${name} "${str(schedule)}" = ${runs.runs} runs x ${cfg.sendsPerRun}`);
  }
  if (total > cfg.maxSendsPerDay) {
    report(
      `the probe sends ${total} messages/day through Mailgun (${parts.join("; ")}), over the budget of ${cfg.maxSendsPerDay} (free tier 100/day); schedule it no more often than every 20 minutes ("*/20 * * * *" = 72/day).`,
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
