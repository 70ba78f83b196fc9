/**
 * "The mail pod" on this machine: the real Debian Postfix 3.7, Dovecot 2.3.19.1 and Rspamd 3.4
 * (the versions docker-mailserver 15.0.0 ships) with the config the program renders, laid out as
 * DMS 15.0.0's startup leaves it (world/dms-15.0.0/startup.yaml, applied by ./dms-startup.ts and
 * below), in a network namespace of its own joined to this host by one veth pair.
 *
 * Nothing on the host changes: the daemons run under `unshare --mount --pid --fork --kill-child`,
 * where /etc is an overlay (the pod's files over the host's, as the image's files sit over
 * Debian's) and /var/spool/postfix, /var/mail, /var/lib/*, /var/log, /run, /dev/shm and /tmp are
 * private directories under one work directory. Killing the unshare process kills the pid
 * namespace's init and with it every daemon; the mounts go with the namespace.
 *
 * Addresses are RFC 5737 documentation ranges (TEST-NET-3 and -2; this machine's own network
 * may be TEST-NET-1, so that one is left alone): the pod is POD_ADDRESS, the host side of the link
 * (the "outside" client, the DNS server) OUTSIDE_ADDRESS, and RELAY_ADDRESS is where the Brevo
 * stand-in listens.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { Socket } from "node:dgram";
import { track } from "../cli/children";
import type { ProgramRun } from "../offline/mock-program";
import { plannedRecords, serveDns, type DnsRecord } from "./dns";
import {
  applies,
  applyDovecotAppend,
  applyRspamdLocalD,
  dmsEnvironment,
  expand,
  postfixAsDmsLeavesIt,
  startupFact,
  startupFacts,
  type StartupFact,
} from "./dms-startup";
import { containerEnv, mountedFiles, type MountedFile } from "./mounts";

export const POD_ADDRESS = "203.0.113.25";
export const OUTSIDE_ADDRESS = "203.0.113.1";
export const RELAY_ADDRESS = "198.51.100.1";
/** The outside client's name, in the pod's /etc/hosts both ways (reject_unknown_client_hostname). */
export const OUTSIDE_NAME = "client.example.net";
/** The outside sender's domain (RFC 2606), answered by the rehearsal's DNS. */
export const OUTSIDE_DOMAIN = "example.net";

const NAMESPACE = "mailserver";
const DEPLOYMENT = "mailserver";
const NETNS_PREFIX = "rehearse-";
/** The work directory: not under /tmp, which the pod bind-mounts over. */
const WORK_PREFIX = "/var/tmp/rehearse-pod-";

export interface MailPod {
  netns: string;
  /** Host directory holding the pod's private trees (the pod's /etc overlay upper is `etc/`). */
  root: string;
  /** The host name the program gives the server (OVERRIDE_HOSTNAME). */
  hostname: string;
  env: Record<string, string>;
  files: MountedFile[];
  /** The throwaway CA's certificate (PEM) that signed the pod's and the relay's certificates. */
  caPem: string;
  /** Key and certificate (PEM) for the relay stand-in, signed by the same CA. */
  relayTls: { key: string; cert: string };
  /** The names the rehearsal's DNS answers. */
  records: DnsRecord[];
  /** Milliseconds the pod took to start. */
  startMs: number;
  /** A file of the pod as the host sees it (e.g. "/var/log/mail/mail.log"). */
  hostPath(podPath: string): string;
  /** Text of a pod file ("" when missing). */
  read(podPath: string): string;
  /** The CRI-format copy of the container's stdout (tail of mail.log), as the kubelet writes it. */
  criLog: string;
  stop(): Promise<void>;
  /** Synchronous teardown, safe in an `exit` handler. */
  stopSync(): void;
}

function sh(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000, input });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

function write(file: string, text: string, mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  if (mode !== undefined) fs.chmodSync(file, mode);
}

/** Valid lines of a DMS input file: no blank or comment lines (_get_valid_lines_from_file). */
function validLines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "" && !/^\s*#/.test(l));
}

// ------------------------------------------------------------------------------------ leftovers

