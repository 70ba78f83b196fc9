/**
 * Scenario "5 Roundcube in Chromium": the real Roundcube (Debian bookworm's roundcube-core 1.6.5,
 * /usr/share/roundcube, served by PHP's built-in server: ./webmail/server.ts) with the
 * configuration the program renders for the webmail Deployment (./webmail/config.ts), driven by
 * headless Chromium (./webmail/browser.ts): log in with a placeholder mailbox, open the inbox, send
 * a message through the compose form over submission to the same mailbox, and see it arrive in
 * the inbox list.
 *
 * The configuration is what the roundcube/roundcubemail image's entrypoint writes from the
 * Deployment's env, with two substitutions the evidence names: SQLite (the entrypoint's own
 * fallback) in place of MySQL, and no Composer plugins (they need Packagist). The ConfigMap's
 * tls-peer.inc.php sits where the Deployment mounts it, /var/roundcube/config/, and is included
 * as the entrypoint includes it. PHP sees the planned mail Service's names and /var/roundcube in
 * a mount namespace of its own; nothing on the host changes.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, BrowserServer, Page } from "playwright-core";
import type { ProgramRun } from "../offline/mock-program";
import { poll, queueLines } from "./mail-in";
import { planned } from "./mounts";
import type { MailPod } from "./pod";
import type { RehearsalContext, Scenario } from "./scenario";
import {
  connect,
  inboxShows,
  launchChromium,
  logIn,
  newPage,
  roundcubeMessage,
  send,
} from "./webmail/browser";
import { DEPLOYMENT, layOut, NS, siteEvidence } from "./webmail/config";
import { Roundcube } from "./webmail/server";

export { CHROMIUM } from "./webmail/browser";
export { ROUNDCUBE_PUBLIC } from "./webmail/server";

const NAME = "5 Roundcube in Chromium";
const DIR = "webmail";
/** Not under /tmp: the PHP process gets a private /tmp. */
const WORK_PREFIX = "/var/tmp/rehearse-webmail-";

/** The scenario's evidence and files, the placeholder passwords scrubbed from both. */
class Notes {
  readonly evidence: string[] = [];
  readonly files: string[] = [];

  constructor(
    private readonly out: string,
    private readonly secrets: string[],
  ) {
    fs.mkdirSync(out, { recursive: true });
  }

  private scrub(s: string): string {
    return this.secrets.reduce((t, p) => t.split(p).join("<password>"), s);
  }

  say(line: string): void {
    this.evidence.push(this.scrub(line));
  }

  save(name: string, text: string): void {
    fs.writeFileSync(this.file(name), this.scrub(text));
  }

  /** The report path of `name`, listed among the files. */
  file(name: string): string {
    this.files.push(path.posix.join(DIR, name));
    return path.join(this.out, name);
  }
}

/** The webmail's public host (the planned Ingress rule), which Chromium browses. */
function webmailHost(run: ProgramRun): string {
  const ing = planned(run, "kubernetes:networking.k8s.io/v1:Ingress", NS, DEPLOYMENT);
  const rules = (ing.inputs.spec as { rules?: { host?: string }[] } | undefined)?.rules;
  return rules?.[0]?.host ?? "localhost";
}

/** What one browser session against the running Roundcube needs. */
interface Visit {
  ctx: RehearsalContext;
  pod: MailPod;
  passwords: Record<string, string>;
  php: Roundcube;
  browser: Browser;
  base: string;
  notes: Notes;
}

/** Roundcube's and PHP's own words on the IMAP or SMTP connection that failed. */
function sayRefusals(v: Visit): void {
  for (const l of v.php.connectionErrors()) v.notes.say(`Roundcube: ${l}`);
}

/** `user` logged in on a fresh page, or undefined once the refusal is in the evidence. */
async function loggedIn(v: Visit, user: string): Promise<Page | undefined> {
  const page = await newPage(v.browser);
  if (await logIn(page, v.base, user, v.passwords[user])) return page;
  v.notes.say(`login as ${user} failed: ${await roundcubeMessage(page)}`);
  sayRefusals(v);
  return undefined;
}

/** Sends `subject` to `to` through the compose form; the queue id Roundcube's SMTP log names. */
async function sent(v: Visit, page: Page, to: string, subject: string) {
  const left = await send(page, v.base, to, subject);
  const queued = await poll(
    () => /queued as ([0-9A-Za-z]+)/.exec(v.php.log())?.[1],
    10_000,
    v.ctx.signal,
  );
  if (left && queued) return queued;
  v.notes.say(`send: ${left ? "" : "compose form still open; "}${await roundcubeMessage(page)}`);
  sayRefusals(v);
  return undefined;
}

