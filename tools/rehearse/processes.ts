/**
 * The lifetime of the rehearsal's child processes: each is tracked (tools/cli/children.ts), so it
 * ends with the CLI however that ends, and bounded by the rehearsal's signal and a time.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { track } from "../cli/children";

export interface Exit {
  code: number | null;
  /** stdout and stderr together. */
  out: string;
}

/** Runs a command to its end; killed on `signal` (then it rejects) or after `ms`. */
export function runToEnd(
  cmd: string,
  args: string[],
  signal: AbortSignal,
  ms: number,
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error(`${path.basename(cmd)}: aborted`));
    const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
    const kill = () => child.kill("SIGKILL");
    const timer = setTimeout(kill, ms);
    signal.addEventListener("abort", kill, { once: true });
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", kill);
      if (signal.aborted) reject(new Error(`${path.basename(cmd)}: aborted`));
      else resolve({ code, out });
    });
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
