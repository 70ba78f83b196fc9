/**
 * Debian bookworm's real CrowdSec (1.4.6, unpacked by scripts/install-crowdsec.sh into
 * .tmp/crowdsec) for one offline replay, for the rehearsal and tests/crowdsec/crowdsec-sandbox.ts: a
 * throw-away config directory, sqlite db and hub copy, the hub items the collections pull in plus
 * what the agent image always has (the runtime's raw-log parser, dateparse-enrich, the
 * private-range whitelist), a Local API on a free loopback port, then `crowdsec -no-api` over the
 * acquisition (its datasources in `mode: cat`) and `cscli alerts/decisions list`.
 *
 * Every process here is asynchronous, tracked (tools/cli/children.ts) and killed when the
 * rehearsal's signal aborts or its time is up, and the paths come from tools/cli/project.ts (the
 * same whether the tool runs from TypeScript or compiled into bin/). The test sandbox builds on
 * the same config, hub items and Local API (writeCrowdSecFiles, startLocalApi, replayed) and only
 * runs its replay synchronously.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { track } from "../cli/children";
import { ROOT } from "../cli/project";
import { freePort } from "./free-port";
import { runToEnd, stopProcess } from "./processes";
import { portOpen, waitUntil } from "./ready";

export const CROWDSEC_ROOT = path.join(ROOT, ".tmp/crowdsec");
/** Where the unpacked `crowdsec` and `cscli` are. */
export const BIN = path.join(CROWDSEC_ROOT, "usr/bin");
export const HUB = path.join(CROWDSEC_ROOT, "usr/share/crowdsec/hub");
export const CROWDSEC_INSTALL = "bash scripts/install-crowdsec.sh";

/** Why the unpacked CrowdSec is not usable, or undefined when it is. */
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

