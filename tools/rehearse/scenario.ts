/** What one rehearsal scenario reports: its verdict and the evidence behind it. */
import type { ProgramRun } from "../offline/mock-program";

export type Verdict = "pass" | "fail" | "not rehearsed";

export interface ScenarioResult {
  /** e.g. "6 MTA-STS". */
  name: string;
  verdict: Verdict;
  /** One line each: what was checked and what the real component answered. */
  evidence: string[];
  /** Files written under the report folder (log excerpts, screenshots), relative to it. */
  files: string[];
}

export interface RehearsalContext {
  /** The program's planned resources under mocks answered from world/. */
  run: ProgramRun;
  /** The report folder (--out); each scenario writes under its own subfolder. */
  out: string;
  /** Aborted when the rehearsal is stopped; every child process must end with it. */
  signal: AbortSignal;
}

export type Scenario = (ctx: RehearsalContext) => Promise<ScenarioResult>;
