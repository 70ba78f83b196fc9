/**
 * DMS 15.0.0's Postfix edits in startup order, each made by the real `postconf` on a config
 * directory (`postconf -c`), so main.cf and master.cf read as DMS leaves them.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { applies, expand, startupFacts, validLines, type StartupEdit } from "./facts";

export const POSTFIX_MAIN_BASE = "postfix:main.cf base";
export const POSTFIX_MASTER_BASE = "postfix:master.cf base";
const EDITED = ["/etc/postfix/main.cf", "/etc/postfix/master.cf"];

/**
 * Dates main.cf and master.cf in `dir` ten seconds back. Postfix rereads a config file modified
 * within the last second every 300 ms until it is that old (util/dict.c, dict_load_file_xt:
 * "pausing to let ... cool down"), so each read right after an edit cost up to 2 s; the content is
 * untouched.
 */
export function coolPostfixConfig(dir: string): void {
  const past = new Date(Date.now() - 10_000);
  for (const f of ["main.cf", "master.cf"]) {
    const file = path.join(dir, f);
    if (fs.existsSync(file)) fs.utimesSync(file, past, past);
  }
}

function postconf(dir: string, args: string[]) {
  coolPostfixConfig(dir);
  const r = spawnSync("postconf", ["-c", dir, ...args], { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}${r.stderr}` };
}

/** One edit on the config directory `dir`, with what postconf printed collected in `out`. */
interface EditRun {
  id: string;
  dir: string;
  env: Record<string, string>;
  userFiles: Record<string, string>;
  out: string[];
}

/** `postconf ARGS`, failing on a non-zero exit; its output joins the edit's. */
function run(e: EditRun, args: string[]): void {
  const r = postconf(e.dir, args);
  if (r.status !== 0) throw new Error(`${e.id}: postconf ${args.join(" ")}: ${r.out}`);
  if (r.out.trim()) e.out.push(...r.out.trim().split("\n"));
}

function local(e: EditRun, file: string): string {
  return path.join(e.dir, path.basename(file));
}

/** `postconf -P` for each matching valid line of the user's file (postfix-master.cf). */
function masterLines(e: EditRun, edit: StartupEdit): void {
  const user = edit.from ? e.userFiles[edit.from] : undefined;
  if (user === undefined) return;
  const re = new RegExp(edit.each_line_matching ?? "");
  for (const line of validLines(user).filter((l) => re.test(l))) run(e, ["-P", line]);
}

/** `postconf param = value`; an `append` param adds to the current value unless already in it. */
function params(e: EditRun, edit: StartupEdit): void {
  for (const p of edit.params ?? []) {
    let value = expand(p.value, e.env);
    if (p.mode === "append") {
      const current = postconf(e.dir, ["-h", p.param]).stdout.trim();
      if (current && ` ${current} `.includes(` ${value} `)) continue;
      if (current) value = `${current} ${value}`;
    }
    run(e, [`${p.param} = ${value}`]);
  }
}

/** The user's postfix-main.cf appended, then, as DMS does, rewritten by `postconf -n`. */
function appendUserFile(e: EditRun, edit: StartupEdit & { from: string; file: string }): void {
  const user = e.userFiles[edit.from];
  if (user === undefined) return;
  fs.appendFileSync(local(e, edit.file), user);
  if (edit.then !== "postconf -n") return;
  const r = postconf(e.dir, ["-n"]);
  // DMS filters only these warnings out of the rewrite's stderr (postfix.sh:134).
  e.out.push(
    ...r.stderr
      .split("\n")
      .filter((l) => l.trim() && !/overriding earlier entry/.test(l))
      .map((l) => l.trim()),
  );
  if (r.status !== 0) throw new Error(`${e.id}: postconf -n exit ${r.status}: ${r.stderr}`);
  // `-c` makes postconf print config_directory too; in the pod it is the default and absent.
  const rewritten = r.stdout
    .split("\n")
    .filter((l) => l !== `config_directory = ${e.dir}`)
    .join("\n");
  fs.writeFileSync(local(e, edit.file), rewritten);
}

/** Applies one main.cf/master.cf edit by its op. */
function applyPostfixEdit(e: EditRun, edit: StartupEdit): void {
  if (edit.op === "copy" && edit.text !== undefined && edit.file) {
    fs.writeFileSync(local(e, edit.file), edit.text);
  } else if (edit.op === "postconf" && edit.flag === "-P") {
    masterLines(e, edit);
  } else if (edit.op === "postconf" && edit.params) {
    params(e, edit);
  } else if (edit.op === "sed" && edit.file && edit.find && edit.replace !== undefined) {
    const file = local(e, edit.file);
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.replace(new RegExp(edit.find, "gm"), expand(edit.replace, e.env)));
  } else if (edit.op === "append" && edit.from && edit.file) {
    appendUserFile(e, { ...edit, from: edit.from, file: edit.file });
  } else {
    throw new Error(`${e.id}: no way to apply op ${edit.op} to Postfix`);
  }
}

/**
 * Builds `dir` (a Postfix config directory for `postconf -c`) the way DMS 15.0.0 leaves
 * /etc/postfix: the image's main.cf and master.cf, DMS's edits in startup order (the user's
 * postfix-master.cf and postfix-main.cf at their step, then what DMS sets after them). `userFiles`
 * maps the user's paths (e.g. /tmp/docker-mailserver/postfix-main.cf) to their content. Returns
 * every line postconf printed (warnings), as DMS would pass them to the container log.
 */
export function postfixAsDmsLeavesIt(
  dir: string,
  env: Record<string, string>,
  userFiles: Record<string, string>,
): string[] {
  const edits = startupFacts()
    .filter((f) => f.id.startsWith("postfix:"))
    .filter((f) => EDITED.includes(f.value.file ?? ""))
    .filter((f) => applies(f.value, env));
  // Image files first (no step), then the setup functions in their order; stable for equal steps.
  const ordered = edits
    .map((f, i) => ({ f, i }))
    .sort((a, b) => (a.f.value.step ?? -1) - (b.f.value.step ?? -1) || a.i - b.i)
    .map(({ f }) => f);
  const out: string[] = [];
  for (const f of ordered) applyPostfixEdit({ id: f.id, dir, env, userFiles, out }, f.value);
  return out;
}
