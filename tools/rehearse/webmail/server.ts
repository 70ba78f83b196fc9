/**
 * Roundcube served by PHP's built-in server under `unshare --mount`: there /etc/hosts is the work
 * tree's copy that points the planned mail Service's names (the cluster DNS answer) at the pod,
 * /tmp is private, and /var is an overlay so /var/roundcube exists for this process only. PHP
 * trusts the throwaway CA through `openssl.cafile`, the CA Roundcube's TLS uses when its
 * conn_options name no cafile; the rendered `peer_name`/`verify_peer` stay as they are.
 */
import type { ChildProcess } from "node:child_process";
import * as path from "node:path";
import { freePort } from "../free-port";
import { spawnNamespaced } from "../namespaced";
import { portOpen } from "../ready";

/** Debian's roundcube-core web root. */
export const ROUNDCUBE_PUBLIC = "/var/lib/roundcube/public_html";

/**
 * The mount namespace's setup before PHP starts: $1 is the work directory. /tmp is a tmpfs, so the
 * overlay's upper layer (a copy of $1/var) lives outside /var and vanishes with the namespace.
 */
const NAMESPACE_SETUP = [
  'mount --bind "$1/hosts" /etc/hosts',
  "mount -t tmpfs -o mode=1777 tmpfs /tmp",
  "mkdir -p /tmp/.var/upper /tmp/.var/work /tmp/roundcube-temp",
  'cp -a "$1/var/." /tmp/.var/upper/',
  "mount -t overlay overlay -o lowerdir=/var,upperdir=/tmp/.var/upper,workdir=/tmp/.var/work /var",
];

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** The running PHP server and everything it wrote (Roundcube logs to stdout). */
export class Roundcube {
  private output = "";

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on("data", (c: Buffer) => (this.output += c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => (this.output += c.toString("utf8")));
  }

  /** PHP on a free loopback port with the work tree's CA and `configDir` as Roundcube's config. */
  static async start(work: string, configDir: string): Promise<Roundcube> {
    const port = await freePort();
    const child = spawnNamespaced(
      [
        "php",
        "-d",
        `openssl.cafile=${path.join(work, "ca.pem")}`,
        "-d",
        "display_errors=stderr",
        "-S",
        `127.0.0.1:${port}`,
        "-t",
        ROUNDCUBE_PUBLIC,
      ],
      { setup: NAMESPACE_SETUP, args: [work] },
      {
        env: { ...process.env, ROUNDCUBE_CONFIG_DIR: configDir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    return new Roundcube(child, port);
  }

  log(): string {
    return this.output;
  }

  /** Waits up to 10 s for the port; throws with PHP's last line when it does not listen. */
  async listening(signal: AbortSignal): Promise<void> {
    let up = false;
    for (let t = Date.now(); !up && Date.now() - t < 10_000 && !signal.aborted;) {
      if (this.child.exitCode !== null) break;
      up = await portOpen("127.0.0.1", this.port);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    if (!up)
      throw new Error(`php -S did not listen: ${this.output.trim().split("\n").pop() ?? ""}`);
  }

  kill(): void {
    if (alive(this.child)) this.child.kill("SIGKILL");
  }

  /** Kills PHP and resolves once it has exited. */
  async stop(): Promise<void> {
    const exited = alive(this.child) && new Promise((r) => this.child.once("exit", r));
    this.kill();
    await exited;
  }

  /** Roundcube's and PHP's own words on a failed IMAP or SMTP connection. */
  connectionErrors(): string[] {
    const lines = this.output.split("\n");
    const warning = lines.find((l) => /PHP Warning: +stream_socket_client\(\)/.test(l));
    const error = lines.filter((l) => /(IMAP|SMTP) Error:/.test(l)).pop();
    return [warning, error]
      .filter((l): l is string => l !== undefined)
      .map((l) => l.replace(/^\[[^\]]+\] /, "").replace(/ in \/usr\/share\/roundcube\/.*$/, ""));
  }
}
