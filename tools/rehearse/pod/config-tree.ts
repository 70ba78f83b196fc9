/**
 * The pod's config as DMS 15.0.0's startup leaves it, written into the work directory from the
 * world's facts (world/dms-15.0.0/startup.yaml, ../dms-startup.ts) and the planned files: DMS's
 * config directory as mounted, the pod's system files, the image's files, then DMS's edits on
 * them in startup order (Postfix, Dovecot, Rspamd, the tables, the accounts, DH parameters).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  applies,
  applyDovecotAppend,
  applyRspamdLocalD,
  expand,
  postfixAsDmsLeavesIt,
  startupFact,
  startupFacts,
  validLines,
} from "../dms-startup";
import type { MountedFile } from "../mounts";
import { applyAccounts } from "./accounts";
import { sh } from "./sh";
import { systemFiles } from "./system-files";
import type { KeyPair } from "./tls";
import { hostPath, write } from "./work-dir";

type Env = Record<string, string>;
/** The user's files by the path they are mounted at (DMS's config directory and the rest). */
type UserFiles = Record<string, string>;
type Setting = { setting: string; value: string };
type Copy = {
  from?: string;
  text?: string;
  file: string;
  mode?: string;
  valid_lines_only?: boolean;
};

/**
 * Lays the config out under `root` (TLS: the pod's key pair) and records what postconf printed
 * in `postconf-warnings.txt`, as DMS passes it to the container log.
 */
export function configTree(root: string, env: Env, files: MountedFile[], tls: KeyPair): void {
  const user = dmsConfigDir(root, files);
  systemFiles(root, env, tls);
  // Image files first, then DMS's edits on them (startup order: world facts' steps).
  imageFiles(root, env);
  const warnings = postfixTree(root, env, user);
  dovecotTree(root, env, user);
  rspamdTree(root, user);
  tables(root, env, user);
  write(path.join(root, "postconf-warnings.txt"), warnings.join("\n"));
}

/** DMS's config directory: each mounted file with the mode its volume gives it. */
function dmsConfigDir(root: string, files: MountedFile[]): UserFiles {
  const user: UserFiles = {};
  for (const f of files) {
    user[f.mountPath] = f.content;
    if (f.mountPath.startsWith("/etc/")) continue;
    write(hostPath(root, f.mountPath), f.content, f.mode);
  }
  return user;
}

/** The image's Dovecot and Rspamd files recorded as `copy` facts with a text. */
function imageFiles(root: string, env: Env): void {
  for (const f of startupFacts()) {
    const v = f.value;
    if (v.op !== "copy" || v.text === undefined || !v.file || v.modules) continue;
    if (!/^(dovecot|rspamd):/.test(f.id) || !applies(v, env)) continue;
    write(hostPath(root, v.file), v.text);
  }
}

/** `settings`: each `#?setting =` line set (DMS's sedfile -r edits). */
function applySettings(file: string, settings: Setting[], env: Env): void {
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

/** The mail log both Postfix and Dovecot write (no rsyslog in the rehearsal; fact dms:logs). */
function mailLog(): string {
  return (startupFact("dms:logs").value as unknown as { mail_log: string }).mail_log;
}

/** Postfix: DMS's main.cf/master.cf edits, and the rehearsal's log file; postconf's warnings. */
function postfixTree(root: string, env: Env, user: UserFiles): string[] {
  const dir = path.join(root, "etc", "postfix");
  fs.mkdirSync(dir, { recursive: true });
  const warnings = postfixAsDmsLeavesIt(dir, env, user);
  // The image's rsyslog writes mail.log; here Postfix's own postlogd writes the same file.
  sh("postconf", ["-c", dir, `maillog_file = ${mailLog()}`]);
  return warnings;
}

/** Dovecot: the stock dovecot.conf with DMS's append, the image's conf.d, DMS's edits, local.conf. */
function dovecotTree(root: string, env: Env, user: UserFiles): void {
  const at = (podPath: string) => hostPath(root, podPath);
  const conf = at("/etc/dovecot/dovecot.conf");
  write(conf, fs.readFileSync("/etc/dovecot/dovecot.conf", "utf8"));
  applyDovecotAppend(conf);
  const lda = at("/etc/dovecot/conf.d/15-lda.conf");
  write(lda, fs.readFileSync("/etc/dovecot/conf.d/15-lda.conf", "utf8"));
  const ldaFact = startupFact("dovecot:conf.d/15-lda.conf").value as unknown as {
    settings: Setting[];
  };
  applySettings(lda, ldaFact.settings, env);
  const imaps = startupFact("dovecot:imaps listener enabled").value as unknown as {
    edits: { file: string; find: string; replace: string }[];
    when: Record<string, string>;
  };
  if (applies({ op: "sed", when: imaps.when }, env)) {
    for (const e of imaps.edits) {
      const file = at(e.file);
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").split(e.find).join(e.replace));
    }
  }
  const local = startupFact("dovecot:local.conf from dovecot.cf").value;
  if (local.from && user[local.from] !== undefined && local.file) {
    write(at(local.file), user[local.from]);
  }
  // Dovecot writes mail.log itself, each line prefixed as rsyslog's traditional format would.
  write(
    at("/etc/dovecot/conf.d/99-rehearsal-log.conf"),
    `log_path = ${mailLog()}\nlog_timestamp = "%b %e %H:%M:%S ${env.HOSTNAME} dovecot: "\n`,
  );
}

/** Rspamd: the image's local.d (facts), DMS's disabled modules, the user's override.d. */
function rspamdTree(root: string, user: UserFiles): void {
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

/** The `copies` of a fact: from a mounted file or a text, into the pod. */
function applyCopies(root: string, copies: Copy[], env: Env, user: UserFiles): void {
  for (const c of copies) {
    const from = c.from ? expand(c.from, env) : undefined;
    const source =
      from !== undefined
        ? (user[from] ?? fs.readFileSync(hostPath(root, from), "utf8"))
        : expand(c.text ?? "", env);
    const text = c.valid_lines_only
      ? validLines(source)
          .map((l) => `${l}\n`)
          .join("")
      : source;
    write(hostPath(root, c.file), text, c.mode ? parseInt(c.mode, 8) : undefined);
  }
}

/** The facts with `copies` (TLS, aliases, relay tables, pcre maps), the accounts, DH parameters. */
function tables(root: string, env: Env, user: UserFiles): void {
  for (const f of startupFacts()) {
    const v = f.value as unknown as { copies?: Copy[]; file?: string; settings?: Setting[] };
    if (!v.copies || !applies(f.value, env)) continue;
    applyCopies(root, v.copies, env, user);
    if (v.settings && v.file) applySettings(hostPath(root, v.file), v.settings, env);
  }
  applyAccounts(root, env, user);
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
  for (const file of dh.files) write(hostPath(root, file), pem);
}