/** Hub files (paths under the hub) the collections and the agent image's defaults enable. */
function hubItems(collections: string[], runtime: string): string[] {
  const index = JSON.parse(fs.readFileSync(path.join(HUB, ".index.json"), "utf8")) as HubIndex;
  const item = (kind: keyof HubIndex, name: string): string => {
    const found = index[kind][name];
    if (!found) throw new Error(`${kind} ${name} is not in the hub snapshot`);
    return found.path;
  };
  const raw = runtime === "docker" ? "crowdsecurity/docker-logs" : "crowdsecurity/cri-logs";
  const paths = [raw, "crowdsecurity/dateparse-enrich", "crowdsecurity/whitelists"].map((p) =>
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

/** The hub file of a scenario (e.g. crowdsecurity/dovecot-spam), as a path under the hub. */
export function hubScenarioPath(name: string): string | undefined {
  const index = JSON.parse(fs.readFileSync(path.join(HUB, ".index.json"), "utf8")) as HubIndex;
  return index.scenarios[name]?.path;
}

/** Enables a hub item as the Debian package does: a symlink under the config directory. */
function enable(hub: string, cfg: string, hubPath: string): void {
  const parts = hubPath.split("/");
  const target = path.join(cfg, ...parts.slice(0, -2), parts[parts.length - 1]);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (!fs.existsSync(target)) fs.symlinkSync(path.join(hub, hubPath), target);
}

export interface Decision {
  value: string;
  scenario: string;
  type: string;
  duration: string;
}
export interface Alert {
  scenario: string;
  message?: string;
  events_count?: number;
  source?: { ip?: string; value?: string };
  decisions?: Decision[] | null;
}
export interface ReplayOutcome {
  alerts: Alert[];
  /** The active decisions after the replay. */
  decisions: Decision[];
  /** `crowdsec -no-api` output (its log). */
  log: string;
  /** The first line of `crowdsec -version`. */
  version: string;
}

/** A CrowdSec with its Local API up, ready for one replay; `stop` ends it. */
export interface CrowdSec {
  replay(acquisition: string): Promise<ReplayOutcome>;
  stop(): Promise<void>;
}

/** A sandbox directory ready for its Local API: config, hub copy, enabled items, a free port. */
export interface CrowdSecFiles {
  cfg: string;
  configFile: string;
  /** Where `cscli machines add` writes the replaying machine's credentials. */
  credentials: string;
  port: number;
}

/**
 * Writes the config under `dir` (a sqlite db, a hub copy, the collections' hub items and the agent
 * image's defaults enabled) for a Local API on a free loopback port. Registering the machine is
 * the caller's: `cscli machines add replay --auto -f <credentials>`.
 */
export async function writeCrowdSecFiles(
  dir: string,
  collections: string[],
  runtime: string,
): Promise<CrowdSecFiles> {
  const cfg = path.join(dir, "cfg");
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
  for (const item of hubItems(collections, runtime)) enable(hub, cfg, item);
  const port = await freePort();
  const configFile = path.join(cfg, "config.yaml");
  fs.writeFileSync(configFile, stringify(config(dir, cfg, hub, port)));
  return { cfg, configFile, credentials: path.join(cfg, "creds.yaml"), port };
}

/** A running Local API; `stop` ends it (SIGTERM, then SIGKILL after 5 s). */
export interface LocalApi {
  stop: () => Promise<void>;
}

/**
 * Starts the Local API of a registered sandbox (its log in `dir`/lapi.log) and waits until it
 * listens; `stop` (or `signal`) ends it.
 */
export async function startLocalApi(
  dir: string,
  files: CrowdSecFiles,
  signal: AbortSignal,
): Promise<LocalApi> {
  const out = fs.openSync(path.join(dir, "lapi.log"), "w");
  const lapi = track(
    spawn(path.join(BIN, "crowdsec"), ["-c", files.configFile, "-no-cs"], {
      stdio: ["ignore", out, out],
    }),
  );
  fs.closeSync(out);
  const onAbort = () => void stopProcess(lapi);
  signal.addEventListener("abort", onAbort, { once: true });
  const stop = async () => {
    signal.removeEventListener("abort", onAbort);
    await stopProcess(lapi);
  };
  try {
    const listens = `the Local API listens on 127.0.0.1:${files.port}`;
    await waitUntil(listens, () => portOpen("127.0.0.1", files.port), {
      proc: lapi,
      name: "the Local API",
      ms: 20_000,
      signal,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

/** The alerts and the active decisions from `cscli alerts list` and `cscli decisions list` (JSON). */
export function replayed(
  alertsJson: string,
  decisionsJson: string,
): { alerts: Alert[]; decisions: Decision[] } {
  const alerts = JSON.parse(alertsJson || "[]") as Alert[] | null;
  const active = JSON.parse(decisionsJson || "[]") as Alert[] | null;
  return { alerts: alerts ?? [], decisions: (active ?? []).flatMap((a) => a.decisions ?? []) };
}

/** Writes the config under `dir`, registers the replaying machine and starts the Local API. */
export async function startCrowdSec(
  dir: string,
  collections: string[],
  runtime: string,
  signal: AbortSignal,
): Promise<CrowdSec> {
  const files = await writeCrowdSecFiles(dir, collections, runtime);
  const { cfg, configFile } = files;
  const cscli = async (...args: string[]) => {
    const r = await runToEnd(path.join(BIN, "cscli"), ["-c", configFile, ...args], signal, 30_000);
    if (r.code !== 0) throw new Error(`cscli ${args.slice(0, 2).join(" ")}: ${r.out.trim()}`);
    return r.out;
  };
  await cscli("machines", "add", "replay", "--auto", "-f", files.credentials);
  const lapi = await startLocalApi(dir, files, signal);
  return {
    async replay(acquisition: string): Promise<ReplayOutcome> {
      fs.writeFileSync(path.join(cfg, "acquis.yaml"), acquisition);
      const version = (await runToEnd(path.join(BIN, "crowdsec"), ["-version"], signal, 10_000))
        .out;
      const r = await runToEnd(
        path.join(BIN, "crowdsec"),
        ["-c", configFile, "-no-api"],
        signal,
        60_000,
      );
      if (r.code !== 0) throw new Error(`crowdsec replay exited ${r.code}: ${lastLines(r.out)}`);
      return {
        ...replayed(
          await cscli("alerts", "list", "-o", "json"),
          await cscli("decisions", "list", "-o", "json"),
        ),
        log: r.out,
        version: /version: (\S+)/.exec(version)?.[1] ?? lastLines(version),
      };
    },
    stop: lapi.stop,
  };
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join(" | ");
}

/** The sandbox's config: no online client (nothing talks to the Central API), no metrics port. */
function config(dir: string, cfg: string, hub: string, port: number) {
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
      server: { listen_uri: `127.0.0.1:${port}`, profiles_path: path.join(cfg, "profiles.yaml") },
    },
    prometheus: { enabled: false },
  };
}
