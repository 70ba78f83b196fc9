import { spawnSync } from "node:child_process";

/** Runs a host tool (ip, openssl, postconf) to its end: its stdout, or a throw with its stderr. */
export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}
