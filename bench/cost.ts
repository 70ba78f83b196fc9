/**
 * Wall and CPU time of what a benchmark runs. On a machine shared with other work, wall time
 * measures the scheduler as much as the code; CPU time (user + system, the process and the
 * children it waited for) does not, so every figure is printed both ways.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Cost {
  wallMs: number;
  cpuMs: number;
}

/** CPU milliseconds a live process has used so far (Linux /proc; clock ticks are 10 ms). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat: 12th and 13th after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs `node ...args` through bash, whose `times` reports the CPU of the finished children. */
export function timeNode(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; okCodes?: number[] },
): Cost {
  const script = '"$0" "$@" >/dev/null; rc=$?; times; exit $rc';
  const start = process.hrtime.bigint();
  const res = spawnSync("bash", ["-c", script, process.execPath, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status === null || !(opts.okCodes ?? [0]).includes(res.status)) {
    throw new Error(`node ${args.join(" ")} exited ${res.status}:\n${res.stderr}`);
  }
  // The last line of `times`: the children's user and system time, e.g. "0m1.418s 0m0.240s".
  const children = res.stdout.trim().split("\n").pop() ?? "";
  const cpuMs = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
    .map(([, m, s]) => (Number(m) * 60 + Number(s)) * 1000)
    .reduce((a, b) => a + b, 0);
  return { wallMs, cpuMs };
}
