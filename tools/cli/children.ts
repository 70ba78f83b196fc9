/**
 * The child processes a CLI started, ended on every way out: a normal exit, an error, a crash
 * (uncaught exception or unhandled rejection) or a signal. Without this a crashed plan left its
 * policy pack running with parent 1.
 */
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();

/** Registers a child: it is killed when this process leaves, whichever way. */
export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Kills every tracked child still running (synchronous: safe in an `exit` handler). */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
}

/**
 * Ends the children on exit and on SIGINT/SIGTERM, and turns a crash into `onCrash` (the CLI's
 * one-line error, exit 2) instead of a stack trace.
 */
export function guardProcess(onCrash: (err: unknown) => void): void {
  process.once("exit", killChildren);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killChildren();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
}
