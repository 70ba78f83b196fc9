/**
 * One checker per daemon that reads a file the program renders: which mounted paths it owns, the
 * real tool that reads them (Debian bookworm ships the versions docker-mailserver 15.0.0 runs), and
 * how to break the file for the negative control.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "../../tools/offline/mock-program";
import {
  applyDovecotAppend,
  applyRspamdLocalD,
  dmsEnvironment,
  dovecotConfPath,
  dovecotLocalConfPath,
  dovecotStatsConf,
  coolPostfixConfig,
  postfixAsDmsLeavesIt,
  runUserPatches,
  startupFact,
  startupFacts,
  DOVECOT_STATS_CONF,
  USER_PATCHES,
} from "../../tools/rehearse/dms-startup";
import { toolMissing, type Tool } from "../helpers/tools";

/** docker-mailserver's config directory (dms-15.0.0-config-files.tsv). */
const DMS = "/tmp/docker-mailserver";

/** What else the container gets: its environment and the other files mounted beside this one. */
export interface Pod {
  env: Record<string, string>;
  /** mountPath → content, this file included. */
  files: Record<string, string>;
}

export interface Checker {
  daemon: string;
  tool: Tool;
  /** Command and arguments that print the version of the tool that does the check. */
  version: [string, string[]];
  /** Checks for what the check needs beyond the tool (fails in CI, skips loudly elsewhere). */
  requires?(ctx: Mocha.Context): void;
  owns(mountPath: string): boolean;
  /** Problems the daemon reports for the file (empty: accepted), with the pod's other files. */
  check(mountPath: string, content: string, pod: Pod): string[];
  /**
   * Negative controls: each breaks the content (or leaves out a file mounted beside it,
   * `dropSibling`) as `what` says, and the check must report it.
   */
  controls: {
    what: string;
    corrupt(content: string, pod: Pod): string;
    dropSibling?: string;
  }[];
}

/** Where DMS reads user-patches.sh (the last argument of the world's command). */
export function userPatchesPath(): string {
  const command = startupFact(USER_PATCHES).value.command ?? [];
  return command[command.length - 1];
}

