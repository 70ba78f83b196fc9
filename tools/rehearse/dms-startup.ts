/**
 * docker-mailserver 15.0.0's startup edits, applied from world/dms-15.0.0/startup.yaml (the data,
 * with its sources) so a real-daemon test sees the daemon's config as the pod does: the image's
 * files, DMS's edits before and after the user's files, then user-patches.sh. Nothing here knows
 * an edit by itself: every path, text and parameter comes from the world file; Postfix edits are
 * made by the real `postconf`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ROOT } from "../offline/mock-program";

export const DMS_STARTUP_FILE = path.join(ROOT, "world", "dms-15.0.0", "startup.yaml");

export interface PostconfParam {
  param: string;
  value: string;
  /** `append`: added to the parameter's current value (DMS's _add_to_or_update_postfix_main). */
  mode?: "append";
}

/** The machine-usable part of a startup fact (see the comment at the top of the world file). */
export interface StartupEdit {
  op: "copy" | "append" | "postconf" | "sed" | "run";
  step?: number;
  file?: string;
  text?: string;
  from?: string;
  params?: PostconfParam[];
  flag?: string;
  each_line_matching?: string;
  find?: string;
  replace?: string;
  then?: string;
  when?: Record<string, string>;
  unless_line_matches?: string;
  modules?: string[];
  command?: string[];
  wins?: string;
}

export interface StartupFact {
  id: string;
  source: { release: string; path: string; lines: string }[];
  note?: string;
  value: StartupEdit & Record<string, unknown>;
}

let cached: StartupFact[] | undefined;

/** Every fact of world/dms-15.0.0/startup.yaml, checked for the shape this helper relies on. */
export function startupFacts(): StartupFact[] {
  if (cached) return cached;
  const doc = parse(fs.readFileSync(DMS_STARTUP_FILE, "utf8")) as {
    system?: string;
    facts?: StartupFact[];
  };
  if (doc.system !== "docker-mailserver" || !Array.isArray(doc.facts)) {
    throw new Error(`${DMS_STARTUP_FILE}: expected system docker-mailserver and facts`);
  }
  for (const f of doc.facts) {
    if (!f.source?.length) throw new Error(`${DMS_STARTUP_FILE}: fact ${f.id} has no source`);
  }
  cached = doc.facts;
  return cached;
}

/** One fact by id; throws when the world file has none. */
export function startupFact(id: string): StartupFact {
  const f = startupFacts().find((x) => x.id === id);
  if (!f) throw new Error(`${DMS_STARTUP_FILE} has no fact "${id}"`);
  return f;
}

/** A fact's value with the fields `keys` required present (a typo in the world file fails loudly). */
function need<K extends keyof StartupEdit>(
  id: string,
  ...keys: K[]
): StartupEdit & Required<Pick<StartupEdit, K>> {
  const v = startupFact(id).value;
  for (const k of keys) {
    if (v[k] === undefined) throw new Error(`${DMS_STARTUP_FILE}: fact ${id} has no value.${k}`);
  }
  return v as StartupEdit & Required<Pick<StartupEdit, K>>;
}

// ------------------------------------------------------------------------------------ environment

/**
 * The environment startup's edits read: the container's (e.g. the planned env ConfigMap), DMS's
 * defaults for what it leaves unset, and HOSTNAME/DOMAINNAME as DMS computes them (world facts).
 */
export function dmsEnvironment(container: Record<string, string>): Record<string, string> {
  const defaults = startupFact("dms:defaults").value as unknown as Record<string, string>;
  const env: Record<string, string> = { ...defaults, ...container };
  const vars = startupFact("dms:variables").value as unknown as {
    HOSTNAME: { from: string };
    DOMAINNAME: { from: string; drop_first_label_when_labels_over: number };
  };
  const hostname = env[vars.HOSTNAME.from];
  if (hostname) {
    env.HOSTNAME = hostname;
    const labels = hostname.split(".");
    if (labels.length > vars.DOMAINNAME.drop_first_label_when_labels_over) {
      env.DOMAINNAME = labels.slice(1).join(".");
    }
  }
  return env;
}

/** `${NAME}` replaced from `env`; an unknown name throws (never an empty value by accident). */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`startup edit reads \${${name}}, which is not set`);
    return v;
  });
}

/** Whether an edit's `when` conditions hold in `env`. */
export function applies(edit: StartupEdit, env: Record<string, string>): boolean {
  return Object.entries(edit.when ?? {}).every(([k, v]) => env[k] === v);
}

// ---------------------------------------------------------------------------------------- Dovecot

export const DOVECOT_STATS_CONF = "dovecot:conf.d/60-stats.conf";
export const DOVECOT_STATS_APPEND = "dovecot:stats_writer_socket_path appended";
export const DOVECOT_LOCAL_CONF = "dovecot:local.conf from dovecot.cf";
export const USER_PATCHES = "dms:user-patches.sh runs last";

/** The image's conf.d/60-stats.conf text. */
export function dovecotStatsConf(): string {
  return need(DOVECOT_STATS_CONF, "text").text;
}

/** Where DMS puts dovecot.cf (local.conf under /etc/dovecot). */
export function dovecotLocalConfPath(): string {
  return need(DOVECOT_LOCAL_CONF, "file", "from").file;
}

/** The file DMS appends its stats line to (the image's dovecot.conf). */
export function dovecotConfPath(): string {
  return need(DOVECOT_STATS_APPEND, "file").file;
}

/**
 * DMS's append to dovecot.conf, applied to `conf` (a test's stand-in for it): the text at the end,
 * unless a line already matches (dovecot.sh's grep guard).
 */
