/**
 * Scenario "5 Roundcube in Chromium": the real Roundcube (Debian bookworm's roundcube-core 1.6.5,
 * /usr/share/roundcube, served by PHP's built-in server) with the configuration the program
 * renders for the webmail Deployment, driven by headless Chromium (Debian's chromium through
 * playwright-core): log in with a placeholder mailbox, open the inbox, send a message through the
 * compose form over submission to the same mailbox, and see it arrive in the inbox list.
 *
 * The configuration is what the roundcube/roundcubemail image's entrypoint writes from the
 * Deployment's env (roundcube/roundcubemail-docker @ ce5fe1f, apache/docker-entrypoint.sh, see
 * entrypointConfig), with two substitutions the evidence names: SQLite (the entrypoint's own
 * fallback, lines 102-111) in place of MySQL, and no Composer plugins (lines 123-140 need
 * Packagist). The ConfigMap's tls-peer.inc.php sits where the Deployment mounts it,
 * /var/roundcube/config/, and is included as the entrypoint includes it (lines 210-213).
 *
 * PHP runs under `unshare --mount`: there /etc/hosts is a copy that points the planned mail
 * Service's names (the cluster DNS answer) at the pod, /tmp is private, and /var is an overlay so
 * /var/roundcube exists for this process only. PHP trusts the throwaway CA through
 * `openssl.cafile`, the CA Roundcube's TLS uses when its conn_options name no cafile; the rendered
 * `peer_name`/`verify_peer` stay as they are. Nothing on the host changes.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { chromium, type BrowserServer, type Page } from "playwright-core";
import { track } from "../cli/children";
import type { ProgramRun } from "../offline/mock-program";
import { poll, queueLines } from "./mail-in";
import { containerEnv, mountedFiles, planned } from "./mounts";
import { POD_ADDRESS, type MailPod } from "./pod";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";
import { freePort } from "./free-port";

const NAME = "5 Roundcube in Chromium";
const DIR = "webmail";
const NS = "mailserver";
const DEPLOYMENT = "roundcubemail";
/** Debian's roundcube-core: the web root, the code and the option defaults. */
export const ROUNDCUBE_PUBLIC = "/var/lib/roundcube/public_html";
const ROUNDCUBE_SHARE = "/usr/share/roundcube";
const DEBIAN_CONFIG = "/etc/roundcube";
export const CHROMIUM = "/usr/bin/chromium";
/** Not under /tmp: the PHP process gets a private /tmp. */
const WORK_PREFIX = "/var/tmp/rehearse-webmail-";
/** The image's SQLite DSN (docker-entrypoint.sh:103-107 with its defaults). */
const SQLITE_DSN = "sqlite:////var/roundcube/db/sqlite.db?mode=0646";

function result(verdict: "pass" | "fail", evidence: string[], files: string[]): ScenarioResult {
  return { name: NAME, verdict, evidence, files };
}

/** A PHP single-quoted string literal. */
function phpString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * config/config.inc.php and config/config.docker.inc.php as the image's entrypoint writes them
 * (apache/docker-entrypoint.sh @ ce5fe1f): the root file of lines 157-170, then lines 176-188
 * (imap_host = DEFAULT_HOST:DEFAULT_PORT, smtp_host = SMTP_SERVER:SMTP_PORT, the defaults of lines
 * 113-121, plugins merged from ROUNDCUBEMAIL_PLUGINS), the enigma homedir of lines 205-208 and an
 * include of each /var/roundcube/config/*.php (lines 210-213). `db_dsnw` is the entrypoint's
 * SQLite DSN, not the MySQL one of the rendered DB_* variables.
 */
