/**
 * Runs the compiled CLIs (bin/) as child processes, the way `npm run <tool>` does. Each run leads
 * its own process group, so that whatever it leaves behind once it exited (a policy pack, a pod
 * process) is found, reported as `leftover` and killed: a failing test leaks nothing.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");

/** A compiled CLI, relative to bin/. */
export type Tool =
  | "tools/cli/plan.js"
  | "tools/cli/audit.js"
  | "tools/cli/adopt.js"
  | "tools/cli/pack-version.js"
  | "tools/rehearse/run.js";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Processes still in the run's process group ~2 s after it exited (killed since). */
  leftover: number[];
}

export interface ToolOptions {
  /** Working directory; the project root unless given. */
  cwd?: string;
  /** Added to (or, with `undefined`, removed from) this process's environment. */
  env?: NodeJS.ProcessEnv;
}

export interface ToolRun {
  child: ChildProcess;
  result: Promise<CliResult>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The live processes of group `pgid` but this one (`ps -eo pid=,pgid=,stat=`). A zombie is dead
 * already: killed, and waiting only for pid 1 to reap it once its parent exited.
 */
export function groupMembers(pgid: number): number[] {
  const text = execFileSync("ps", ["-eo", "pid=,pgid=,stat="], { encoding: "utf8" });
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith("Z"))
    .map(([pid]) => Number(pid))
    .filter((pid) => pid !== process.pid);
}

/** `ps -eo pid=,ppid=`: the direct children of `parent`. */
export function childrenOf(parent: number): number[] {
  const text = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" });
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 2 && f[1] === parent)
    .map((f) => f[0]);
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
}

/**
 * How long an exited run's group may take to empty itself before its members are leftovers: a
 * child the CLI signalled on its way out is reaped within this on a loaded 2-core machine; one it
 * never ended is still there.
 */
const LINGER_BOUND_MS = 500;

/**
 * The members of group `pgid` still alive once they had LINGER_BOUND_MS to exit: polled, so a
 * group that is empty (the usual case) or empties soon returns at once.
 */
async function lingering(pgid: number): Promise<number[]> {
  const until = Date.now() + LINGER_BOUND_MS;
  for (;;) {
    const members = groupMembers(pgid);
    if (members.length === 0 || Date.now() >= until) return members;
    await sleep(50);
  }
}

/** Starts `bin/<tool>` with `args`; `result` settles once it exited and its group was swept. */
export function startTool(tool: Tool, args: string[], options: ToolOptions = {}): ToolRun {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", tool), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      void (async () => {
        const leftover = child.pid === undefined ? [] : await lingering(child.pid);
        for (const pid of leftover) kill(pid);
        // A leftover holding the pipes open is dead now; wait for them to drain, but not forever.
        await Promise.race([closed, sleep(2_000)]);
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code, signal, stdout, stderr, leftover });
      })().catch(reject);
    });
  });
  return { child, result };
}

/** Runs `bin/<tool>` with `args` to its end. */
export function runTool(tool: Tool, args: string[], options: ToolOptions = {}): Promise<CliResult> {
  return startTool(tool, args, options).result;
}

/** The plan or audit CLI (tests/plan/cli.test.ts). */
export function runCli(tool: "plan" | "audit", args: string[]): Promise<CliResult> {
  return runTool(`tools/cli/${tool}.js`, args);
}

/** Runs `jobs` with at most `limit` at a time (the machine may have few cores). */
export async function limited<T>(limit: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}
