/**
 * The pod's network namespace, joined to this host by one veth pair: the pod end carries
 * POD_ADDRESS, the host end OUTSIDE_ADDRESS and RELAY_ADDRESS. Deleting the host end deletes
 * both, and `ip netns add` may have made /run/netns (and a mount on it), which goes when the last
 * namespace does, so the host is left as it was.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { OUTSIDE_ADDRESS, POD_ADDRESS, RELAY_ADDRESS } from "./addresses";
import { sh } from "./sh";

const PREFIX = "rehearse-";
const NETNS_DIR = "/run/netns";

export interface PodNetwork {
  /** `rehearse-<pid>-<tag>`: the pid tells a later rehearsal whether its owner is gone. */
  netns: string;
  create: () => void;
  /** Synchronous and idempotent: safe in an `exit` handler, also before or after a partial create. */
  remove: () => void;
}

/** The host end of the veth pair of the namespace named `netns` (the tag ends the name). */
export function hostLinkOf(netns: string): string {
  return `rh${netns.split("-").pop() ?? ""}h`;
}

/** A namespace name for this process; /run/netns as it is now is what `remove` restores. */
export function podNetwork(): PodNetwork {
  const tag = `${process.pid % 100000}${Math.floor(Math.random() * 100)}`;
  const netns = `${PREFIX}${process.pid}-${tag}`;
  const hadDir = fs.existsSync(NETNS_DIR);
  const hadMount = isMountPoint(NETNS_DIR);
  return {
    netns,
    create: () => link(netns, hostLinkOf(netns), `rh${tag}p`),
    remove: () => {
      drop(netns);
      if (!hadMount) releaseNetnsDir(hadDir);
    },
  };
}

function link(netns: string, host: string, pod: string): void {
  const ip = (args: string[]) => sh("ip", args);
  ip(["netns", "add", netns]);
  ip(["link", "add", host, "type", "veth", "peer", "name", pod]);
  ip(["link", "set", pod, "netns", netns]);
  ip(["addr", "add", `${OUTSIDE_ADDRESS}/24`, "dev", host]);
  ip(["addr", "add", `${RELAY_ADDRESS}/24`, "dev", host]);
  ip(["link", "set", host, "up"]);
  ip(["-n", netns, "link", "set", "lo", "up"]);
  ip(["-n", netns, "addr", "add", `${POD_ADDRESS}/24`, "dev", pod]);
  ip(["-n", netns, "link", "set", pod, "up"]);
  ip(["-n", netns, "route", "add", "default", "via", OUTSIDE_ADDRESS]);
}

/** Deletes the pair, also while the namespace is still held, then the namespace; no error if gone. */
function drop(netns: string): void {
  spawnSync("ip", ["link", "delete", hostLinkOf(netns)], { stdio: "ignore" });
  spawnSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
}

/** Removes the namespaces of earlier rehearsals whose process is gone (a SIGKILL leaves them). */
export function removeStaleNetworks(): void {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  const stale = (r.stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(PREFIX))
    .filter((n) => {
      const pid = Number(n.slice(PREFIX.length).split("-")[0]);
      return !pid || !fs.existsSync(`/proc/${pid}`);
    });
  for (const netns of stale) drop(netns);
  if (stale.length) releaseNetnsDir(false);
}

/** Undoes what `ip netns add` did to /run/netns once no namespace is left in it. */
function releaseNetnsDir(keepDir: boolean): void {
  const left = fs.existsSync(NETNS_DIR) ? fs.readdirSync(NETNS_DIR) : [];
  if (left.length) return;
  if (isMountPoint(NETNS_DIR)) spawnSync("umount", [NETNS_DIR], { stdio: "ignore" });
  if (!keepDir && fs.existsSync(NETNS_DIR)) fs.rmdirSync(NETNS_DIR);
}

function isMountPoint(dir: string): boolean {
  return fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === dir);
}
