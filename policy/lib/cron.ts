/** Kubernetes CronJob schedules: how many runs fall on the busiest day. */
import { CronExpressionParser } from "cron-parser";

/** Macros Kubernetes accepts besides five-field expressions. */
const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

export type RunsPerDay = { ok: true; runs: number } | { ok: false; error: string };

export function busiestDayRuns(schedule: string): RunsPerDay {
  const expr = schedule.trim().replace(/^@midnight$/, "@daily");
  const isMacro = MACROS.includes(expr);
  if (!isMacro && expr.split(/\s+/).length !== 5) {
    return {
      ok: false,
      error: `"${schedule}" is not a five-field cron expression or a supported macro`,
    };
  }
  try {
    // Every day the job runs at all has the same runs: the product of its second, minute and hour
    // fields. Counting from the fields costs one parse; walking a month of runs cost thousands.
    const { second, minute, hour } = CronExpressionParser.parse(expr, { tz: "UTC" }).fields;
    return { ok: true, runs: second.values.length * minute.values.length * hour.values.length };
  } catch (err) {
    return { ok: false, error: `"${schedule}" does not parse: ${(err as Error).message}` };
  }
}
