/**
 * Runs Debian's real CrowdSec (unpacked by scripts/install-crowdsec.sh into .tmp/crowdsec) offline
 * in a throw-away directory: own config, sqlite db, hub copy, a Local API on a free loopback port,
 * then one replay of an acquisition file and a read of the resulting alerts and decisions.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { stringify } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const CROWDSEC_ROOT = path.join(REPO_ROOT, ".tmp/crowdsec");
const BIN = path.join(CROWDSEC_ROOT, "usr/bin");
export const HUB = path.join(CROWDSEC_ROOT, "usr/share/crowdsec/hub");

/**
 * Why Debian's CrowdSec is not usable from .tmp/crowdsec, or undefined when it is. Installing is
 * scripts/install-crowdsec.sh's job (scripts/setup.sh runs it), never a test's.
 */
export function crowdsecMissing(): string | undefined {
  const missing = ["crowdsec", "cscli"].filter((b) => !fs.existsSync(path.join(BIN, b)));
  if (missing.length > 0 || !fs.existsSync(path.join(HUB, ".index.json"))) {
    return `no ${missing.join(" and ") || "hub snapshot"} in ${CROWDSEC_ROOT}`;
  }
  return undefined;
}

interface HubIndexItem {
  path: string;
  parsers?: string[];
  scenarios?: string[];
}
type HubIndex = Record<"collections" | "parsers" | "scenarios", Record<string, HubIndexItem>>;

/**
 * Hub files to enable: what the collections pull in, plus what the agent image always has (the
 * raw-log parser for the runtime, date parsing, the private-range whitelist).
 */
function hubItems(collections: string[], runtime: string): string[] {
  const index = JSON.parse(fs.readFileSync(path.join(HUB, ".index.json"), "utf8")) as HubIndex;
  const item = (kind: keyof HubIndex, name: string): string => {
    const found = index[kind][name];
    if (!found) throw new Error(`${kind} ${name} is not in the hub snapshot`);
    return found.path;
  };
  const rawParser = runtime === "docker" ? "crowdsecurity/docker-logs" : "crowdsecurity/cri-logs";
  const paths = [rawParser, "crowdsecurity/dateparse-enrich", "crowdsecurity/whitelists"].map((p) =>
    item("parsers", p),
  );
  for (const name of collections) {
    const c = index.collections[name];
    if (!c) throw new Error(`collection ${name} is not in the hub snapshot`);
    paths.push(item("collections", name));
    paths.push(...(c.parsers ?? []).map((p) => item("parsers", p)));
    paths.push(...(c.scenarios ?? []).map((s) => item("scenarios", s)));
  }
  return paths;
}

/** Enables hub items the way the Debian package does: symlinks under the config dir. */
function enable(hub: string, cfg: string, hubPath: string): void {
  // parsers/<stage>/<author>/<name>.yaml -> cfg/parsers/<stage>/<name>.yaml; others drop the author.
  const parts = hubPath.split("/");
  const target = path.join(cfg, ...parts.slice(0, -2), parts[parts.length - 1]);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (!fs.existsSync(target)) fs.symlinkSync(path.join(hub, hubPath), target);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`LAPI exited with ${proc.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`LAPI not listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export interface Decision {
  value: string;
  scenario: string;
  type: string;
  duration: string;
}
export interface Alert {
  scenario: string;
  source?: { ip?: string; value?: string };
  decisions?: Decision[] | null;
}
export interface ReplayResult {
  alerts: Alert[];
  decisions: Decision[];
  /** The replay's stderr, for failure messages. */
  log: string;
}

export class CrowdSecSandbox {
  private lapi?: ChildProcess;
  private readonly cfg: string;
  private readonly configFile: string;

  constructor(
    private readonly dir: string,
    private readonly collections: string[],
    private readonly runtime: string,
  ) {
    this.cfg = path.join(dir, "cfg");
    this.configFile = path.join(this.cfg, "config.yaml");
  }

  /** Writes the config, enables the hub items, registers the agent and starts the Local API. */
  async start(): Promise<void> {
    const { dir, cfg } = this;
    const hub = path.join(dir, "hub");
    fs.mkdirSync(path.join(dir, "data"), { recursive: true });
    fs.cpSync(HUB, hub, { recursive: true });
    fs.cpSync(path.join(CROWDSEC_ROOT, "etc/crowdsec/patterns"), path.join(cfg, "patterns"), {
      recursive: true,
    });
    fs.copyFileSync(
      path.join(CROWDSEC_ROOT, "etc/crowdsec/profiles.yaml"),
      path.join(cfg, "profiles.yaml"),
    );
    fs.writeFileSync(path.join(cfg, "simulation.yaml"), "simulation: off\n");
    for (const item of hubItems(this.collections, this.runtime)) enable(hub, cfg, item);

    const port = await freePort();
    fs.writeFileSync(this.configFile, stringify(this.config(hub, port)));
    this.cscli("machines", "add", "replay", "--auto", "-f", path.join(cfg, "creds.yaml"));

    const out = fs.openSync(path.join(dir, "lapi.log"), "w");
    this.lapi = spawn(path.join(BIN, "crowdsec"), ["-c", this.configFile, "-no-cs"], {
      stdio: ["ignore", out, out],
    });
    fs.closeSync(out);
    await waitForPort(port, this.lapi, 20_000);
  }

  /** Replays an acquisition file once (`mode: cat` datasources) and reads what the LAPI holds. */
  replay(acquisition: string): ReplayResult {
    const acquisFile = path.join(this.cfg, "acquis.yaml");
    fs.writeFileSync(acquisFile, acquisition);
    let log: string;
    try {
      log = execFileSync(path.join(BIN, "crowdsec"), ["-c", this.configFile, "-no-api"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 60_000,
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`crowdsec replay failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
    const alerts = JSON.parse(this.cscli("alerts", "list", "-o", "json") || "[]") as Alert[] | null;
    const active = JSON.parse(this.cscli("decisions", "list", "-o", "json") || "[]") as
      Alert[] | null;
    const decisions = (active ?? []).flatMap((a) => a.decisions ?? []);
    return { alerts: alerts ?? [], decisions, log };
  }

  /** Stops the Local API: SIGTERM, then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const proc = this.lapi;
    this.lapi = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private cscli(...args: string[]): string {
    return execFileSync(path.join(BIN, "cscli"), ["-c", this.configFile, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
  }

  private config(hub: string, port: number) {
    const { dir, cfg } = this;
    return {
      common: { daemonize: false, log_media: "stdout", log_level: "info" },
      config_paths: {
        config_dir: cfg,
        data_dir: path.join(dir, "data"),
        simulation_path: path.join(cfg, "simulation.yaml"),
        hub_dir: hub,
        index_path: path.join(hub, ".index.json"),
        notification_dir: path.join(cfg, "notifications"),
        plugin_dir: path.join(CROWDSEC_ROOT, "usr/lib/crowdsec/plugins"),
      },
      crowdsec_service: { acquisition_path: path.join(cfg, "acquis.yaml"), parser_routines: 1 },
      // Without hub_branch every cscli call tries to fetch the hub index online.
      cscli: { output: "json", hub_branch: "master" },
      db_config: { type: "sqlite", db_path: path.join(dir, "data/crowdsec.db") },
      api: {
        client: { credentials_path: path.join(cfg, "creds.yaml") },
        // No online_client: nothing talks to the Central API.
        server: { listen_uri: `127.0.0.1:${port}`, profiles_path: path.join(cfg, "profiles.yaml") },
      },
      prometheus: { enabled: false },
    };
  }
}