export function applyDovecotAppend(conf: string): void {
  const edit = need(DOVECOT_STATS_APPEND, "text", "unless_line_matches");
  if (edit.op !== "append") throw new Error(`${DOVECOT_STATS_APPEND}: op ${edit.op}, not append`);
  const guard = new RegExp(edit.unless_line_matches, "m");
  if (!guard.test(fs.readFileSync(conf, "utf8"))) fs.appendFileSync(conf, edit.text);
}

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

// ---------------------------------------------------------------------------------------- Postfix

const MAIN_CF = "/etc/postfix/main.cf";
const POSTFIX_MAIN_BASE = "postfix:main.cf base";
const POSTFIX_MASTER_BASE = "postfix:master.cf base";

function postconf(dir: string, args: string[]) {
  const r = spawnSync("postconf", ["-c", dir, ...args], { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

/** Lines DMS passes on from a user file: no blank or comment lines (_get_valid_lines_from_file). */
function validLines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "" && !/^\s*#/.test(l));
}

/** Applies one main.cf/master.cf edit to the config directory `dir`; returns postconf's output. */
function applyPostfixEdit(
  id: string,
  edit: StartupEdit,
  dir: string,
  env: Record<string, string>,
  userFiles: Record<string, string>,
): string[] {
  const local = (file: string) => path.join(dir, path.basename(file));
  const out: string[] = [];
  const run = (args: string[]) => {
    const r = postconf(dir, args);
    if (r.status !== 0) throw new Error(`${id}: postconf ${args.join(" ")}: ${r.out}`);
    if (r.out.trim()) out.push(...r.out.trim().split("\n"));
  };
  if (edit.op === "copy" && edit.text !== undefined && edit.file) {
    fs.writeFileSync(local(edit.file), edit.text);
  } else if (edit.op === "postconf" && edit.flag === "-P") {
    const user = edit.from ? userFiles[edit.from] : undefined;
    if (user === undefined) return out;
    const re = new RegExp(edit.each_line_matching ?? "");
    for (const line of validLines(user).filter((l) => re.test(l))) run(["-P", line]);
  } else if (edit.op === "postconf" && edit.params) {
    for (const p of edit.params) {
      let value = expand(p.value, env);
      if (p.mode === "append") {
        const current = postconf(dir, ["-h", p.param]).stdout.trim();
        if (current && ` ${current} `.includes(` ${value} `)) continue;
        if (current) value = `${current} ${value}`;
      }
      run([`${p.param} = ${value}`]);
    }
  } else if (edit.op === "sed" && edit.file && edit.find && edit.replace !== undefined) {
    const file = local(edit.file);
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.replace(new RegExp(edit.find, "gm"), expand(edit.replace, env)));
  } else if (edit.op === "append" && edit.from && edit.file) {
    const user = userFiles[edit.from];
    if (user === undefined) return out;
    fs.appendFileSync(local(edit.file), user);
    if (edit.then === "postconf -n") {
      const r = spawnSync("postconf", ["-c", dir, "-n"], { encoding: "utf8", timeout: 60_000 });
      if (r.error) throw r.error;
      // DMS filters only these warnings out of the rewrite's stderr (postfix.sh:134).
      out.push(
        ...r.stderr
          .split("\n")
          .filter((l) => l.trim() && !/overriding earlier entry/.test(l))
          .map((l) => l.trim()),
      );
      if (r.status !== 0) throw new Error(`${id}: postconf -n exit ${r.status}: ${r.stderr}`);
      // `-c` makes postconf print config_directory too; in the pod it is the default and absent.
      const rewritten = r.stdout
        .split("\n")
        .filter((l) => l !== `config_directory = ${dir}`)
        .join("\n");
      fs.writeFileSync(local(edit.file), rewritten);
    }
  } else {
    throw new Error(`${id}: no way to apply op ${edit.op} to Postfix`);
  }
  return out;
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
    .filter((f) => f.value.file === MAIN_CF || f.value.file === "/etc/postfix/master.cf")
    .filter((f) => applies(f.value, env));
  // Image files first (no step), then the setup functions in their order; stable for equal steps.
  const ordered = edits
    .map((f, i) => ({ f, i }))
    .sort((a, b) => (a.f.value.step ?? -1) - (b.f.value.step ?? -1) || a.i - b.i)
    .map(({ f }) => f);
  const out: string[] = [];
  for (const f of ordered) out.push(...applyPostfixEdit(f.id, f.value, dir, env, userFiles));
  return out;
}

/** The facts whose edits come after the user's postfix-main.cf and win over it (`wins: dms`). */
export function postfixParamsDmsWins(env: Record<string, string>): PostconfParam[] {
  return startupFacts()
    .filter((f) => f.id.startsWith("postfix:") && f.value.wins === "dms" && applies(f.value, env))
    .flatMap((f) => f.value.params ?? []);
}

// ----------------------------------------------------------------------------------------- Rspamd

export const RSPAMD_DISABLED = "rspamd:local.d modules disabled";

/**
 * DMS's local.d `enabled = false` files, written into `tree` (a copy of /etc/rspamd; the world's
 * /etc/rspamd paths are mapped into it).
 */
export function applyRspamdLocalD(tree: string): void {
  const edit = need(RSPAMD_DISABLED, "file", "text", "modules");
  for (const module of edit.modules) {
    const env = { MODULE: module };
    const file = path.join(tree, path.relative("/etc/rspamd", expand(edit.file, env)));
    fs.writeFileSync(file, expand(edit.text, env));
  }
}
