/**
 * Dovecot serves the metrics the alerts read, and they move, proven with the real daemon: Debian
 * bookworm's dovecot 2.3.19.1 (docker-mailserver 15.0.0's version) runs on loopback configured as
 * the pod's is: test settings, the image's 60-stats.conf, the rendered `dovecot.cf` as local.conf,
 * DMS's empty `stats_writer_socket_path=` appended to dovecot.conf (both edits read from
 * world/dms-15.0.0/startup.yaml), then the rendered user-patches.sh. It takes one good and one bad
 * IMAP login and one delivery, and its own OpenMetrics listener is scraped. Every `dovecot_*` name
 * any shipped alert rule reads must be served and the counters must count. The negative control
 * is the same pod without user-patches.sh: DMS's appended line wins and every counter stays 0.
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { RULES_FILE } from "../../lib/charts/prometheus";
import {
  applyDovecotAppend,
  dovecotConfPath,
  dovecotLocalConfPath,
  dovecotStatsConf,
  runUserPatches,
  startupFact,
  DOVECOT_STATS_CONF,
} from "../../tools/rehearse/dms-startup";
import { find, prodRun, at } from "../helpers/program";
import { requireTool, toolMissing } from "../helpers/tools";
import { freePort } from "../../tools/rehearse/free-port";

const LDA = "/usr/lib/dovecot/dovecot-lda";
const USER = "probe@example.org";
const PASSWORD = "test-only-password";

/** Users the daemon runs as: unprivileged like docker-mailserver's mail user, or ourselves. */
function accounts(): { user: string; group: string; uid: number; gid: number } {
  const me = os.userInfo();
  if (me.uid !== 0) return { user: me.username, group: me.username, uid: me.uid, gid: me.gid };
  return { user: "nobody", group: "nogroup", uid: 65534, gid: 65534 };
}

/**
 * The test's dovecot.conf: loopback settings, then what the image's dovecot.conf includes, in its
 * order: conf.d (here only DMS's 60-stats.conf) and local.conf (the rendered dovecot.cf).
 */
function baseConfig(
  dir: string,
  imapPort: number,
  statsPort: number,
  files: { stats: string; local: string },
): string {
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
!include ${files.stats}
!include ${files.local}
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

/** Where a file of the pod's /etc/dovecot goes in the test's directory. */
function inDir(dir: string, podPath: string): string {
  return path.join(dir, path.relative(path.dirname(dovecotConfPath()), podPath));
}

interface Instance {
  dir: string;
  conf: string;
  daemon: ChildProcess;
  metrics: string;
}

/**
 * Starts Dovecot configured as the pod, with or without the rendered user-patches.sh, makes one
 * good and one bad login and one delivery, and scrapes its metrics.
 */
async function exercise(
  rendered: { dovecotCf: string; userPatches: string },
  withUserPatches: boolean,
  started: Instance[],
): Promise<Instance> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dovecot-metrics-"));
  fs.chmodSync(dir, 0o755);
  const a = accounts();
  for (const sub of ["run", "state", "home", "conf.d"]) fs.mkdirSync(path.join(dir, sub));
  fs.chownSync(path.join(dir, "home"), a.uid, a.gid);
  fs.writeFileSync(
    path.join(dir, "passwd"),
    `${USER}:{PLAIN}${PASSWORD}:${a.uid}:${a.gid}::${dir}/home::\n`,
  );
  // The image's conf.d/60-stats.conf and DMS's copy of dovecot.cf to local.conf (world file).
  const stats = inDir(dir, startupFact(DOVECOT_STATS_CONF).value.file ?? "");
  fs.writeFileSync(stats, dovecotStatsConf());
  const local = inDir(dir, dovecotLocalConfPath());
  fs.writeFileSync(local, rendered.dovecotCf);
  const imapPort = await freePort();
  const statsPort = await freePort();
  const conf = inDir(dir, dovecotConfPath());
  fs.writeFileSync(conf, baseConfig(dir, imapPort, statsPort, { stats, local }));
  // DMS's startup edit: the empty stats_writer_socket_path= appended after local.conf.
  applyDovecotAppend(conf);
  if (withUserPatches) {
    // The rendered script edits the pod's /etc/dovecot/dovecot.conf; here that path is replaced
    // by this test's dovecot.conf, and the script runs as DMS runs it (/bin/bash FILE).
    const r = runUserPatches(rendered.userPatches, dir, { [dovecotConfPath()]: conf });
    assert.equal(r.status, 0, `user-patches.sh: ${r.out}`);
  }

  const daemon = spawn("dovecot", ["-F", "-c", conf], { stdio: "ignore" });
  const instance: Instance = { dir, conf, daemon, metrics: "" };
  started.push(instance);
  await waitForPort(imapPort, daemon, path.join(dir, "dovecot.log"));
  await waitForPort(statsPort, daemon, path.join(dir, "dovecot.log"));

  const good = await imapSession(imapPort, [`LOGIN ${USER} ${PASSWORD}`, "SELECT INBOX", "LOGOUT"]);
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
  instance.metrics = await scrape(statsPort);
  return instance;
}

