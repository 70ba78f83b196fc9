/** Kubernetes CronJob schedules: how many runs fall on the busiest day. */
import { CronExpressionParser } from "cron-parser";

/** Macros Kubernetes accepts besides five-field expressions. */
const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/** A month from a Thursday: every weekday and every day-of-month 1-31 occurs. */
const WINDOW_START = Date.UTC(2026, 0, 1);
const WINDOW_DAYS = 31;
const DAY_MS = 24 * 60 * 60 * 1000;

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
    const cron = CronExpressionParser.parse(expr, {
      currentDate: new Date(WINDOW_START - 1000),
      endDate: new Date(WINDOW_START + WINDOW_DAYS * DAY_MS),
      tz: "UTC",
    });
    const perDay = new Array<number>(WINDOW_DAYS).fill(0);
    while (cron.hasNext()) {
      const day = Math.floor((cron.next().getTime() - WINDOW_START) / DAY_MS);
      if (day >= 0 && day < WINDOW_DAYS) perDay[day] = (perDay[day] ?? 0) + 1;
    }
    return { ok: true, runs: Math.max(...perDay) };
  } catch (err) {
    return { ok: false, error: `"${schedule}" does not parse: ${(err as Error).message}` };
  }
}
