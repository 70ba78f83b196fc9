/**
 * Runs Debian's real CrowdSec (unpacked by scripts/install-crowdsec.sh into .tmp/crowdsec) offline
 * in a throw-away directory: own config, sqlite db, hub copy, a Local API on a free loopback port,
 * then one replay of an acquisition file and a read of the resulting alerts and decisions.
 *
 * The sandbox is the rehearsal's (tools/rehearse/crowdsec-replay.ts: the config, the hub items,
 * the Local API); only the replay here is synchronous, with the whole replay log in its error.
 * Installing CrowdSec is scripts/install-crowdsec.sh's job (scripts/setup.sh runs it), never a
 * test's: crowdsecMissing says why it is not usable.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "../../tools/cli/project";
import {
  BIN,
  replayed,
  startLocalApi,
  writeCrowdSecFiles,
  type Alert,
  type CrowdSecFiles,
  type Decision,
  type LocalApi,
} from "../../tools/rehearse/crowdsec-replay";

export { CROWDSEC_ROOT, HUB, crowdsecMissing } from "../../tools/rehearse/crowdsec-replay";
export type { Alert, Decision };
export const REPO_ROOT = ROOT;

export interface ReplayResult {
  alerts: Alert[];
  decisions: Decision[];
  /** The replay's output, for failure messages. */
  log: string;
}

export class CrowdSecSandbox {
  private lapi?: LocalApi;
  private files?: CrowdSecFiles;

  constructor(
    private readonly dir: string,
    private readonly collections: string[],
    private readonly runtime: string,
  ) {}

  /** Writes the config, enables the hub items, registers the agent and starts the Local API. */
  async start(): Promise<void> {
    this.files = await writeCrowdSecFiles(this.dir, this.collections, this.runtime);
    this.cscli("machines", "add", "replay", "--auto", "-f", this.files.credentials);
    this.lapi = await startLocalApi(this.dir, this.files, new AbortController().signal);
  }

  /** Replays an acquisition file once (`mode: cat` datasources) and reads what the LAPI holds. */
  replay(acquisition: string): ReplayResult {
    const { cfg, configFile } = this.started();
    fs.writeFileSync(path.join(cfg, "acquis.yaml"), acquisition);
    let log: string;
    try {
      log = execFileSync(path.join(BIN, "crowdsec"), ["-c", configFile, "-no-api"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 60_000,
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`crowdsec replay failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
    const { alerts, decisions } = replayed(
      this.cscli("alerts", "list", "-o", "json"),
      this.cscli("decisions", "list", "-o", "json"),
    );
    return { alerts, decisions, log };
  }

  /** Stops the Local API: SIGTERM, then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const lapi = this.lapi;
    this.lapi = undefined;
    await lapi?.stop();
  }

  private started(): CrowdSecFiles {
    if (!this.files) throw new Error("the sandbox is not started");
    return this.files;
  }

  private cscli(...args: string[]): string {
    return execFileSync(path.join(BIN, "cscli"), ["-c", this.started().configFile, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
  }
}
