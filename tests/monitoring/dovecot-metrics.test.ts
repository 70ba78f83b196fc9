/**
 * Dovecot serves the metrics the alerts read, proven with the real daemon: Debian bookworm's
 * dovecot 2.3.19.1 (docker-mailserver 15.0.0's version) runs on loopback with the image's stats
 * defaults and the `dovecot.cf` the program renders, takes one good and one bad IMAP login and one
 * delivery, and its own OpenMetrics listener is scraped. Every `dovecot_*` name any shipped alert
 * rule reads must be served.
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { RULES_FILE } from "../../lib/prometheus-chart";
import { find, prodRun, at } from "../helpers/program";
import { requireTool, toolMissing } from "../helpers/tools";

const LDA = "/usr/lib/dovecot/dovecot-lda";
const USER = "probe@example.org";
const PASSWORD = "test-only-password";

/**
 * What docker-mailserver 15.0.0 sets before `dovecot.cf` is read: its target/dovecot/60-stats.conf
 * disables both stats sockets with mode 0 (docker-mailserver @ v15.0.0).
 */
const IMAGE_STATS_DEFAULTS = `service stats {
  unix_listener stats-reader {
    mode = 0
  }
  unix_listener stats-writer {
    mode = 0
  }
}
`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Users the daemon runs as: unprivileged like docker-mailserver's mail user, or ourselves. */
function accounts(): { user: string; group: string; uid: number; gid: number } {
  const me = os.userInfo();
  if (me.uid !== 0) return { user: me.username, group: me.username, uid: me.uid, gid: me.gid };
  return { user: "nobody", group: "nogroup", uid: 65534, gid: 65534 };
}