/** Netns names of earlier rehearsals whose process is gone (a SIGKILL leaves them behind). */
function staleNamespaces(): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return (r.stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(NETNS_PREFIX))
    .filter((n) => {
      const pid = Number(n.slice(NETNS_PREFIX.length).split("-")[0]);
      return !pid || !fs.existsSync(`/proc/${pid}`);
    });
}

/**
 * `ip netns add` makes /run/netns a mount point (and maybe the directory): undone when no
 * namespace is left in it.
 */
function releaseNetnsDir(keepDir = false): void {
  const left = fs.existsSync("/run/netns") ? fs.readdirSync("/run/netns") : [];
  if (left.length) return;
  if (isMountPoint("/run/netns")) spawnSync("umount", ["/run/netns"], { stdio: "ignore" });
  if (!keepDir && fs.existsSync("/run/netns")) fs.rmdirSync("/run/netns");
}

/** Work directories of earlier rehearsals whose process is gone. */
function staleWorkDirs(): string[] {
  const dir = path.dirname(WORK_PREFIX);
  return fs
    .readdirSync(dir)
    .map((n) => path.join(dir, n))
    .filter((p) => p.startsWith(WORK_PREFIX))
    .filter((p) => {
      const pid = Number(p.slice(WORK_PREFIX.length).split("-")[0]);
      return !pid || !fs.existsSync(`/proc/${pid}`);
    });
}

/** Whether /run/netns was a mount point before the first `ip netns add` made it one. */
function isMountPoint(dir: string): boolean {
  return fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === dir);
}

// ------------------------------------------------------------------------------------- TLS

/** A throwaway CA and leaf certificates for `names`, made with openssl in `dir`. */
function throwawayTls(dir: string, names: string[]) {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  sh("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    "-subj", "/CN=rehearsal throwaway CA", "-keyout", f("ca.key"), "-out", f("ca.crt"),
  ]); // prettier-ignore
  const leaf = (name: string) => {
    const base = f(name);
    write(`${base}.ext`, `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
    sh("openssl", [
      "req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`,
      "-keyout", `${base}.key`, "-out", `${base}.csr`,
    ]); // prettier-ignore
    sh("openssl", [
      "x509", "-req", "-in", `${base}.csr`, "-CA", f("ca.crt"), "-CAkey", f("ca.key"),
      "-CAcreateserial", "-days", "2", "-extfile", `${base}.ext`, "-out", `${base}.crt`,
    ]); // prettier-ignore
    return {
      key: fs.readFileSync(`${base}.key`, "utf8"),
      cert: fs.readFileSync(`${base}.crt`, "utf8"),
    };
  };
  return { ca: fs.readFileSync(f("ca.crt"), "utf8"), leaves: names.map(leaf) };
}

// ------------------------------------------------------------------------------ the /etc tree

/** Writes a fact's `copy` text to the pod (path under /etc or elsewhere, mapped into `root`). */
function podFile(root: string, podPath: string): string {
  return podPath.startsWith("/etc/")
    ? path.join(root, "etc", podPath.slice(5))
    : path.join(root, "fs", podPath.slice(1));
}

/** The image's Dovecot and Rspamd files recorded as `copy` facts with a text. */
function imageFiles(root: string, env: Record<string, string>): void {
  for (const f of startupFacts()) {
    const v = f.value;
    if (v.op !== "copy" || v.text === undefined || !v.file || v.modules) continue;
    if (!/^(dovecot|rspamd):/.test(f.id) || !applies(v, env)) continue;
    write(podFile(root, v.file), v.text);
  }
}

/** `settings: [{setting, value}]`: each `#?setting =` line set (DMS's sedfile -r edits). */
function applySettings(
  file: string,
  settings: { setting: string; value: string }[],
  env: Record<string, string>,
) {
  let text = fs.readFileSync(file, "utf8");
  for (const s of settings) {
    const re = new RegExp(`^(\\s*)#?(${s.setting}) =.*$`, "m");
    if (!re.test(text)) throw new Error(`${file}: no ${s.setting} line to set`);
    text = text.replace(
      re,
      (_m, indent: string) => `${indent}${s.setting} = ${expand(s.value, env)}`,
    );
  }
  fs.writeFileSync(file, text);
}

type Copy = {
  from?: string;
  text?: string;
  file: string;
  mode?: string;
  valid_lines_only?: boolean;
  then?: string;
};

