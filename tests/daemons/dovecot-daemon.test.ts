/**
 * Dovecot 2.3.19.1 (Debian bookworm, as in docker-mailserver 15.0.0) started on loopback with the
 * rendered `dovecot.cf` read as DMS reads it (after the image's 60-stats.conf, as local.conf, then
 * DMS's appended stats line and the rendered user-patches.sh; world/dms-15.0.0/startup.yaml): the
 * per-user-and-IP connection limit Roundcube
 * depends on (one pod IP for every webmail session) is what the daemon enforces, and without the
 * file the stock limit applies (the negative control). The limit is asked from doveconf, never
 * restated here.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  applyDovecotAppend,
  dovecotConfPath,
  dovecotStatsConf,
  runUserPatches,
} from "../../tools/rehearse/dms-startup";
import { prodRun } from "../helpers/program";
import { requireTool } from "../helpers/tools";
import { run, userPatchesPath } from "./checkers";
import { renderedFiles } from "./rendered";
import { freePort } from "../../tools/rehearse/free-port";

const USER = "probe@example.org";
const PASSWORD = "PLACEHOLDER-imap-password";

/** Stops the master and waits (up to 10 s) until it has removed its pid file. */
async function stop(config: string, dir: string): Promise<void> {
  spawnSync("dovecot", ["-c", config, "stop"], { stdio: "ignore", timeout: 30_000 });
  const pidFile = path.join(dir, "run", "master.pid");
  for (let i = 0; i < 100 && fs.existsSync(pidFile); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A throw-away Dovecot: IMAP on one loopback port, a static user, maildirs in `dir`. */
function baseConfig(dir: string, port: number): string {
  return `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = static
  args = password=${PASSWORD}
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
}
`;
}

/**
 * Settings read after the rendered file: every TCP listener of the effective config (defaults
 * included, `doveconf -a`) is switched off (port 0) but the test's own IMAP port, so the daemon
 * binds nothing else (imaps has no certificate here; the file may add a metrics listener).
 */
function listenersOff(config: string): string {
  const blocks: string[] = [];
  let service = "";
  let listener = "";
  for (const line of run("doveconf", ["-c", config, "-a"]).stdout.split("\n")) {
    service = /^service (\S+) \{/.exec(line)?.[1] ?? service;
    listener = /^\s+inet_listener (\S+) \{/.exec(line)?.[1] ?? listener;
    const port = /^\s+port = (\d+)$/.exec(line)?.[1];
    if (port && port !== "0" && !(service === "imap-login" && listener === "imap")) {
      blocks.push(`service ${service} {\n  inet_listener ${listener} {\n    port = 0\n  }\n}`);
    }
  }
  return blocks.join("\n") + "\n";
}

/** Logs in over one new IMAP connection; resolves to the tagged answer, keeping the socket open. */
function login(port: number, sockets: net.Socket[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    sockets.push(socket);
    let buffer = "";
    let sent = false;
    socket.setEncoding("utf8");
    socket.on("error", reject);
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      if (!sent && /^\* OK/m.test(buffer)) {
        sent = true;
        socket.write(`a1 LOGIN "${USER}" "${PASSWORD}"\r\n`);
      }
      const tagged = /^a1 (OK|NO|BAD).*$/m.exec(buffer);
      if (tagged) resolve(tagged[0]);
    });
  });
}

describe("Dovecot on loopback with the rendered dovecot.cf", function () {
  this.timeout(120_000);
  let rendered: string;
  let userPatches: string;

  before(async function () {
    requireTool(this, "dovecot");
    requireTool(this, "doveconf", "doveconf", ["-d"]);
    const files = renderedFiles(await prodRun());
    const file = files.find((f) => f.mountPath.endsWith("/dovecot.cf"));
    assert.ok(file, "the plan mounts no dovecot.cf");
    rendered = file.content;
    const patches = files.find((f) => f.mountPath === userPatchesPath());
    assert.ok(patches, `the plan mounts no ${userPatchesPath()}`);
    userPatches = patches.content;
  });

  /** Starts Dovecot with `extra` read last; returns its limit and the answers to limit+1 logins. */
  async function connectUpToLimit(extra: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dovecot-run-"));
    for (const sub of ["run", "state", "mail"]) fs.mkdirSync(path.join(dir, sub));
    fs.chmodSync(path.join(dir, "mail"), 0o777);
    const port = await freePort();
    const config = path.join(dir, "dovecot.conf");
    fs.writeFileSync(path.join(dir, "60-stats.conf"), dovecotStatsConf());
    fs.writeFileSync(path.join(dir, "extra.conf"), extra);
    fs.writeFileSync(
      config,
      `${baseConfig(dir, port)}!include ${dir}/60-stats.conf\n!include ${dir}/extra.conf\n`,
    );
    fs.appendFileSync(path.join(dir, "extra.conf"), listenersOff(config));
    // DMS's startup: its line appended after local.conf, then user-patches.sh, which edits the
    // pod's dovecot.conf; here that path is replaced by this test's.
    applyDovecotAppend(config);
    const patched = runUserPatches(userPatches, dir, { [dovecotConfPath()]: config });
    assert.equal(patched.status, 0, patched.out);
    const limit = Number(
      run("doveconf", ["-c", config, "-h", "mail_max_userip_connections"]).stdout,
    );
    // The master daemonizes: its output goes to log_path, no pipe may keep this call waiting.
    const started = spawnSync("dovecot", ["-c", config], { stdio: "ignore", timeout: 30_000 });
    assert.equal(started.status, 0, fs.readFileSync(path.join(dir, "dovecot.log"), "utf8"));
    const sockets: net.Socket[] = [];
    try {
      const answers: string[] = [];
      for (let i = 0; i <= limit; i++) answers.push(await login(port, sockets));
      return { limit, answers };
    } finally {
      for (const s of sockets) s.destroy();
      await stop(config, dir);
    }
  }

  it("lets as many sessions per user and IP as the file sets, and refuses the next", async () => {
    const { limit, answers } = await connectUpToLimit(rendered);
    assert.ok(limit > 0, "no mail_max_userip_connections");
    assert.deepEqual(
      answers.slice(0, limit).filter((a) => !a.startsWith("a1 OK")),
      [],
      `limit ${limit}`,
    );
    assert.match(answers[limit], /^a1 NO \[LIMIT\]/);
  });

  it("negative control: without the file the stock limit is lower and refuses sooner", async () => {
    const withFile = await connectUpToLimit(rendered);
    const stock = await connectUpToLimit("");
    assert.ok(stock.limit < withFile.limit, `stock ${stock.limit}, rendered ${withFile.limit}`);
    assert.match(stock.answers[stock.limit], /^a1 NO \[LIMIT\]/);
  });
});