function baseConfig(dir: string, imapPort: number, statsPort: number, renderedCf: string): string {
  const a = accounts();
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
default_login_user = ${a.user}
default_internal_user = ${a.user}
default_internal_group = ${a.group}
first_valid_uid = ${Math.min(a.uid, 500)}
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service imap-login {
  inet_listener imap {
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
!include ${dir}/60-stats.conf
!include ${renderedCf}
# The rendered port is the pod's; here a free loopback port.
service stats {
  inet_listener http {
    port = ${statsPort}
  }
}
`;
}

/** One IMAP session over loopback: sends each command, waits for its tagged reply. */
async function imapSession(port: number, commands: string[]): Promise<string[]> {
  const socket = net.connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  let buffer = "";
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = re.exec(buffer);
        if (!m) return;
        socket.off("data", onData);
        const line = m[0];
        buffer = buffer.slice(m.index + line.length);
        resolve(line);
      };
      const onData = (chunk: string) => {
        buffer += chunk;
        check();
      };
      socket.on("data", onData);
      socket.once("error", reject);
      check();
    });
  await waitFor(/^\* OK.*\r\n/m);
  const replies: string[] = [];
  for (const [i, command] of commands.entries()) {
    const tag = `t${i}`;
    socket.write(`${tag} ${command}\r\n`);
    replies.push(await waitFor(new RegExp(`^${tag} (OK|NO|BAD).*\\r\\n`, "m")));
  }
  socket.destroy();
  return replies;
}

async function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

async function waitForPort(port: number, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const text = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "(no log)";
  throw new Error(`dovecot did not listen on 127.0.0.1:${port}:\n${text}`);
}

/** Series value of `name{labels}` exactly as served, or undefined. */
function value(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Metric names served (sample lines, not comments). */
function servedNames(metrics: string): Set<string> {
  return new Set(
    metrics
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? ""),
  );
}

describe("Dovecot's own metrics, served by the real daemon", function () {
  this.timeout(60_000);
  let dir: string;
  let conf: string;
  let daemon: ChildProcess | undefined;
  let imapPort: number;
  let statsPort: number;
  let ruleNames: string[];
  let metrics: string;

  before(async function () {
    requireTool(this, "dovecot", "dovecot", ["--version"]);
    requireTool(this, "doveconf", "doveconf", ["-d"]);
    if (!fs.existsSync(LDA)) toolMissing(this, "dovecot", `${LDA} not found`);
    const run = await prodRun();
    const rendered = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "mailserver-config"),
      "data",
    )["dovecot.cf"];
    const rules = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "mailserver-prometheus-rules"),
      "data",
    )[RULES_FILE];
    const exprs = (parse(rules) as { groups: { rules: { expr: string }[] }[] }).groups.flatMap(
      (g) => g.rules.map((r) => r.expr),
    );
    ruleNames = [...new Set(exprs.flatMap((e) => e.match(/\bdovecot_[a-zA-Z0-9_]+/g) ?? []))];

    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dovecot-metrics-"));
    fs.chmodSync(dir, 0o755);
    const a = accounts();
    for (const sub of ["run", "state", "home"]) fs.mkdirSync(path.join(dir, sub));
    fs.chownSync(path.join(dir, "home"), a.uid, a.gid);
    fs.writeFileSync(
      path.join(dir, "passwd"),
      `${USER}:{PLAIN}${PASSWORD}:${a.uid}:${a.gid}::${dir}/home::\n`,
    );
    fs.writeFileSync(path.join(dir, "60-stats.conf"), IMAGE_STATS_DEFAULTS);
    fs.writeFileSync(path.join(dir, "dovecot.cf"), rendered);
    imapPort = await freePort();
    statsPort = await freePort();
    conf = path.join(dir, "dovecot.conf");
    fs.writeFileSync(conf, baseConfig(dir, imapPort, statsPort, path.join(dir, "dovecot.cf")));

    daemon = spawn("dovecot", ["-F", "-c", conf], { stdio: "ignore" });
    await waitForPort(imapPort, daemon, path.join(dir, "dovecot.log"));
    await waitForPort(statsPort, daemon, path.join(dir, "dovecot.log"));

    const good = await imapSession(imapPort, [
      `LOGIN ${USER} ${PASSWORD}`,
      "SELECT INBOX",
      "LOGOUT",
    ]);
    assert.match(good[1], /^t1 OK/, `SELECT: ${good[1]}`);
    const bad = await imapSession(imapPort, [`LOGIN ${USER} wrong-password`, "LOGOUT"]);
    assert.match(bad[0], /^t0 NO/, `wrong LOGIN: ${bad[0]}`);
    // One delivery through Dovecot's delivery library (the one its LMTP service uses).
    const lda = spawnSync(LDA, ["-c", conf, "-d", USER, "-f", "sender@example.org"], {
      input: "From: sender@example.org\r\nTo: probe@example.org\r\nSubject: t\r\n\r\nbody\r\n",
      encoding: "utf8",
    });
    assert.equal(lda.status, 0, `dovecot-lda: ${lda.stderr}`);
    // The stats process aggregates events as they arrive; give the last ones a moment.
    await new Promise((r) => setTimeout(r, 500));
    metrics = await scrape(statsPort);
  });

  after(() => {
    daemon?.kill("SIGTERM");
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("doveconf accepts the rendered dovecot.cf after the image's stats defaults", function () {
    const r = spawnSync("doveconf", ["-n", "-c", conf], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /inet_listener http/);
  });

  it("serves every dovecot_* metric an alert rule reads", () => {
    assert.ok(ruleNames.length > 0, "no alert rule reads a dovecot_* metric");
    const served = servedNames(metrics);
    const missing = ruleNames.filter((n) => !served.has(n));
    assert.deepEqual(missing, [], `not served:\n${metrics}`);
  });

  it("counts the good and the bad login, the IMAP commands and the delivery", () => {
    assert.equal(value(metrics, "dovecot_auth_success_total"), 1, metrics);
    assert.equal(value(metrics, "dovecot_auth_failures_total"), 1, metrics);
    assert.equal(
      value(metrics, 'dovecot_imap_command_total{cmd_name="SELECT",tagged_reply_state="OK"}'),
      1,
      metrics,
    );
    assert.equal(value(metrics, "dovecot_mail_deliveries_total"), 1, metrics);
  });
});