/** The `copies` of a fact: from a mounted file or a text, into the pod. */
function applyCopies(
  root: string,
  copies: Copy[],
  env: Record<string, string>,
  user: Record<string, string>,
) {
  for (const c of copies) {
    const from = c.from ? expand(c.from, env) : undefined;
    const source =
      from !== undefined ? (user[from] ?? readPod(root, from)) : expand(c.text ?? "", env);
    const text = c.valid_lines_only
      ? validLines(source)
          .map((l) => `${l}\n`)
          .join("")
      : source;
    write(podFile(root, c.file), text, c.mode ? parseInt(c.mode, 8) : undefined);
  }
}

function readPod(root: string, podPath: string): string {
  return fs.readFileSync(podFile(root, podPath), "utf8");
}

/** The accounts fact: userdb, vmailbox, vhost, home directories and sieve scripts. */
function applyAccounts(
  root: string,
  fact: StartupFact,
  env: Record<string, string>,
  user: Record<string, string>,
) {
  const v = fact.value as unknown as {
    from: string;
    lines: { file: string; line: string }[];
    home: string;
    sieve: { from: string; file: string };
    vhost: { file: string; domains_of: string[] };
  };
  const out = new Map<string, string[]>(v.lines.map((l) => [l.file, []]));
  for (const line of validLines(user[v.from] ?? "")) {
    const [LOGIN, PASS] = line.split("|");
    const [USER, DOMAIN] = LOGIN.split("@");
    const vars = { ...env, LOGIN, PASS, USER, DOMAIN };
    for (const l of v.lines) out.get(l.file)?.push(expand(l.line, vars));
    fs.mkdirSync(podFile(root, expand(v.home, vars)), { recursive: true });
    const sieve = user[expand(v.sieve.from, vars)];
    if (sieve !== undefined) write(podFile(root, expand(v.sieve.file, vars)), sieve);
  }
  for (const [file, lines] of out) write(podFile(root, file), lines.map((l) => `${l}\n`).join(""));
  // vhost: the domains of the accounts and of the aliases (not of a bare-domain catch-all key).
  const domains = v.vhost.domains_of.flatMap((f) =>
    validLines(user[f] ?? "")
      .map((l) => l.split(/[|\s]/)[0])
      .filter((a) => (a.includes("@") && !a.startsWith("@")) || a.startsWith("@"))
      .map((a) => a.split("@")[1]),
  );
  write(
    podFile(root, v.vhost.file),
    [...new Set(domains)]
      .sort()
      .map((d) => `${d}\n`)
      .join(""),
  );
}

/** DMS's config directory: each mounted file with the mode its volume gives it. */
function dmsConfigDir(root: string, files: MountedFile[]): Record<string, string> {
  const user: Record<string, string> = {};
  for (const f of files) {
    user[f.mountPath] = f.content;
    if (f.mountPath.startsWith("/etc/")) continue;
    write(podFile(root, f.mountPath), f.content, f.mode);
  }
  return user;
}

/** Postfix: DMS's main.cf/master.cf edits, its tables, and the rehearsal's log file. */
function postfixTree(
  root: string,
  env: Record<string, string>,
  user: Record<string, string>,
): string[] {
  const dir = path.join(root, "etc", "postfix");
  fs.mkdirSync(dir, { recursive: true });
  const warnings = postfixAsDmsLeavesIt(dir, env, user);
  // Rehearsal only: no rsyslog here (the image's writes mail.log, world fact dms:logs), so
  // Postfix's own postlogd writes the same file.
  const log = startupFact("dms:logs").value as unknown as { mail_log: string };
  sh("postconf", ["-c", dir, `maillog_file = ${log.mail_log}`]);
  return warnings;
}

