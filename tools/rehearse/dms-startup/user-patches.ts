/**
 * DMS 15.0.0's last startup step, a rendered user-patches.sh, run for a test against stand-ins
 * of the pod's config directories, never this machine's.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { applyDovecotAppend, dovecotConfPath } from "./dovecot";
import { need } from "./facts";
import { POSTFIX_MAIN_BASE, POSTFIX_MASTER_BASE } from "./postfix";

export const USER_PATCHES = "dms:user-patches.sh runs last";

/** The pod's config directories a user-patches.sh may edit, and how a stand-in is made. */
const POD_CONFIG_ROOTS: Record<string, (dir: string) => void> = {
  // The image's main.cf and master.cf (world facts): enough for `postconf -c` to edit master.cf.
  "/etc/postfix": (dir) => {
    for (const id of [POSTFIX_MAIN_BASE, POSTFIX_MASTER_BASE]) {
      const edit = need(id, "file", "text");
      fs.writeFileSync(path.join(dir, path.basename(edit.file)), edit.text);
    }
  },
  // This machine's stock dovecot.conf with DMS's line appended.
  "/etc/dovecot": (dir) => {
    const conf = path.join(dir, path.basename(dovecotConfPath()));
    fs.copyFileSync(dovecotConfPath(), conf);
    applyDovecotAppend(conf);
  },
};

/**
 * Runs a rendered user-patches.sh the way DMS does (the world's command: `/bin/bash FILE`, exit
 * status recorded, not acted on by DMS) with the pod's paths replaced by a test's: e.g.
 * `{"/etc/dovecot/dovecot.conf": "<tmp>/dovecot.conf"}`. Each path must occur in the script, so a
 * substitution that no longer matches fails instead of patching nothing. A pod config directory
 * the substitutions leave (/etc/postfix, /etc/dovecot) is pointed at a stand-in under `dir`, and
 * any other /etc path is refused: the script never edits this machine's configuration.
 */
export function runUserPatches(
  script: string,
  dir: string,
  substitutions: Record<string, string>,
): { status: number | null; out: string } {
  const edit = need(USER_PATCHES, "command");
  if (edit.op !== "run") throw new Error(`${USER_PATCHES}: op ${edit.op}, not run`);
  let text = script;
  for (const [from, to] of Object.entries(substitutions)) {
    if (!text.includes(from)) throw new Error(`user-patches.sh never mentions ${from}`);
    text = text.split(from).join(to);
  }
  for (const [root, fill] of Object.entries(POD_CONFIG_ROOTS)) {
    const pattern = new RegExp(`${root}(?![\\w.-])`, "g");
    if (!pattern.test(text)) continue;
    const standIn = fs.mkdtempSync(path.join(dir, `pod${root.replace(/\//g, "-")}-`));
    fill(standIn);
    text = text.replace(pattern, standIn);
  }
  const left = /(^|[\s"'=])\/etc\/\S*/m.exec(text);
  if (left) throw new Error(`user-patches.sh names ${left[0].trim()}, which no test stands in for`);
  const file = path.join(dir, path.basename(edit.command[edit.command.length - 1]));
  fs.writeFileSync(file, text);
  const r = spawnSync(edit.command[0], [...edit.command.slice(1, -1), file], {
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