/** The queue id's submission and LMTP delivery lines in the pod's mail.log. */
async function delivery(v: Visit, queued: string) {
  const submitted = queueLines(v.pod, queued).find((l) => /client=/.test(l));
  const smtpLog = v.php
    .log()
    .split("\n")
    .find((l) => l.includes(`queued as ${queued}`));
  v.notes.say(`send: Roundcube's smtp log: ${smtpLog?.trim() ?? ""}`);
  v.notes.say(`submission: ${submitted?.trim() ?? `no client= line for ${queued} in mail.log`}`);
  const delivered = await poll(
    () => queueLines(v.pod, queued).find((l) => /status=sent/.test(l) && /lmtp/.test(l)),
    15_000,
    v.ctx.signal,
  );
  v.notes.say(
    `Postfix ${queued}: ${delivered?.replace(/^.*?: /, "") ?? "no LMTP delivery line in 15 s"}`,
  );
  return { submitted, delivered };
}

/** Log in, send to the same mailbox, see it in the inbox list; true when all of it held. */
async function session(v: Visit, mailbox: string, host: string): Promise<boolean> {
  let page = await loggedIn(v, mailbox);
  if (!page) return false;
  v.notes.say(
    `login as ${mailbox}: page "${await page.title()}" at ${host} (Roundcube's inbox list)`,
  );
  const subject = `rehearsal: webmail ${randomBytes(4).toString("hex")}`;
  const queued = await sent(v, page, mailbox, subject);
  if (!queued) return false;
  const { submitted, delivered } = await delivery(v, queued);

  // Arrival as the user sees it: the subject in the inbox list of the mailbox Postfix
  // delivered to (virtual aliases, a catch-all among them, may have rewritten the recipient).
  const finalTo = /\bto=<([^>]+)>/.exec(delivered ?? "")?.[1] ?? mailbox;
  if (finalTo !== mailbox) {
    v.notes.say(`virtual alias maps rewrote ${mailbox} to ${finalTo}: its inbox is checked`);
    if (v.passwords[finalTo] === undefined) {
      v.notes.say(`arrival: ${finalTo} is no mailbox of the placeholder accounts`);
      return false;
    }
    await page.context().close();
    page = await loggedIn(v, finalTo);
    if (!page) return false;
    v.notes.say(`login as ${finalTo}: page "${await page.title()}"`);
  }
  const arrived = await inboxShows(page, v.base, subject, v.ctx.signal);
  v.notes.say(
    arrived
      ? `arrival: "${subject}" in the inbox list ("${await page.title()}")`
      : `arrival: "${subject}" not in the inbox list within 15 s`,
  );
  await page.screenshot({ path: v.notes.file("inbox.png") });
  await v.browser.close();
  return Boolean(submitted && delivered && arrived);
}

/** Scenario 5 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function webmail(pod: MailPod, passwords: Record<string, string>): Scenario {
  return async (ctx: RehearsalContext) => {
    const notes = new Notes(path.join(ctx.out, DIR), Object.values(passwords).filter(Boolean));
    const mailbox =
      Object.keys(passwords).find((a) => a.startsWith("me@")) ?? Object.keys(passwords)[0];
    const work = fs.mkdtempSync(`${WORK_PREFIX}${process.pid}-`);
    let php: Roundcube | undefined;
    let chromium: BrowserServer | undefined;
    const kill = () => {
      php?.kill();
      const browser = chromium?.process();
      if (browser && browser.exitCode === null && browser.signalCode === null)
        browser.kill("SIGKILL");
    };
    ctx.signal.addEventListener("abort", kill, { once: true });
    let pass = false;
    try {
      if (!mailbox || passwords[mailbox] === undefined)
        throw new Error("no placeholder mailbox to log in with");
      const site = layOut(ctx.run, pod.caPem, work);
      notes.save("config.docker.inc.php", site.docker);
      for (const line of siteEvidence(site)) notes.say(line);
      php = await Roundcube.start(work, site.configDir);
      await php.listening(ctx.signal);
      // Chromium browses the planned webmail host, mapped to PHP's address.
      const host = webmailHost(ctx.run);
      chromium = await launchChromium(host);
      const browser = await connect(chromium);
      const base = `http://${host}:${php.port}/`;
      pass = await session({ ctx, pod, passwords, php, browser, base, notes }, mailbox, host);
    } catch (err) {
      notes.say(`error: ${(err as Error).message.split("\n")[0]}`);
    } finally {
      notes.save("roundcube.log", php?.log() ?? "");
      ctx.signal.removeEventListener("abort", kill);
      await chromium?.close().catch(() => undefined);
      kill();
      await php?.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
    return {
      name: NAME,
      verdict: pass ? "pass" : "fail",
      evidence: notes.evidence,
      files: notes.files,
    };
  };
}