/** Dovecot: the stock dovecot.conf with DMS's append, the image's conf.d, DMS's edits, local.conf. */
function dovecotTree(
  root: string,
  env: Record<string, string>,
  user: Record<string, string>,
): void {
  const conf = podFile(root, "/etc/dovecot/dovecot.conf");
  write(conf, fs.readFileSync("/etc/dovecot/dovecot.conf", "utf8"));
  applyDovecotAppend(conf);
  const lda = podFile(root, "/etc/dovecot/conf.d/15-lda.conf");
  write(lda, fs.readFileSync("/etc/dovecot/conf.d/15-lda.conf", "utf8"));
  const ldaFact = startupFact("dovecot:conf.d/15-lda.conf").value as unknown as {
    settings: { setting: string; value: string }[];
  };
  applySettings(lda, ldaFact.settings, env);
  const imaps = startupFact("dovecot:imaps listener enabled").value as unknown as {
    edits: { file: string; find: string; replace: string }[];
    when: Record<string, string>;
  };
  if (applies({ op: "sed", when: imaps.when }, env)) {
    for (const e of imaps.edits) {
      const file = podFile(root, e.file);
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").split(e.find).join(e.replace));
    }
  }
  const local = startupFact("dovecot:local.conf from dovecot.cf").value;
  if (local.from && user[local.from] !== undefined && local.file) {
    write(podFile(root, local.file), user[local.from]);
  }
  // Rehearsal only: Dovecot writes mail.log itself (no rsyslog), each line prefixed the way
  // rsyslog's traditional format would (`<date> <host> dovecot: `).
  const log = startupFact("dms:logs").value as unknown as { mail_log: string };
  write(
    podFile(root, "/etc/dovecot/conf.d/99-rehearsal-log.conf"),
    `log_path = ${log.mail_log}\nlog_timestamp = "%b %e %H:%M:%S ${env.HOSTNAME} dovecot: "\n`,
  );
}

/** Rspamd: the image's local.d (facts), DMS's disabled modules, the user's override.d. */
function rspamdTree(root: string, user: Record<string, string>): void {
  const tree = path.join(root, "etc", "rspamd");
  fs.mkdirSync(path.join(tree, "local.d"), { recursive: true });
  fs.mkdirSync(path.join(tree, "override.d"), { recursive: true });
  applyRspamdLocalD(tree);
  const copy = startupFact("rspamd:override.d copy").value;
  const dir = path.posix.dirname(copy.from ?? "");
  for (const [p, content] of Object.entries(user)) {
    // Not recursive, no dot entries: only the directory's own files (rspamd.sh:79-82).
    if (path.posix.dirname(p) === dir && !path.posix.basename(p).startsWith(".")) {
      write(path.join(tree, "override.d", path.posix.basename(p)), content);
    }
  }
}

/** The pod's own /etc files: users, hosts, resolver, TLS files where the env says. */
function systemFiles(
  root: string,
  env: Record<string, string>,
  tls: { key: string; cert: string },
) {
  const vmail = startupFact("dms:vmail user").value as unknown as {
    user: string;
    uid: number;
    gid: number;
  };
  write(
    podFile(root, "/etc/passwd"),
    `${fs.readFileSync("/etc/passwd", "utf8")}${vmail.user}:x:${vmail.uid}:${vmail.gid}::/home/${vmail.user}:/bin/bash\n`,
  );
  write(
    podFile(root, "/etc/group"),
    `${fs.readFileSync("/etc/group", "utf8")}${vmail.user}:x:${vmail.gid}:\n`,
  );
  // reject_unknown_client_hostname: the outside client's address and name resolve both ways.
  write(
    podFile(root, "/etc/hosts"),
    `127.0.0.1 localhost\n::1 localhost\n${POD_ADDRESS} ${env.HOSTNAME}\n${OUTSIDE_ADDRESS} ${OUTSIDE_NAME}\n`,
  );
  write(
    podFile(root, "/etc/resolv.conf"),
    `nameserver ${OUTSIDE_ADDRESS}\noptions timeout:1 attempts:1\n`,
  );
  write(podFile(root, env.SSL_KEY_PATH), tls.key, 0o600);
  write(podFile(root, env.SSL_CERT_PATH), tls.cert, 0o644);
}

/** The facts with `copies` (TLS, aliases, relay tables, pcre maps) and the DH parameters. */
function tables(root: string, env: Record<string, string>, user: Record<string, string>): void {
  for (const f of startupFacts()) {
    const v = f.value as unknown as {
      copies?: Copy[];
      file?: string;
      settings?: { setting: string; value: string }[];
    };
    if (!v.copies || !applies(f.value, env)) continue;
    applyCopies(root, v.copies, env, user);
    if (v.settings && v.file) applySettings(podFile(root, v.file), v.settings, env);
  }
  applyAccounts(root, startupFact("dms:accounts to userdb, vmailbox and vhost"), env, user);
  const dh = startupFact("dms:ffdhe4096 parameters").value as unknown as {
    group: string;
    files: string[];
  };
  const pem = sh("openssl", [
    "genpkey",
    "-genparam",
    "-algorithm",
    "DH",
    "-pkeyopt",
    `group:${dh.group}`,
  ]);
  for (const file of dh.files) write(podFile(root, file), pem);
}

