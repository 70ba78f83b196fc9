/**
 * The two monitoring processes: Debian's prometheus-pushgateway and prometheus. The server's files
 * live in its own mount namespace: /etc is an overlay there (as in the mail pod), so
 * /etc/config/prometheus.yml and the rules directory exist for it alone.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { track } from "../../cli/children";
import { spawnNamespaced } from "../namespaced";
import type { ChartServer } from "./chart-server";

export interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}

/** `<package> <version>` of an installed Debian package, or "" when dpkg does not know it. */
export function debianVersion(pkg: string): string {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

function logged(child: ChildProcess, file: string): () => string {
  const out = fs.createWriteStream(file);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
}

/** Debian's prometheus-pushgateway on 127.0.0.1:`port`, no persistence file. */
export function startPushgateway(port: number, dir: string): Server {
  const child = track(
    spawn("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  return { child, url: `http://127.0.0.1:${port}`, log: logged(child, path.join(dir, "pg.log")) };
}

/** Writes `etcFiles` (paths under /etc → text) into the overlay's upper layer `upper`. */
function layEtc(upper: string, etcFiles: Record<string, string>): void {
  for (const [file, text] of Object.entries(etcFiles)) {
    if (!file.startsWith("/etc/")) throw new Error(`${file}: only files under /etc are laid over`);
    const target = path.join(upper, file.slice(5));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
  }
}

/**
 * The Prometheus server with the chart's args (storage path and listen address excepted), in a
 * mount namespace where `etcFiles` (paths under /etc → text) lie over the host's /etc.
 */
export function startPrometheus(
  server: ChartServer,
  etcFiles: Record<string, string>,
  port: number,
  dir: string,
): Server {
  const upper = path.join(dir, "etc");
  const work = path.join(dir, "etc.work");
  fs.mkdirSync(work, { recursive: true });
  layEtc(upper, etcFiles);
  const data = path.join(dir, "data");
  fs.mkdirSync(data, { recursive: true });
  const args = [
    ...server.args.filter((a) => !/^--(storage\.tsdb\.path|web\.listen-address)=/.test(a)),
    `--storage.tsdb.path=${data}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  const child = spawnNamespaced(
    ["prometheus", ...args],
    {
      setup: ['mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc'],
      args: [upper, work],
    },
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    log: logged(child, path.join(dir, "prometheus.log")),
  };
}

/** Ends a child: SIGTERM, then SIGKILL after `ms`; resolves once it has exited. */
export async function stopChild(child: ChildProcess | undefined, ms = 3000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), ms);
  await exited;
  clearTimeout(t);
}
