/**
 * How the rehearsal runs a process in namespaces of its own (util-linux `unshare`), so nothing on
 * the host changes: a private mount namespace whose setup (bind mounts, overlays) only that
 * process sees and which goes with it; optionally a pid and a UTS namespace, inside a named
 * network namespace. The mail pod, PHP for Roundcube, the probe and Prometheus all start here.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { track } from "../cli/children";

export interface Namespaces {
  /** Shell lines run inside the mount namespace before `command`; they read `args` as "$1"…. */
  setup?: string[];
  args?: string[];
  /**
   * A pid namespace too, `command` its init: when unshare ends (`--kill-child`) or the init
   * exits, the kernel kills every process in it.
   */
  pid?: boolean;
  /** A UTS namespace too (a host name of its own). */
  uts?: boolean;
  /** The network namespace to run in (`ip netns exec`). */
  netns?: string;
}

/** Spawns `command` (tracked: killed when the CLI leaves) after the namespace's `setup`. */
export function spawnNamespaced(
  command: string[],
  ns: Namespaces,
  options: SpawnOptions,
): ChildProcess {
  const args = ns.args ?? [];
  // `exec` keeps the pid, so in a pid namespace `command` itself is the init.
  const script = ["set -e", ...(ns.setup ?? []), `shift ${args.length}`, 'exec "$@"'].join("\n");
  const unshare = [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    ...(ns.pid ? ["--pid", "--fork", "--kill-child"] : []),
    ...(ns.uts ? ["--uts"] : []),
    "--",
    "/bin/sh",
    "-c",
    script,
    "sh",
    ...args,
    ...command,
  ];
  const argv = ns.netns ? ["ip", "netns", "exec", ns.netns, ...unshare] : unshare;
  return track(spawn(argv[0], argv.slice(1), options));
}
