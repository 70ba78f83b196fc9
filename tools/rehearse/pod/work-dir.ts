/**
 * The pod's files on the host: one work directory per pod, where `etc/` is the upper layer of the
 * pod's /etc overlay (the pod's files over the host's, as the image's sit over Debian's) and
 * `fs/` holds the private directories bind-mounted over the host's (spool, mail, state, logs,
 * /run, /tmp). A pod path maps to its host file by that rule alone.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Not under /tmp, which the pod bind-mounts over. */
const WORK_PREFIX = "/var/tmp/rehearse-pod-";

/** Pod paths that get a private directory of their own (bind-mounted from `fs/`). */
export const PRIVATE = [
  "/var/spool/postfix",
  "/var/mail",
  "/var/lib/postfix",
  "/var/lib/dovecot",
  "/var/lib/rspamd",
  "/var/log",
  "/run",
];

/** The host file behind a pod path (e.g. "/var/log/mail/mail.log"). */
export function hostPath(root: string, podPath: string): string {
  return podPath.startsWith("/etc/")
    ? path.join(root, "etc", podPath.slice(5))
    : path.join(root, "fs", podPath.slice(1));
}

/** Writes a host file, its directories first, with `mode` when given. */
export function write(file: string, text: string, mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  if (mode !== undefined) fs.chmodSync(file, mode);
}

/** A new, empty work directory, named after this process (see removeStaleWorkDirs). */
export function newWorkDir(): string {
  return fs.mkdtempSync(`${WORK_PREFIX}${process.pid}-`);
}

/** The overlay's directories, the CRI log's, and each private directory as the host's is. */
export function layOutWorkDir(root: string): void {
  for (const d of ["etc", "etc.work", "cri", "fs/tmp"]) {
    fs.mkdirSync(path.join(root, d), { recursive: true });
  }
  fs.chmodSync(path.join(root, "fs/tmp"), 0o1777);
  // Owned and moded as the package left the host's, so the daemons find what they expect.
  for (const d of PRIVATE) {
    const dir = path.join(root, "fs", d.slice(1));
    const st = fs.statSync(d);
    fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(dir, st.uid, st.gid);
    fs.chmodSync(dir, st.mode & 0o7777);
  }
}

/**
 * Removes the work directories of earlier rehearsals whose process is gone: their daemons ended
 * with it (the init's watchdog, ./daemons.ts), so nothing uses them any more.
 */
export function removeStaleWorkDirs(): void {
  const dir = path.dirname(WORK_PREFIX);
  const stale = fs
    .readdirSync(dir)
    .map((n) => path.join(dir, n))
    .filter((p) => p.startsWith(WORK_PREFIX))
    .filter((p) => {
      const pid = Number(p.slice(WORK_PREFIX.length).split("-")[0]);
      return !pid || !fs.existsSync(`/proc/${pid}`);
    });
  for (const p of stale) fs.rmSync(p, { recursive: true, force: true });
}
