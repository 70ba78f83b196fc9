/**
 * Starts a policy pack the way the Pulumi CLI does: `run-policy-pack` from the pack's own
 * @pulumi/pulumi, in the pack directory, which prints the port it serves on as its first stdout
 * line. tools/analyzer/client.ts then speaks gRPC to that port.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { track } from "../cli/children";

export interface SpawnOptions {
  /** Node binary; defaults to the one running this process (Node 22 under `npx`). */
  node?: string;
  /** Milliseconds to wait for the port line. */
  startTimeoutMs?: number;
}

export interface PackProcess {
  child: ChildProcessWithoutNullStreams;
  /** The port it serves on; rejects (and the child is killed) if it exits or stays silent. */
  port: Promise<number>;
}

export function spawnPack(packDir: string, options: SpawnOptions = {}): PackProcess {
  const dir = path.resolve(packDir);
  if (!existsSync(path.join(dir, "PulumiPolicy.yaml"))) {
    throw new Error(`no policy pack in ${dir} (PulumiPolicy.yaml missing)`);
  }
  const runner = path.join(dir, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
  // The engine address argument is required but never dialled by the pack.
  const child = track(
    spawn(options.node ?? process.execPath, [runner, "127.0.0.1:0", dir], {
      cwd: dir,
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
  const port = readPort(child, options.startTimeoutMs ?? 90_000).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });
  return { child, port };
}

/** Resolves with the port from the first stdout line; rejects on exit or timeout. */
function readPort(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const onErr = (chunk: Buffer) => (err += chunk.toString());
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      child.stdout.off("data", onOut);
      child.stderr.off("data", onErr);
      child.off("exit", onExit);
      fn();
    };
    const onOut = (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf("\n");
      if (newline < 0) return;
      const port = Number(out.slice(0, newline).trim());
      finish(() =>
        Number.isInteger(port) && port > 0
          ? resolve(port)
          : reject(new Error(`first stdout line is not a port: ${out.slice(0, newline)}`)),
      );
    };
    const onExit = (code: number | null) =>
      finish(() => reject(new Error(`policy pack exited (${code}) before serving:\n${err}`)));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`no port from policy pack in ${timeoutMs} ms:\n${err}`))),
      timeoutMs,
    );
    child.stdout.on("data", onOut);
    child.stderr.on("data", onErr);
    child.on("exit", onExit);
  });
}