/** Every dovecot_* sample line but the build info: the counters. */
function counterSamples(metrics: string): string[] {
  return metrics
    .split("\n")
    .filter((l) => l.startsWith("dovecot_") && !l.startsWith("dovecot_build_info"));
}

describe("Dovecot's own metrics, served by the real daemon", function () {
  this.timeout(60_000);
  const started: Instance[] = [];
  let patched: Instance;
  let unpatched: Instance;
  let ruleNames: string[];

  before(async function () {
    requireTool(this, "dovecot", "dovecot", ["--version"]);
    requireTool(this, "doveconf", "doveconf", ["-d"]);
    if (!fs.existsSync(LDA)) toolMissing(this, "dovecot", `${LDA} not found`);
    const run = await prodRun();
    const data = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "mailserver-config"),
      "data",
    );
    const rendered = { dovecotCf: data["dovecot.cf"], userPatches: data["user-patches.sh"] };
    assert.ok(rendered.userPatches, "the program renders no user-patches.sh");
    const rules = at<Record<string, string>>(
      find(run, "kubernetes:core/v1:ConfigMap", "mailserver-prometheus-rules"),
      "data",
    )[RULES_FILE];
    const exprs = (parse(rules) as { groups: { rules: { expr: string }[] }[] }).groups.flatMap(
      (g) => g.rules.map((r) => r.expr),
    );
    ruleNames = [...new Set(exprs.flatMap((e) => e.match(/\bdovecot_[a-zA-Z0-9_]+/g) ?? []))];

    patched = await exercise(rendered, true, started);
    unpatched = await exercise(rendered, false, started);
  });

  after(async () => {
    // Wait (up to 10 s) for each master to exit: it still writes its state dir while stopping.
    await Promise.all(
      started.map(
        (i) =>
          new Promise<void>((resolve) => {
            if (i.daemon.exitCode !== null || i.daemon.signalCode !== null) return resolve();
            const timer = setTimeout(resolve, 10_000);
            i.daemon.once("exit", () => (clearTimeout(timer), resolve()));
            i.daemon.kill("SIGTERM");
          }),
      ),
    );
    for (const i of started) fs.rmSync(i.dir, { recursive: true, force: true });
  });

  it("doveconf accepts the rendered dovecot.cf after the image's stats defaults", function () {
    const r = spawnSync("doveconf", ["-n", "-c", patched.conf], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /inet_listener http/);
  });

  it("serves every dovecot_* metric an alert rule reads", () => {
    assert.ok(ruleNames.length > 0, "no alert rule reads a dovecot_* metric");
    const served = servedNames(patched.metrics);
    const missing = ruleNames.filter((n) => !served.has(n));
    assert.deepEqual(missing, [], `not served:\n${patched.metrics}`);
  });

  it("counts the good and the bad login, the IMAP commands and the delivery", () => {
    const m = patched.metrics;
    const at1 = (series: string) => {
      const v = value(m, series);
      assert.ok(v !== undefined && v >= 1, `${series} = ${v}:\n${m}`);
    };
    at1("dovecot_auth_success_total");
    at1("dovecot_auth_failures_total");
    at1('dovecot_imap_command_total{cmd_name="SELECT",tagged_reply_state="OK"}');
    at1("dovecot_mail_deliveries_total");
  });

  it("negative control: without user-patches.sh DMS's appended line wins and every counter is 0", () => {
    const socket = spawnSync("doveconf", ["-c", unpatched.conf, "-h", "stats_writer_socket_path"], {
      encoding: "utf8",
    });
    assert.equal(socket.status, 0, socket.stderr);
    assert.equal(socket.stdout.trim(), "", "DMS's empty stats_writer_socket_path= is in effect");
    const m = unpatched.metrics;
    assert.equal(value(m, "dovecot_auth_success_total"), 0, m);
    assert.equal(value(m, "dovecot_auth_failures_total"), 0, m);
    const counters = counterSamples(m);
    assert.ok(counters.length > 0, `no counter served:\n${m}`);
    assert.deepEqual(
      counters.filter((l) => Number(l.split(" ").pop()) !== 0),
      [],
      `counters moved without user-patches.sh:\n${m}`,
    );
  });
});