// ------------------------------------------------------------------------------- the network

function ip(args: string[]): void {
  sh("ip", args);
}

/** The namespace, the veth pair and the addresses; the host end goes with the namespace. */
function hostLink(tag: string): string {
  return `rh${tag}h`;
}

function network(netns: string, tag: string): void {
  const host = hostLink(tag);
  const pod = `rh${tag}p`;
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

// --------------------------------------------------------------------------------- the init

/** Pod paths that get a private directory of their own (bind-mounted from `root/fs`). */
const PRIVATE = [
  "/var/spool/postfix",
  "/var/mail",
  "/var/lib/postfix",
  "/var/lib/dovecot",
  "/var/lib/rspamd",
  "/var/log",
  "/run",
];

/** The script the pod's init runs: mounts, DMS's last steps, then the daemons in the foreground. */
function initScript(root: string, env: Record<string, string>): string {
  const cmd = startupFact("dms:daemon commands").value as unknown as Record<string, string[]>;
  const logs = startupFact("dms:logs").value as unknown as { rspamd_log: string; mail_log: string };
  const patches = startupFact("dms:user-patches.sh runs last").value.command ?? [];
  const vmail = startupFact("dms:vmail user").value as unknown as {
    uid: number;
    gid: number;
    chown: string;
  };
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const binds = PRIVATE.map((d) => `mount --bind ${q(path.join(root, "fs", d.slice(1)))} ${d}`);
  return [
    "set -euo pipefail",
    "mount --make-rprivate /",
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${root}/etc,workdir=${root}/etc.work /etc`,
    ...binds,
    "mount -t tmpfs -o mode=1777 tmpfs /dev/shm",
    // Last: the work directory may itself live under /tmp.
    `mount --bind ${q(path.join(root, "fs", "tmp"))} /tmp`,
    `hostname ${q(env.HOSTNAME)}`,
    `mkdir -p ${path.posix.dirname(logs.mail_log)} /run/dovecot /var/lib/rspamd`,
    `touch ${logs.mail_log}`,
    "chown _rspamd:_rspamd /var/lib/rspamd",
    "postalias /etc/aliases",
    `chown -R ${vmail.uid}:${vmail.gid} ${vmail.chown}`,
    "chown dovecot:dovecot /etc/dovecot/userdb && chmod 640 /etc/dovecot/userdb",
    // DMS runs user-patches.sh last, output to the container log, exit status ignored.
    `${patches.map(q).join(" ")} >> ${logs.mail_log} 2>&1 || echo "user-patches.sh exit $?" > /run/user-patches.status`,
    `${cmd.rspamd.map(q).join(" ")} >> ${logs.rspamd_log} 2>&1 &`,
    `${cmd.dovecot.map(q).join(" ")} >> ${logs.mail_log} 2>&1 &`,
    // Postfix only once Rspamd's milter answers: milter_default_action = accept would pass mail
    // unscanned and unsigned, which the scenarios must not mistake for the pod's behaviour.
    "for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/11332) 2>/dev/null && break; sleep 0.1; done",
    `${cmd.postfix.map(q).join(" ")} >> ${logs.mail_log} 2>&1 &`,
    "touch /run/rehearse-started",
    // The host's /proc (no --mount-proc): when the rehearsal's process is gone however it ended
    // (even SIGKILL), init exits and the kernel kills every process of the pid namespace.
    `while [ -d /proc/${process.pid} ]; do sleep 1; done`,
  ].join("\n");
}

// ------------------------------------------------------------------------------------ startup

async function waitFor(
  what: string,
  ok: () => Promise<boolean>,
  ms: number,
  child: ChildProcess,
  why: () => string,
) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the pod ended before ${what}: ${why()}`);
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms / 1000} s: ${why()}`);
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: POD_ADDRESS, port, timeout: 500 });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

/** Follows mail.log and writes each new line in the CRI format (`<RFC3339Nano> stdout F <line>`). */
function followCri(source: string, target: string): () => void {
  let offset = 0;
  let partial = "";
  const tick = () => {
    let size = 0;
    try {
      size = fs.statSync(source).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    const fd = fs.openSync(source, "r");
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    offset = size;
    const lines = (partial + buf.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    // The kubelet stamps lines as they arrive; nanoseconds padded from the millisecond clock.
    const stamp = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
    fs.appendFileSync(target, lines.map((l) => `${stamp} stdout F ${l}\n`).join(""));
  };
  const timer = setInterval(tick, 200);
  return () => {
    clearInterval(timer);
    tick();
  };
}

export interface PodOptions {
  /** Extra records for the rehearsal's DNS (e.g. a scenario's stand-ins). */
  records?: DnsRecord[];
  /** Replaces a mounted file's content before the pod starts (negative controls). */
  override?: Record<string, string>;
}

/** Starts the mail pod from the planned objects; the returned pod must be stopped. */
export async function startPod(run: ProgramRun, opts: PodOptions = {}): Promise<MailPod> {
  const started = Date.now();
  const stale = staleNamespaces();
  for (const ns of stale) {
    spawnSync("ip", ["link", "delete", hostLink(ns.split("-").pop() ?? "")], {
      stdio: "ignore",
    });
    spawnSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
  }
  if (stale.length) releaseNetnsDir();
  // Their daemons ended with their process (init's watchdog), so nothing uses these any more.
  for (const dir of staleWorkDirs()) fs.rmSync(dir, { recursive: true, force: true });
  const hadNetnsDir = fs.existsSync("/run/netns");
  const hadNetnsMount = isMountPoint("/run/netns");
  const tag = `${process.pid % 100000}${Math.floor(Math.random() * 100)}`;
  const netns = `${NETNS_PREFIX}${process.pid}-${tag}`;
  const root = fs.mkdtempSync(`${WORK_PREFIX}${process.pid}-`);
  let child: ChildProcess | undefined;
  let dns: Socket | undefined;
  let stopFollow: (() => void) | undefined;
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", stopSync);
    stopFollow?.();
    dns?.close();
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    // Deleting one end of the pair deletes both, also while the namespace is still held.
    spawnSync("ip", ["link", "delete", hostLink(tag)], { stdio: "ignore" });
    spawnSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
    if (!hadNetnsMount) releaseNetnsDir(hadNetnsDir);
    fs.rmSync(root, { recursive: true, force: true });
  };
  // From here on any way out tears down: Ctrl-C and crashes end in process.exit (tools/cli/common.ts).
  process.once("exit", stopSync);
  try {
    const env = dmsEnvironment(containerEnv(run, NAMESPACE, DEPLOYMENT));
    const files = mountedFiles(run, NAMESPACE, DEPLOYMENT).map((f) =>
      opts.override?.[f.mountPath] !== undefined
        ? { ...f, content: opts.override[f.mountPath] }
        : f,
    );
    const tls = throwawayTls(path.join(root, "tls"), [env.HOSTNAME, relayHost(env)]);
    for (const d of ["etc", "etc.work", "cri", "fs/tmp"]) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
    }
    fs.chmodSync(path.join(root, "fs/tmp"), 0o1777);
    // Each private directory owned and moded as the package left the host's.
    for (const d of PRIVATE) {
      const dir = path.join(root, "fs", d.slice(1));
      const st = fs.statSync(d);
      fs.mkdirSync(dir, { recursive: true });
      fs.chownSync(dir, st.uid, st.gid);
      fs.chmodSync(dir, st.mode & 0o7777);
    }
    const user = dmsConfigDir(root, files);
    systemFiles(root, env, tls.leaves[0]);
    // Image files first, then DMS's edits on them (startup order: world facts' steps).
    imageFiles(root, env);
    const postconfWarnings = postfixTree(root, env, user);
    dovecotTree(root, env, user);
    rspamdTree(root, user);
    tables(root, env, user);
    write(path.join(root, "postconf-warnings.txt"), postconfWarnings.join("\n"));
    const records = podRecords(run, env, opts.records ?? []);
    network(netns, tag);
    dns = await serveDns(OUTSIDE_ADDRESS, records);
    const script = path.join(root, "init.sh");
    write(script, initScript(root, env));
    const initLog = path.join(root, "init.log");
    const out = fs.openSync(initLog, "a");
    child = track(
      spawn(
        "ip",
        [
          "netns",
          "exec",
          netns,
          "unshare",
          "--mount",
          "--pid",
          "--fork",
          "--kill-child",
          "--uts",
          "/bin/bash",
          script,
        ],
        {
          stdio: ["ignore", out, out],
        },
      ),
    );
    fs.closeSync(out);
    const why = () => fs.readFileSync(initLog, "utf8").trim().split("\n").slice(-5).join(" | ");
    const pod = hostPaths(root);
    await waitFor(
      "the daemons started",
      () => Promise.resolve(fs.existsSync(pod("/run/rehearse-started"))),
      60_000,
      child,
      why,
    );
    for (const port of [25, 587, 993]) {
      await waitFor(
        `port ${port} listens`,
        () => listening(port),
        30_000,
        child,
        () => `${why()} | ${tail(pod("/var/log/mail/mail.log"))}`,
      );
    }
    const criLog = path.join(root, "cri", "mailserver.log");
    stopFollow = followCri(pod("/var/log/mail/mail.log"), criLog);
    const running = child;
    return {
      netns,
      root,
      hostname: env.HOSTNAME,
      env,
      files,
      caPem: tls.ca,
      relayTls: tls.leaves[1],
      records,
      startMs: Date.now() - started,
      hostPath: pod,
      read: (p) => (fs.existsSync(pod(p)) ? fs.readFileSync(pod(p), "utf8") : ""),
      criLog,
      stopSync,
      stop: async () => {
        stopFollow?.();
        stopFollow = undefined;
        if (running.exitCode === null && running.signalCode === null) {
          const exited = new Promise((r) => running.once("exit", r));
          running.kill("SIGKILL");
          await exited;
        }
        stopSync();
      },
    };
  } catch (err) {
    if (process.env.REHEARSE_KEEP_FAILED) console.error(`kept ${root}`);
    else stopSync();
    throw err;
  }
}

function tail(file: string): string {
  return fs.existsSync(file)
    ? fs.readFileSync(file, "utf8").trim().split("\n").slice(-3).join(" | ")
    : "";
}

/** Maps a pod path to the host file behind it. */
function hostPaths(root: string) {
  return (podPath: string): string => {
    if (podPath.startsWith("/etc/")) return path.join(root, "etc", podPath.slice(5));
    return path.join(root, "fs", podPath.slice(1));
  };
}

/**
 * The rehearsal's DNS: the planned zone, with the server's own name pointing at the pod (the
 * planned A/AAAA name the public address), the relay's name at the Brevo stand-in and the
 * outside sender's domain at the outside client.
 */
function podRecords(run: ProgramRun, env: Record<string, string>, extra: DnsRecord[]): DnsRecord[] {
  const hostname = env.HOSTNAME;
  const zone = plannedRecords(run).filter(
    (r) => !(r.name === hostname && (r.type === "A" || r.type === "AAAA")),
  );
  return [
    ...zone,
    { name: hostname, type: "A", content: POD_ADDRESS },
    { name: relayHost(env), type: "A", content: RELAY_ADDRESS },
    { name: OUTSIDE_DOMAIN, type: "A", content: OUTSIDE_ADDRESS },
    { name: OUTSIDE_NAME, type: "A", content: OUTSIDE_ADDRESS },
    ...extra,
  ];
}

/** The relay's host name and port from DEFAULT_RELAY_HOST (`[host]:port`). */
export function relayHostPort(env: Record<string, string>): { host: string; port: number } {
  const m = /^\[?([^\]:]+)\]?(?::(\d+))?$/.exec(env.DEFAULT_RELAY_HOST ?? "");
  if (!m) throw new Error(`DEFAULT_RELAY_HOST "${env.DEFAULT_RELAY_HOST}" is not [host]:port`);
  return { host: m[1], port: Number(m[2] ?? 25) };
}

function relayHost(env: Record<string, string>): string {
  return relayHostPort(env).host;
}
