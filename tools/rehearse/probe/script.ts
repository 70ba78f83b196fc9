/**
 * The probe script's runs: python3 as the CronJob's user, in a mount namespace of its own whose
 * /etc/hosts (bind-mounted) answers the planned Services' cluster names with the pod, as the
 * cluster DNS would, and whose /etc/resolv.conf sends any other name to the rehearsal's DNS
 * (../dns.ts). TLS trusts only the throwaway CA (SSL_CERT_FILE).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnNamespaced } from "../namespaced";
import { OUTSIDE_ADDRESS, POD_ADDRESS } from "../pod";
import type { RenderedProbe } from "./plan";

/** A probe run longer than this is killed (the rendered poll timeout is 300 s). */
const RUN_MS = 25_000;

export interface Python {
  bin: string;
  asUser: boolean;
  version: string;
}

/** Whether a user other than root can reach and run `p` (every directory and the file o+x). */
function reachable(p: string): boolean {
  const real = fs.realpathSync(p);
  const dirs = real
    .split("/")
    .slice(1, -1)
    .map((_, i, a) => `/${a.slice(0, i + 1).join("/")}`);
  const others = (f: string) => (fs.statSync(f).mode & 0o001) !== 0;
  return dirs.every(others) && others(real);
}

/** An interpreter the CronJob's user can run: Debian's, else the one python3 resolves to. */
function python(uid: number | undefined): Python {
  const resolved = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
  }).stdout?.trim();
  const candidates = ["/usr/bin/python3", resolved].filter((p): p is string => Boolean(p));
  const usable = candidates.filter((p) => fs.existsSync(p));
  if (!usable.length) throw new Error("python3 not found (apt-get install python3)");
  const bin = (uid !== undefined && usable.find(reachable)) || usable[0];
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
  return { bin, asUser: uid !== undefined && reachable(bin), version };
}

/** What one run needs: the interpreter, the script, its env and the namespace's two files. */
export interface Invocation {
  py: Python;
  /** The CronJob's runAsUser/runAsGroup, when the interpreter is reachable for them. */
  user?: { uid: number; gid: number };
  script: string;
  env: Record<string, string>;
  hosts: string;
  resolv: string;
}

/** The endpoints outside the cluster the run's env points at instead of the rendered ones. */
export interface Endpoints {
  mailgun: string;
  pushgateway: string;
  /** The rendered UPTIME_KUMA_PUSH_URL moved onto this origin (path and token kept). */
  kuma?: { origin: string; url: URL };
}

function write(file: string, text: string, mode: number): string {
  fs.writeFileSync(file, text, { mode });
  return file;
}

/** The script, CA, hosts and resolv.conf under `work`, and the env: the rendered one, moved. */
export function invocation(
  spec: RenderedProbe,
  work: string,
  ca: string,
  clusterNames: string[],
  to: Endpoints,
): Invocation {
  const py = python(spec.uid);
  const user =
    py.asUser && spec.uid !== undefined ? { uid: spec.uid, gid: spec.gid ?? spec.uid } : undefined;
  const script = path.join(work, "probe", spec.key);
  fs.mkdirSync(path.dirname(script), { recursive: true, mode: 0o755 });
  write(script, spec.script, spec.scriptMode);
  fs.chmodSync(script, spec.scriptMode);
  const hostLines = ["127.0.0.1 localhost", "::1 localhost"];
  if (clusterNames.length) hostLines.push(`${POD_ADDRESS} ${clusterNames.join(" ")}`);
  const env: Record<string, string> = {
    ...spec.env,
    MAILGUN_API_BASE: to.mailgun,
    PUSHGATEWAY_URL: to.pushgateway,
    ...(to.kuma
      ? { UPTIME_KUMA_PUSH_URL: `${to.kuma.origin}${to.kuma.url.pathname}${to.kuma.url.search}` }
      : {}),
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    SSL_CERT_FILE: write(path.join(work, "ca.crt"), ca, 0o644),
  };
  return {
    py,
    user,
    script,
    env,
    hosts: write(path.join(work, "hosts"), `${hostLines.join("\n")}\n`, 0o644),
    resolv: write(
      path.join(work, "resolv.conf"),
      `nameserver ${OUTSIDE_ADDRESS}\noptions timeout:1 attempts:1\n`,
      0o644,
    ),
  };
}

export interface ProbeRun {
  status: number | null;
  output: string;
  ms: number;
}

/**
 * One run of the script: its own mount namespace with `hosts` as /etc/hosts and `resolv` as
 * /etc/resolv.conf, then python3 (as `user` when given).
 */
export function runProbe(inv: Invocation, signal: AbortSignal): Promise<ProbeRun> {
  const start = Date.now();
  const drop = inv.user
    ? ["setpriv", `--reuid=${inv.user.uid}`, `--regid=${inv.user.gid}`, "--clear-groups", "--"]
    : [];
  const child = spawnNamespaced(
    [...drop, inv.py.bin, inv.script],
    {
      setup: ['mount --bind "$1" /etc/hosts', 'mount --bind "$2" /etc/resolv.conf'],
      args: [inv.hosts, inv.resolv],
    },
    { env: inv.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const kill = () => child.kill("SIGKILL");
  const timer = setTimeout(kill, RUN_MS);
  signal.addEventListener("abort", kill, { once: true });
  return new Promise((resolve) => {
    child.once("close", (status) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", kill);
      resolve({ status, output, ms: Date.now() - start });
    });
  });
}