export function entrypointConfig(
  env: Record<string, string>,
  includes: string[],
): { root: string; docker: string } {
  const e = (k: string, dflt = "") => env[`ROUNDCUBEMAIL_${k}`] || dflt;
  const desKey = randomBytes(18).toString("base64").slice(0, 24);
  const root = [
    "<?php",
    "$config['plugins'] = [];",
    "$config['log_driver'] = 'stdout';",
    "$config['zipdownload_selection'] = true;",
    `$config['des_key'] = ${phpString(desKey)};`,
    "$config['enable_spellcheck'] = true;",
    "$config['spellcheck_engine'] = 'pspell';",
    "include(__DIR__ . '/config.docker.inc.php');",
    "",
  ].join("\n");
  const plugins = e("PLUGINS", "archive,zipdownload")
    .split(/[, ]+/)
    .filter(Boolean)
    .map(phpString)
    .join(", ");
  const lines = [
    "<?php",
    `$config['db_dsnw'] = ${phpString(SQLITE_DSN)};`,
    `$config['db_dsnr'] = ${phpString(e("DSNR"))};`,
    `$config['imap_host'] = ${phpString(`${e("DEFAULT_HOST", "localhost")}:${e("DEFAULT_PORT", "143")}`)};`,
    `$config['smtp_host'] = ${phpString(`${e("SMTP_SERVER", "localhost")}:${e("SMTP_PORT", "587")}`)};`,
    `$config['username_domain'] = ${phpString(e("USERNAME_DOMAIN"))};`,
    `$config['temp_dir'] = ${phpString(e("TEMP_DIR", "/tmp/roundcube-temp"))};`,
    `$config['skin'] = ${phpString(e("SKIN", "elastic"))};`,
    `$config['request_path'] = ${phpString(e("REQUEST_PATH", "/"))};`,
    `$config['plugins'] = array_filter(array_unique(array_merge($config['plugins'], [${plugins}])));`,
  ];
  if (/\benigma\b/.test(e("PLUGINS")) && !includes.some((f) => /enigma_pgp_homedir/.test(f)))
    lines.push("$config['enigma_pgp_homedir'] = '/var/roundcube/enigma';");
  for (const f of includes) lines.push(`include(${phpString(f)});`);
  return { root, docker: [...lines, ""].join("\n") };
}

/** The peer names the mounted PHP config files verify (`'peer_name' => '...'`). */
function peerNames(mounted: { content: string }[]): string[] {
  const names = mounted.flatMap((f) =>
    [...f.content.matchAll(/'peer_name'\s*=>\s*'([^']+)'/g)].map((m) => m[1]),
  );
  return [...new Set(names)];
}