export function run(cmd: string, args: string[], cwd?: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

/** A fresh temporary directory, removed when `use` returns. */
function inTempDir<T>(prefix: string, use: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return use(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Swaps the 3rd and 4th letters of the first parameter name matched by `line` (group 1). */
function misspellFirst(content: string, line: RegExp): string {
  const m = line.exec(content);
  const name = m?.[1];
  if (!m || !name || name.length < 4) throw new Error(`no parameter to misspell in:\n${content}`);
  const at = m.index + m[0].indexOf(name);
  const typo = name.slice(0, 2) + name[3] + name[2] + name.slice(4);
  return content.slice(0, at) + typo + content.slice(at + name.length);
}

/** Postfix's config directory in the pod, as user-patches.sh names it. */
export const POD_POSTFIX_DIR = "/etc/postfix";

/**
 * `dir` (a Postfix config directory) as the pod's /etc/postfix is when the daemons start: DMS's
 * startup edits, then the pod's user-patches.sh (if mounted) with /etc/postfix pointed at `dir`.
 * Returns postconf's warnings and the script's failure, if any.
 */
export function postfixAsPodStarts(dir: string, pod: Pod): string[] {
  const env = dmsEnvironment(pod.env);
  const problems = postfixAsDmsLeavesIt(dir, env, pod.files).filter((l) =>
    /warning|fatal|error/i.test(l),
  );
  const patches = pod.files[userPatchesPath()];
  if (patches !== undefined) {
    const subs: Record<string, string> = patches.includes(POD_POSTFIX_DIR)
      ? { [POD_POSTFIX_DIR]: dir }
      : {};
    const r = runUserPatches(patches, dir, subs);
    if (r.status !== 0) problems.push(`user-patches.sh exit ${r.status}: ${r.out.trim()}`);
  }
  coolPostfixConfig(dir);
  return problems;
}

/** postconf's warnings about main.cf and master.cf as they are (unused or undefined parameters). */
export function postconfWarnings(dir: string): string[] {
  return [["-n"], ["-M"], ["-P"]].flatMap((args) => {
    const r = run("postconf", ["-c", dir, ...args]);
    const lines = r.out.split("\n").filter((l) => /^postconf: (warning|fatal|error)/.test(l));
    return r.status === 0 ? lines : [`postconf ${args.join(" ")} exit ${r.status}`, ...lines];
  });
}

/** The `cidr:` tables under the config directory a Postfix text names. */
function cidrTablesOf(content: string): string[] {
  return [...content.matchAll(/\bcidr:(\/tmp\/docker-mailserver\/[^\s,]+)/g)].map((m) => m[1]);
}

/**
 * Postfix 3.7, with main.cf as docker-mailserver 15.0.0 leaves it (world/dms-15.0.0/startup.yaml):
 * the image's main.cf and master.cf, DMS's postconf edits, `postfix-main.cf` appended and main.cf
 * rewritten by `postconf -n` (which warns "unused parameter" for a name Postfix does not know and
 * drops it), then what DMS sets after the file (SRS), then the pod's user-patches.sh (its
 * master.cf listeners must draw no warning either). Each parameter the file sets must keep the
 * file's value in the end: one DMS sets later would silently replace it. Each cidr table it names
 * must be mounted beside it.
 */
const postfix: Checker = {
  daemon: "Postfix",
  tool: "postconf",
  version: ["postconf", ["-d", "mail_version"]],
  owns: (p) => p === `${DMS}/postfix-main.cf`,
  check: (p, content, pod) =>
    inTempDir("postfix-", (dir) => {
      const withFile = { ...pod, files: { ...pod.files, [p]: content } };
      const warnings = [...postfixAsPodStarts(dir, withFile), ...postconfWarnings(dir)];
      const unmounted = cidrTablesOf(content)
        .filter((t) => !(t in pod.files))
        .map((t) => `cidr:${t} is not mounted in the pod`);
      const overridden = [...content.matchAll(/^([a-z_]+)\s*=\s*(.*)$/gm)]
        .map(([, name, value]) => ({
          name,
          value: value.trim(),
          final: run("postconf", ["-c", dir, "-h", name]).stdout.trim(),
        }))
        .filter((x) => x.final.replace(/\s+/g, " ") !== x.value.replace(/\s+/g, " "))
        .map((x) => `${x.name}: the file sets "${x.value}", DMS leaves "${x.final}"`);
      return [...new Set(warnings), ...overridden, ...unmounted];
    }),
  controls: [
    {
      what: "first parameter name misspelt",
      corrupt: (content) => misspellFirst(content, /^([a-z_]+)\s*=/m),
    },
    {
      what: "a parameter DMS sets after the file (world: wins dms) added, in the environment that makes DMS set it",
      corrupt: (content, pod) => {
        const fact = startupFacts().find(
          (f) => f.id.startsWith("postfix:") && f.value.wins === "dms",
        );
        const p = fact?.value.params?.[0];
        if (!fact || !p)
          throw new Error("the world records no Postfix parameter DMS sets after the file");
        pod.env = { ...pod.env, ...fact.value.when };
        return `${content}${p.param} = ${p.value}-set-by-the-file\n`;
      },
    },
    {
      what: "a cidr table it names left out of the pod",
      corrupt: (content) => `${content}check_client_access_table = cidr:${DMS}/not-mounted.cidr\n`,
    },
  ],
};

/**
 * Postfix cidr tables in the config directory (read as text, no postmap): `postmap -s` lists
 * every entry and warns at a line it cannot parse; each table must be named by postfix-main.cf,
 * or nothing reads it.
 */
const postfixCidr: Checker = {
  daemon: "Postfix cidr tables",
  tool: "postconf",
  version: ["postconf", ["-d", "mail_version"]],
  owns: (p) => p.startsWith(`${DMS}/`) && p.endsWith(".cidr"),
  check: (p, content, pod) =>
    inTempDir("cidr-", (dir) => {
      const file = path.join(dir, path.basename(p));
      fs.writeFileSync(file, content);
      // Postfix loads the whole table on open and warns at each line it cannot parse; each
      // entry's own network address must then answer with the entry's value.
      const entries = content
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
        .map((l) => l.trim().split(/\s+/));
      const problems = entries.length === 0 ? ["the table has no entry"] : [];
      for (const [network, ...value] of entries) {
        const address = network.split("/")[0];
        const r = run("postmap", ["-q", address, `cidr:${file}`]);
        problems.push(...r.out.split("\n").filter((l) => /warning|fatal|error/i.test(l)));
        if (r.stdout.trim() !== value.join(" ")) {
          problems.push(`${address} answers "${r.stdout.trim()}", not "${value.join(" ")}"`);
        }
      }
      const main = pod.files[`${DMS}/postfix-main.cf`] ?? "";
      if (!cidrTablesOf(main).includes(p)) problems.push(`postfix-main.cf never names cidr:${p}`);
      return problems;
    }),
  controls: [
    { what: "a netmask out of range", corrupt: (c) => c.replace(/\/(\d+)/, "/33") },
    {
      what: "postfix-main.cf, which names the table, left out",
      corrupt: (c) => c,
      dropSibling: `${DMS}/postfix-main.cf`,
    },
  ],
};

/**
 * Dovecot 2.3.19.1, configured as docker-mailserver 15.0.0 leaves /etc/dovecot (world file): a
 * copy of Debian's stock /etc/dovecot stands in for the image's, plus the image's 60-stats.conf,
 * the file as local.conf, DMS's line appended to dovecot.conf, then the pod's user-patches.sh
 * with /etc/dovecot/ redirected into the copy. `doveconf -n` is fatal on an unknown setting; a
 * file that defines metrics must leave the stats writer socket set, or every counter stays 0.
 */
const DOVECOT_ETC = "/etc/dovecot/";
const dovecot: Checker = {
  daemon: "Dovecot",
  tool: "doveconf",
  version: ["doveconf", ["-d"]],
  owns: (p) => p === `${DMS}/dovecot.cf`,
  check: (_p, content, pod) =>
    inTempDir("dovecot-", (dir) => {
      const inCopy = (file: string) => path.join(dir, path.relative(DOVECOT_ETC, file));
      const conf = inCopy(dovecotConfPath());
      fs.cpSync(dovecotConfPath(), conf);
      fs.cpSync(path.join(DOVECOT_ETC, "conf.d"), path.join(dir, "conf.d"), { recursive: true });
      const stats = startupFact(DOVECOT_STATS_CONF).value.file ?? "";
      fs.writeFileSync(inCopy(stats), dovecotStatsConf());
      fs.writeFileSync(inCopy(dovecotLocalConfPath()), content);
      applyDovecotAppend(conf);
      const problems: string[] = [];
      const patches = pod.files[userPatchesPath()];
      if (patches !== undefined) {
        // Its other edits (Postfix's master.cf) land in stand-ins (runUserPatches).
        const r = runUserPatches(patches, dir, { [DOVECOT_ETC]: `${dir}/` });
        if (r.status !== 0) problems.push(`user-patches.sh exit ${r.status}: ${r.out.trim()}`);
      }
      const r = run("doveconf", ["-c", conf, "-n"]);
      if (r.status !== 0) {
        return [`exit ${r.status}`, ...r.out.split("\n").filter((l) => /Fatal|Error/.test(l))];
      }
      if (/^\s*metric\s/m.test(content)) {
        const socket = run("doveconf", ["-c", conf, "-h", "stats_writer_socket_path"]).stdout;
        if (socket.trim() === "") {
          problems.push(
            "stats_writer_socket_path is empty in the effective config: counters stay 0",
          );
        }
      }
      return problems;
    }),
  controls: [
    {
      what: "first setting name misspelt",
      corrupt: (content) => misspellFirst(content, /^\s*([a-z_]+)\s*=/m),
    },
    {
      what: "user-patches.sh left out (DMS's empty stats_writer_socket_path= stays)",
      corrupt: (content) => content,
      dropSibling: userPatchesPath(),
    },
  ],
};

/** Shell scripts (user-patches.sh): parsed by bash, as DMS runs them, and clean under shellcheck. */
const shell: Checker = {
  daemon: "Bash and ShellCheck",
  tool: "shellcheck",
  version: ["shellcheck", ["--version"]],
  owns: (p) => p.endsWith(".sh"),
  check: (p, content) =>
    inTempDir("sh-", (dir) => {
      const file = path.join(dir, path.basename(p));
      fs.writeFileSync(file, content);
      const parse = run("bash", ["-n", file]);
      if (parse.status !== 0) return [parse.out.trim()];
      const lint = run("shellcheck", ["--shell=bash", "--format=gcc", file]);
      return lint.status === 0 ? [] : lint.out.trim().split("\n");
    }),
  controls: [
    { what: "a double quote left unclosed", corrupt: (c) => `${c}echo "unclosed\n` },
    { what: "an unquoted variable expansion added", corrupt: (c) => `${c}rm -f $1\n` },
  ],
};

const RSPAMD_SHARE = "/usr/share/rspamd";

/** Every Lua source rspamd ships (plugins and their libraries), for the option-name check. */
function rspamdLua(): string {
  const files = fs
    .readdirSync(RSPAMD_SHARE, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".lua"));
  return files.map((f) => fs.readFileSync(path.join(RSPAMD_SHARE, f), "utf8")).join("\n");
}

/** `rspamadm` reading a copy of /etc/rspamd with the file in place of the image's. */
function rspamadm(tree: string, command: string, ...args: string[]) {
  const vars = [`--var=CONFDIR=${tree}`, `--var=LOCAL_CONFDIR=${tree}`];
  return run("rspamadm", [...vars, command, "-c", path.join(tree, "rspamd.conf"), ...args]);
}

/**
 * Rspamd 3.4: DMS copies `rspamd/override.d/*` into /etc/rspamd and writes its local.d files. `configtest`
 * (non-strict: strict fails on DNS without network) rejects bad UCL but not a misspelt module
 * option, which the module simply ignores; so each option the file adds to the module's effective
 * config (`configdump`) must also be a name rspamd's own Lua code uses.
 */
const rspamd: Checker = {
  daemon: "Rspamd",
  tool: "rspamadm",
  version: ["rspamadm", ["--version"]],
  owns: (p) => /^\/tmp\/docker-mailserver\/rspamd\/(override|local)\.d\/[^/]+$/.test(p),
  check: (p, content) =>
    inTempDir("rspamd-", (dir) => {
      const tree = path.join(dir, "rspamd");
      fs.cpSync("/etc/rspamd", tree, { recursive: true });
      // DMS's local.d `enabled = false` modules (world file), as in the image after startup.
      applyRspamdLocalD(tree);
      const module = path.basename(p).replace(/\.(conf|inc)$/, "");
      const stock = rspamadm(tree, "configdump", "-j", module);
      const target = path.join(tree, path.relative(`${DMS}/rspamd`, p));
      fs.writeFileSync(target, content);
      const test = rspamadm(tree, "configtest");
      if (test.status !== 0 || !/syntax OK/.test(test.out)) {
        return [
          `configtest exit ${test.status}`,
          ...test.out.split("\n").filter((l) => /error|BAD/i.test(l)),
        ];
      }
      // A module whose options fail its schema is disabled with one log line, and configtest
      // still says "syntax OK" (seen with the live external_relay.conf's ip_map strategy).
      const disabled = test.out
        .split("\n")
        .filter((l) => /config schema error|cannot configure/i.test(l));
      if (disabled.length > 0) return disabled.map((l) => `${module}: ${l.trim().slice(0, 300)}`);
      if (!fs.existsSync(path.join(RSPAMD_SHARE, "plugins", `${module}.lua`))) return [];
      // `enabled` is the switch rspamd's core reads for every module.
      const before = new Set(Object.keys(JSON.parse(stock.stdout || "{}") as object));
      const after = JSON.parse(rspamadm(tree, "configdump", "-j", module).stdout) as Record<
        string,
        unknown
      >;
      const added = Object.keys(after).filter((k) => !before.has(k));
      // Nested options too (a misspelt option of a rule is ignored just the same); names the
      // file chooses are skipped: rule and symbol names (upper case) and domains (with a dot).
      const names = (key: string, value: unknown): string[] => [
        ...(/^[A-Z0-9_]+$/.test(key) || key.includes(".") ? [] : [key]),
        ...(value && typeof value === "object" && !Array.isArray(value)
          ? Object.entries(value).flatMap(([k, v]) => names(k, v))
          : []),
      ];
      const lua = rspamdLua();
      return [...new Set(added.flatMap((k) => names(k, after[k])))]
        .filter((k) => k !== "enabled" && !new RegExp(`\\b${k}\\b`).test(lua))
        .map((k) => `option "${k}" of ${module} is read nowhere in rspamd's Lua (${RSPAMD_SHARE})`);
    }),
  controls: [
    { what: "first option name misspelt", corrupt: (c) => misspellFirst(c, /^\s*([a-z_]+)\s*=/m) },
    { what: "a section left unclosed (bad UCL)", corrupt: (c) => `${c}\nbroken {\n` },
  ],
};

/** Roundcube's option defaults, unpacked from Debian's packages by scripts/install-roundcube.sh. */
const ROUNDCUBE = path.join(ROOT, ".tmp", "roundcube");
const ROUNDCUBE_DEFAULTS = path.join(ROUNDCUBE, "etc", "roundcube", "defaults.inc.php");

/** Every file that defines Roundcube options: core defaults and each plugin's dist config. */
function roundcubeOptionFiles(): string[] {
  const plugins = path.join(ROUNDCUBE, "usr", "share", "roundcube", "plugins");
  const dists = fs
    .readdirSync(plugins)
    .map((p) => path.join(plugins, p, "config.inc.php.dist"))
    .filter((f) => fs.existsSync(f));
  return [ROUNDCUBE_DEFAULTS, ...dists];
}

/**
 * Roundcube's config is PHP: `php -l` must parse it, including it must run cleanly, and every
 * option it sets must be one Roundcube or one of its plugins defines (Debian bookworm's 1.6.5
 * packages; the image runs 1.6.13, so an option new in between would be refused: fail safe).
 * The Debian php-cli is 8.2, the PHP line of the roundcube 1.6 apache image.
 */
const php: Checker = {
  daemon: "PHP and Roundcube (webmail config)",
  tool: "php",
  version: ["php", ["--version"]],
  requires: (ctx) => {
    if (!fs.existsSync(ROUNDCUBE_DEFAULTS))
      toolMissing(ctx, "roundcube", `${ROUNDCUBE_DEFAULTS} missing`);
  },
  owns: (p) => p.endsWith(".php"),
  check: (p, content) =>
    inTempDir("php-", (dir) => {
      const file = path.join(dir, path.basename(p));
      fs.writeFileSync(file, content);
      const lint = run("php", ["-l", file]);
      if (lint.status !== 0) return [lint.out.trim()];
      const script = path.join(__dirname, "roundcube-options.php");
      const r = run("php", [
        "-d",
        "error_reporting=E_ALL",
        script,
        file,
        ...roundcubeOptionFiles(),
      ]);
      if (r.status !== 0 || !r.stdout.startsWith("[")) return [r.out.trim()];
      return (JSON.parse(r.stdout) as string[]).map((o) => `Roundcube defines no option "${o}"`);
    }),
  controls: [
    {
      what: "first option name misspelt",
      corrupt: (c) => misspellFirst(c, /\$config\['([a-z_]+)'\]/),
    },
    { what: "first statement's semicolon dropped", corrupt: (c) => c.replace(/;[ \t]*$/m, "") },
  ],
};

/** Python scripts (the probe): compiled by python3. The negative control is a syntax error. */
const python: Checker = {
  daemon: "Python",
  tool: "python3",
  version: ["python3", ["--version"]],
  owns: (p) => p.endsWith(".py"),
  check: (p, content) =>
    inTempDir("py-", (dir) => {
      const file = path.join(dir, path.basename(p));
      fs.writeFileSync(file, content);
      const r = run("python3", ["-B", "-m", "py_compile", file]);
      return r.status === 0 ? [] : [r.out.trim()];
    }),
  controls: [
    {
      what: "first block header's colon dropped",
      corrupt: (content) =>
        content.replace(/^(\s*(?:def|class|if|for|while|with|try)\b[^\n]*):[ \t]*$/m, "$1"),
    },
  ],
};

/**
 * Per-user Sieve scripts (`<login>.dovecot.sieve`, which DMS installs for that login): compiled
 * by Pigeonhole's `sievec` (Debian's dovecot-sieve, the Pigeonhole of Dovecot 2.3.19.1), and the
 * name must be an address.
 */
const sieve: Checker = {
  daemon: "Sieve (Pigeonhole)",
  tool: "sievec",
  version: ["doveconf", ["-d"]],
  requires: (ctx) => {
    if (!toolRunsQuietly("sievec")) {
      toolMissing(ctx, "sievec", "sievec did not run: apt-get install dovecot-sieve");
    }
  },
  owns: (p) => p.startsWith(`${DMS}/`) && p.endsWith(".dovecot.sieve"),
  check: (p, content) =>
    inTempDir("sieve-", (dir) => {
      const problems: string[] = [];
      const login = path.basename(p).replace(/\.dovecot\.sieve$/, "");
      if (!/^[^@\s]+@[^@\s]+$/.test(login)) problems.push(`${login} is not a login address`);
      const file = path.join(dir, "script.sieve");
      fs.writeFileSync(file, content);
      const r = run("sievec", [file, path.join(dir, "script.svbin")]);
      if (r.status !== 0) problems.push(`sievec exit ${r.status}: ${r.out.trim()}`);
      return problems;
    }),
  controls: [
    { what: "an action misspelt", corrupt: (c) => c.replace("discard;", "discrad;") },
    { what: "a block left unclosed", corrupt: (c) => `${c}if true {\n` },
  ],
};

/** Whether `command` can be started (sievec has no version flag: its usage goes to stderr). */
function toolRunsQuietly(command: string): boolean {
  const r = spawnSync(command, [], { encoding: "utf8" });
  return !r.error;
}

export const CHECKERS: readonly Checker[] = [
  postfix,
  postfixCidr,
  dovecot,
  rspamd,
  shell,
  sieve,
  php,
  python,
];
