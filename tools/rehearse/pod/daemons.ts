/**
 * The pod's daemons: an init script run in the pod's network namespace under its own mount, pid
 * and UTS namespaces (../namespaced.ts). It mounts the pod's /etc overlay and private directories,
 * takes DMS's last steps, starts Rspamd, Dovecot and, once Rspamd's milter answers, Postfix, then
 * watches this process: when the rehearsal ends however it ends (even SIGKILL), the init exits and
 * the kernel kills every process of the pid namespace; its mounts go with the namespace.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startupFact, USER_PATCHES } from "../dms-startup";
import { spawnNamespaced } from "../namespaced";
import { portOpen, waitUntil } from "../ready";
import { POD_ADDRESS } from "./addresses";
import { hostPath, PRIVATE, write } from "./work-dir";

/** Touched by the init once every daemon is started. */
const STARTED = "/run/rehearse-started";
/** The ports the pod serves: SMTP, submission, IMAPS. */
const PORTS = [25, 587, 993];

/** Where the daemons log (world fact dms:logs). */
function logs() {
  return startupFact("dms:logs").value as unknown as { rspamd_log: string; mail_log: string };
}

/** True once Rspamd's milter port accepts a connection. */
const MILTER_UP = "(exec 3<>/dev/tcp/127.0.0.1/11332) 2>/dev/null";

const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** The mounts that make the pod's file system; the pod's /tmp last (`root` may be under /tmp). */
function mounts(root: string): string[] {
  return [
    "mount --make-rprivate /",
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${root}/etc,workdir=${root}/etc.work /etc`,
    ...PRIVATE.map((d) => `mount --bind ${q(path.join(root, "fs", d.slice(1)))} ${d}`),
    "mount -t tmpfs -o mode=1777 tmpfs /dev/shm",
    `mount --bind ${q(path.join(root, "fs", "tmp"))} /tmp`,
  ];
}

/** The init script: mounts, DMS's last steps, the daemons in the background, the watchdog. */
function initScript(root: string, env: Record<string, string>): string {
  const cmd = startupFact("dms:daemon commands").value as unknown as Record<string, string[]>;
  const { mail_log, rspamd_log } = logs();
  const patches = startupFact(USER_PATCHES).value.command ?? [];
  const vmail = startupFact("dms:vmail user").value as unknown as {
    uid: number;
    gid: number;
    chown: string;
  };
  return [
    "set -euo pipefail",
    ...mounts(root),
    `hostname ${q(env.HOSTNAME)}`,
    `mkdir -p ${path.posix.dirname(mail_log)} /run/dovecot /var/lib/rspamd`,
    `touch ${mail_log}`,
    "chown _rspamd:_rspamd /var/lib/rspamd",
    "postalias /etc/aliases",
    `chown -R ${vmail.uid}:${vmail.gid} ${vmail.chown}`,
    "chown dovecot:dovecot /etc/dovecot/userdb && chmod 640 /etc/dovecot/userdb",
    // DMS runs user-patches.sh last, output to the container log, exit status ignored.
    `${patches.map(q).join(" ")} >> ${mail_log} 2>&1 || echo "user-patches.sh exit $?" > /run/user-patches.status`,
    `${cmd.rspamd.map(q).join(" ")} >> ${rspamd_log} 2>&1 &`,
    `${cmd.dovecot.map(q).join(" ")} >> ${mail_log} 2>&1 &`,
    // Postfix only once Rspamd's milter answers: milter_default_action = accept would pass mail
    // unscanned and unsigned, which the scenarios must not mistake for the pod's behaviour.
    // Rspamd loads its maps for ~20 s here, several times that on a loaded machine: the init
    // ends (and the pod start fails, naming Rspamd) rather than start Postfix without it.
    `${MILTER_UP} || for i in $(seq 1200); do sleep 0.1; ${MILTER_UP} && break; done`,
    `${MILTER_UP} || { echo "Rspamd's milter (127.0.0.1:11332) not answering after 120 s" >&2; exit 1; }`,
    `${cmd.postfix.map(q).join(" ")} >> ${mail_log} 2>&1 &`,
    `touch ${STARTED}`,
    // The host's /proc (no --mount-proc), so the init sees whether the rehearsal still runs.
    `while [ -d /proc/${process.pid} ]; do sleep 1; done`,
  ].join("\n");
}

/** Last lines of a file joined on one line ("" when missing). */
function tail(file: string, n: number): string {
  return fs.existsSync(file)
    ? fs.readFileSync(file, "utf8").trim().split("\n").slice(-n).join(" | ")
    : "";
}

const initLog = (root: string) => path.join(root, "init.log");

/** Starts the init in `netns`, its output in `root`/init.log; the caller kills it when done. */
export function spawnInit(netns: string, root: string, env: Record<string, string>): ChildProcess {
  const script = path.join(root, "init.sh");
  write(script, initScript(root, env));
  const out = fs.openSync(initLog(root), "a");
  try {
    return spawnNamespaced(
      ["/bin/bash", script],
      { pid: true, uts: true, netns },
      { stdio: ["ignore", out, out] },
    );
  } finally {
    fs.closeSync(out);
  }
}

/** Waits until the init has started every daemon and the pod's ports listen. */
export async function waitForDaemons(init: ChildProcess, root: string): Promise<void> {
  const why = () => tail(initLog(root), 5);
  const started = () => Promise.resolve(fs.existsSync(hostPath(root, STARTED)));
  await waitUntil("the daemons started", started, {
    proc: init,
    name: "the pod",
    ms: 150_000,
    why,
  });
  const mailLog = hostPath(root, logs().mail_log);
  for (const port of PORTS) {
    await waitUntil(`port ${port} listens`, () => portOpen(POD_ADDRESS, port), {
      proc: init,
      name: "the pod",
      ms: 30_000,
      why: () => `${why()} | ${tail(mailLog, 3)}`,
    });
  }
}