/** RCMAIL_VERSION of the installed Roundcube. */
function roundcubeVersion(): string {
  const iniset = path.join(ROUNDCUBE_SHARE, "program", "include", "iniset.php");
  return /RCMAIL_VERSION', '([^']+)'/.exec(fs.readFileSync(iniset, "utf8"))?.[1] ?? "?";
}

/** Names the cluster DNS gives each planned Service of the namespace serving IMAPS. */
function mailServiceNames(run: ProgramRun): string[] {
  return run.resources
    .filter((r) => r.type === "kubernetes:core/v1:Service")
    .flatMap((r) => {
      const m = r.inputs.metadata as { name?: string; namespace?: string } | undefined;
      const ports = (r.inputs.spec as { ports?: { port?: number }[] } | undefined)?.ports ?? [];
      if (m?.namespace !== NS || !m.name || !ports.some((p) => p.port === 993)) return [];
      return [
        m.name,
        `${m.name}.${NS}`,
        `${m.name}.${NS}.svc`,
        `${m.name}.${NS}.svc.cluster.local`,
      ];
    });
}

/** The webmail's public host (the planned Ingress rule), which Chromium browses. */
function webmailHost(run: ProgramRun): string {
  const ing = planned(run, "kubernetes:networking.k8s.io/v1:Ingress", NS, DEPLOYMENT);
  const rules = (ing.inputs.spec as { rules?: { host?: string }[] } | undefined)?.rules;
  return rules?.[0]?.host ?? "localhost";
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.once("connect", () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });
}

/**
 * The mount namespace's setup, then `exec php`: $1 is the work directory. /tmp is a tmpfs, so the
 * overlay's upper layer (a copy of $1/var) lives outside /var and vanishes with the namespace.
 */
const NAMESPACE_SH = [
  "set -e",
  'w="$1"; shift',
  'mount --bind "$w/hosts" /etc/hosts',
  "mount -t tmpfs -o mode=1777 tmpfs /tmp",
  "mkdir -p /tmp/.var/upper /tmp/.var/work /tmp/roundcube-temp",
  'cp -a "$w/var/." /tmp/.var/upper/',
  "mount -t overlay overlay -o lowerdir=/var,upperdir=/tmp/.var/upper,workdir=/tmp/.var/work /var",
  'exec "$@"',
].join("\n");

/** Scenario 5 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function webmail(pod: MailPod, passwords: Record<string, string>): Scenario {
  return async (ctx: RehearsalContext) => {
    const evidence: string[] = [];
    const files: string[] = [];
    const out = path.join(ctx.out, DIR);
    fs.mkdirSync(out, { recursive: true });
    const secrets = Object.values(passwords).filter(Boolean);
    const scrub = (s: string) => secrets.reduce((t, p) => t.split(p).join("<password>"), s);
    const say = (line: string) => evidence.push(scrub(line));
    const mailbox =
      Object.keys(passwords).find((a) => a.startsWith("me@")) ?? Object.keys(passwords)[0];
    const work = fs.mkdtempSync(`${WORK_PREFIX}${process.pid}-`);
    let php: ChildProcess | undefined;
    let server: BrowserServer | undefined;
    let phpLog = "";
    const kill = () => {
      if (php && php.exitCode === null && php.signalCode === null) php.kill("SIGKILL");
      const browser = server?.process();
      if (browser && browser.exitCode === null && browser.signalCode === null)
        browser.kill("SIGKILL");
    };
    ctx.signal.addEventListener("abort", kill, { once: true });
    const saveText = (name: string, text: string) => {
      fs.writeFileSync(path.join(out, name), scrub(text));
      files.push(path.posix.join(DIR, name));
    };
    const saveLogs = (): string[] => {
      fs.writeFileSync(path.join(out, "roundcube.log"), scrub(phpLog));
      return [path.posix.join(DIR, "roundcube.log")];
    };
    try {
      if (!mailbox || passwords[mailbox] === undefined)
        throw new Error("no placeholder mailbox to log in with");
      const env = containerEnv(ctx.run, NS, DEPLOYMENT);
      const mounted = mountedFiles(ctx.run, NS, DEPLOYMENT).filter((f) =>
        f.mountPath.startsWith("/var/roundcube/config/"),
      );
      // The work tree: the hosts file, the CA, Roundcube's config dir and the /var/roundcube layer.
      const names = mailServiceNames(ctx.run);
      fs.writeFileSync(
        path.join(work, "hosts"),
        `${fs.readFileSync("/etc/hosts", "utf8")}\n${POD_ADDRESS} ${names.join(" ")}\n`,
      );
      fs.writeFileSync(path.join(work, "ca.pem"), pod.caPem);
      const configDir = path.join(work, "config");
      fs.mkdirSync(configDir);
      for (const f of ["defaults.inc.php", "mimetypes.php"])
        fs.copyFileSync(path.join(DEBIAN_CONFIG, f), path.join(configDir, f));
      const includes = mounted.filter((f) => f.mountPath.endsWith(".php")).map((f) => f.mountPath);
      const config = entrypointConfig(env, includes.sort());
      fs.writeFileSync(path.join(configDir, "config.inc.php"), config.root);
      fs.writeFileSync(path.join(configDir, "config.docker.inc.php"), config.docker);
      for (const d of ["db", "enigma", "config"])
        fs.mkdirSync(path.join(work, "var/roundcube", d), { recursive: true });
      for (const f of mounted) {
        const file = path.join(work, "var", f.mountPath.slice("/var/".length));
        fs.writeFileSync(file, f.content, { mode: f.mode });
      }
      saveText("config.docker.inc.php", config.docker);
      say(
        `config: Roundcube ${roundcubeVersion()} (Debian roundcube-core) with the entrypoint mapping (roundcube/roundcubemail-docker@ce5fe1f docker-entrypoint.sh:157-213) of the rendered env: imap_host ${env.ROUNDCUBEMAIL_DEFAULT_HOST}:${env.ROUNDCUBEMAIL_DEFAULT_PORT}, smtp_host ${env.ROUNDCUBEMAIL_SMTP_SERVER}:${env.ROUNDCUBEMAIL_SMTP_PORT}, plugins ${env.ROUNDCUBEMAIL_PLUGINS}; ${mounted.map((f) => `${f.mountPath} from ${f.source}`).join(", ") || "no mounted config file"}`,
      );
      say(
        `database: SQLite (${SQLITE_DSN}, the entrypoint's own fallback) in place of the rendered ${env.ROUNDCUBEMAIL_DB_TYPE ?? "?"} at ${env.ROUNDCUBEMAIL_DB_HOST ?? "?"}; schema from ${ROUNDCUBE_SHARE}/SQL/sqlite.initial.sql on first use`,
      );
      const composer = env.ROUNDCUBEMAIL_COMPOSER_PLUGINS;
      const installed = (env.ROUNDCUBEMAIL_PLUGINS ?? "")
        .split(/[, ]+/)
        .filter(Boolean)
        .map((p) => [p, fs.existsSync(path.join(ROUNDCUBE_SHARE, "plugins", p))] as const);
      if (composer)
        say(
          `not rehearsed: composer plugins ${composer} (the entrypoint's \`composer require\` needs Packagist); plugins missing here: ${installed
            .filter(([, ok]) => !ok)
            .map(([p]) => p)
            .join(", ")}; loaded from Debian's roundcube-plugins: ${installed
            .filter(([, ok]) => ok)
            .map(([p]) => p)
            .join(", ")}`,
        );
      say(
        `DNS for PHP only (unshare --mount, bind-mounted /etc/hosts): ${names[0] ?? "(no mail Service planned)"} → ${POD_ADDRESS}; TLS: the rendered peer_name ${peerNames(mounted).join(", ") || "(none)"} checked against the pod's throwaway CA (php -d openssl.cafile)`,
      );

      // PHP's built-in server in its own mount namespace.
      const port = await freePort();
      php = track(
        spawn(
          "unshare",
          [
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            NAMESPACE_SH,
            "sh",
            work,
            "php",
            "-d",
            `openssl.cafile=${path.join(work, "ca.pem")}`,
            "-d",
            "display_errors=stderr",
            "-S",
            `127.0.0.1:${port}`,
            "-t",
            ROUNDCUBE_PUBLIC,
          ],
          {
            env: { ...process.env, ROUNDCUBE_CONFIG_DIR: configDir },
            stdio: ["ignore", "pipe", "pipe"],
          },
        ),
      );
      php.stdout?.on("data", (c: Buffer) => (phpLog += c.toString("utf8")));
      php.stderr?.on("data", (c: Buffer) => (phpLog += c.toString("utf8")));
      let up = false;
      for (let t = Date.now(); !up && Date.now() - t < 10_000 && !ctx.signal.aborted;) {
        if (php.exitCode !== null) break;
        up = await listening(port);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      if (!up) throw new Error(`php -S did not listen: ${phpLog.trim().split("\n").pop() ?? ""}`);

      // Chromium browses the planned webmail host, mapped to PHP's address.
      const host = webmailHost(ctx.run);
      server = await chromium.launchServer({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", `--host-resolver-rules=MAP ${host} 127.0.0.1`],
        timeout: 15_000,
      });
      track(server.process());
      const browser = await chromium.connect(server.wsEndpoint());
      const base = `http://${host}:${port}/`;
      let page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      if (!(await logIn(page, base, mailbox, passwords[mailbox]))) {
        say(`login as ${mailbox} failed: ${await roundcubeMessage(page)}`);
        for (const l of connectionErrors(phpLog)) say(`Roundcube: ${l}`);
        return result("fail", evidence, [...files, ...saveLogs()]);
      }
      say(`login as ${mailbox}: page "${await page.title()}" at ${host} (Roundcube's inbox list)`);

      // Compose and send to the same mailbox over submission.
      const subject = `rehearsal: webmail ${randomBytes(4).toString("hex")}`;
      await page.goto(`${base}?_task=mail&_action=compose`);
      const to = page.locator(".recipient-input input").first();
      await to.fill(mailbox);
      await to.press("Enter");
      await page.locator("#compose-subject").fill(subject);
      await page.locator("#composebody").fill("Sent through Roundcube by the rehearsal.\n");
      await page.locator(".formbuttons .send, button.send, a.send").first().click();
      const sentAt = await page
        .waitForURL((u) => !u.search.includes("_action=compose"), { timeout: 20_000 })
        .then(() => true)
        .catch(() => false);
      const queued = await poll(
        () => /queued as ([0-9A-Za-z]+)/.exec(phpLog)?.[1],
        10_000,
        ctx.signal,
      );
      if (!sentAt || !queued) {
        say(`send: ${sentAt ? "" : "compose form still open; "}${await roundcubeMessage(page)}`);
        for (const l of connectionErrors(phpLog)) say(`Roundcube: ${l}`);
        return result("fail", evidence, [...files, ...saveLogs()]);
      }
      const submitted = queueLines(pod, queued).find((l) => /client=/.test(l));
      say(
        `send: Roundcube's smtp log: ${
          phpLog
            .split("\n")
            .find((l) => l.includes(`queued as ${queued}`))
            ?.trim() ?? ""
        }`,
      );
      say(`submission: ${submitted?.trim() ?? `no client= line for ${queued} in mail.log`}`);
      const delivered = await poll(
        () => queueLines(pod, queued).find((l) => /status=sent/.test(l) && /lmtp/.test(l)),
        15_000,
        ctx.signal,
      );
      say(
        `Postfix ${queued}: ${delivered?.replace(/^.*?: /, "") ?? "no LMTP delivery line in 15 s"}`,
      );

      // Arrival as the user sees it: the subject in the inbox list of the mailbox Postfix
      // delivered to (virtual aliases, a catch-all among them, may have rewritten the recipient).
      const finalTo = /\bto=<([^>]+)>/.exec(delivered ?? "")?.[1] ?? mailbox;
      if (finalTo !== mailbox) {
        say(`virtual alias maps rewrote ${mailbox} to ${finalTo}: its inbox is checked`);
        const pass = passwords[finalTo];
        if (pass === undefined) {
          say(`arrival: ${finalTo} is no mailbox of the placeholder accounts`);
          return result("fail", evidence, [...files, ...saveLogs()]);
        }
        await page.context().close();
        page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        if (!(await logIn(page, base, finalTo, pass))) {
          say(`login as ${finalTo} failed: ${await roundcubeMessage(page)}`);
          for (const l of connectionErrors(phpLog)) say(`Roundcube: ${l}`);
          return result("fail", evidence, [...files, ...saveLogs()]);
        }
        say(`login as ${finalTo}: page "${await page.title()}"`);
      }
      const row = page.locator("#messagelist tbody tr", { hasText: subject });
      const until = Date.now() + 15_000;
      let arrived = false;
      while (!arrived && Date.now() < until && !ctx.signal.aborted) {
        await page.goto(`${base}?_task=mail&_mbox=INBOX`);
        await page.locator("#messagelist").waitFor({ state: "attached" });
        arrived = await row
          .first()
          .waitFor({ timeout: 1500 })
          .then(() => true)
          .catch(() => false);
      }
      say(
        arrived
          ? `arrival: "${subject}" in the inbox list ("${await page.title()}")`
          : `arrival: "${subject}" not in the inbox list within 15 s`,
      );
      await page.screenshot({ path: path.join(out, "inbox.png") });
      files.push(path.posix.join(DIR, "inbox.png"));
      await browser.close();
      files.push(...saveLogs());
      return result(submitted && delivered && arrived ? "pass" : "fail", evidence, files);
    } catch (err) {
      say(`error: ${(err as Error).message.split("\n")[0]}`);
      return result("fail", evidence, [...files, ...saveLogs()]);
    } finally {
      ctx.signal.removeEventListener("abort", kill);
      await server?.close().catch(() => undefined);
      kill();
      if (php && php.exitCode === null && php.signalCode === null)
        await new Promise((r) => php?.once("exit", r));
      fs.rmSync(work, { recursive: true, force: true });
    }
  };
}

/** Roundcube's login form, submitted; true when the mail task's message list shows. */
async function logIn(page: Page, base: string, user: string, pass: string): Promise<boolean> {
  page.setDefaultTimeout(15_000);
  await page.goto(base);
  await page.locator("#rcmloginuser").fill(user);
  await page.locator("#rcmloginpwd").fill(pass);
  // A refused login answers the form's POST with 401 and the form again: no wait for the list.
  const answer = page
    .waitForResponse((r) => r.request().method() === "POST" && /_task=login/.test(r.url()))
    .catch(() => undefined);
  await page.locator("#rcmloginsubmit").click();
  const status = (await answer)?.status() ?? 0;
  if (status === 0 || status >= 400) return false;
  return page
    .waitForURL(/_task=mail/, { timeout: 15_000 })
    .then(() => page.locator("#messagelist").waitFor({ state: "attached" }))
    .then(
      () => true,
      () => false,
    );
}

/** Roundcube's message box text (login or send error), or the page title. */
async function roundcubeMessage(page: Page): Promise<string> {
  const text = await page
    .locator("#messagestack div")
    .allInnerTexts()
    .catch(() => [] as string[]);
  return text.join(" ").trim() || `page "${await page.title().catch(() => "?")}"`;
}

/** Roundcube's and PHP's own words on a failed IMAP or SMTP connection, from PHP's output. */
export function connectionErrors(log: string): string[] {
  const lines = log.split("\n");
  const warning = lines.find((l) => /PHP Warning: +stream_socket_client\(\)/.test(l));
  const error = lines.filter((l) => /(IMAP|SMTP) Error:/.test(l)).pop();
  return [warning, error]
    .filter((l): l is string => l !== undefined)
    .map((l) => l.replace(/^\[[^\]]+\] /, "").replace(/ in \/usr\/share\/roundcube\/.*$/, ""));
}

/** Whether the tools this scenario runs exist: Debian's roundcube-core and chromium, unshare. */
export function webmailToolsMissing(): string[] {
  const missing: string[] = [];
  if (!fs.existsSync(path.join(ROUNDCUBE_PUBLIC, "index.php"))) missing.push("roundcube-core");
  if (spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" }).status !== 0)
    missing.push("chromium");
  return missing;
}
