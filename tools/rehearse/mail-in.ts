/**
 * Scenario "1 Mail in": an outside MTA (nodemailer, from the outside address, EHLO with the name
 * the pod's /etc/hosts gives it) delivers to the real Postfix on port 25 (postscreen, then smtpd,
 * STARTTLS verified against the throwaway CA); Rspamd scans it through the milter; Dovecot's LMTP
 * stores it; IMAPS (imapflow) finds it by Message-ID, verifying the server's certificate for the
 * host name the program configures.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ImapFlow } from "imapflow";
import * as nodemailer from "nodemailer";
import { OUTSIDE_DOMAIN, OUTSIDE_NAME, POD_ADDRESS, type MailPod } from "./pod";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";

const NAME = "1 Mail in";

/** Waits until `find` returns a value (polling every 200 ms), or undefined after `ms`. */
export async function poll<T>(find: () => T | undefined, ms: number, signal: AbortSignal) {
  const until = Date.now() + ms;
  while (Date.now() < until && !signal.aborted) {
    const hit = find();
    if (hit !== undefined) return hit;
    await new Promise((r) => setTimeout(r, 200));
  }
  return find();
}

/** The queue id in Postfix's `250 2.0.0 Ok: queued as XXXX` answer. */
export function queueId(response: string): string | undefined {
  return /queued as ([0-9A-Za-z]+)/.exec(response)?.[1];
}

/** The mail.log lines of one queue id. */
export function queueLines(pod: MailPod, id: string): string[] {
  return pod
    .read("/var/log/mail/mail.log")
    .split("\n")
    .filter((l) => l.includes(`${id}:`));
}

/** Writes the pod's logs (and the CRI copy) under the scenario's folder; returns their names. */
export function saveLogs(pod: MailPod, out: string, dir: string): string[] {
  fs.mkdirSync(path.join(out, dir), { recursive: true });
  const files: string[] = [];
  for (const [name, text] of [
    ["mail.log", pod.read("/var/log/mail/mail.log")],
    ["rspamd.log", pod.read("/var/log/mail/rspamd.log")],
  ] as const) {
    fs.writeFileSync(path.join(out, dir, name), text);
    files.push(path.posix.join(dir, name));
  }
  return files;
}

function result(verdict: "pass" | "fail", evidence: string[], files: string[]): ScenarioResult {
  return { name: NAME, verdict, evidence, files };
}

/** Scenario 1 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function mailIn(pod: MailPod, passwords: Record<string, string>): Scenario {
  return async (ctx: RehearsalContext) => {
    const evidence: string[] = [];
    const files: string[] = [];
    const mailbox =
      Object.keys(passwords).find((a) => a.startsWith("me@")) ?? Object.keys(passwords)[0];
    const messageId = `<rehearsal-in-${randomBytes(6).toString("hex")}@${OUTSIDE_DOMAIN}>`;
    try {
      const transport = nodemailer.createTransport({
        host: POD_ADDRESS,
        port: 25,
        secure: false,
        name: OUTSIDE_NAME,
        tls: { ca: pod.caPem, servername: pod.hostname },
        connectionTimeout: 30_000,
        greetingTimeout: 30_000,
      });
      const sent = await transport.sendMail({
        from: `alice@${OUTSIDE_DOMAIN}`,
        to: mailbox,
        subject: "rehearsal: mail in",
        text: "Delivered by the rehearsal's outside MTA.\n",
        messageId,
      });
      transport.close();
      const id = queueId(sent.response);
      evidence.push(`SMTP 25 from ${OUTSIDE_NAME}: ${sent.response}`);
      if (!id) return result("fail", evidence, saveLogs(pod, ctx.out, "1-mail-in"));
      const delivered = await poll(
        () => queueLines(pod, id).find((l) => /status=sent/.test(l) && /lmtp/.test(l)),
        30_000,
        ctx.signal,
      );
      evidence.push(
        `Postfix ${id}: ${delivered?.replace(/^.*?: /, "") ?? "no delivery line within 30 s"}`,
      );
      // The mailbox Postfix delivered to (`to=`): virtual aliases (a catch-all among them) may
      // have rewritten the recipient, and the evidence says so.
      const finalTo = /\bto=<([^>]+)>/.exec(delivered ?? "")?.[1] ?? mailbox;
      if (finalTo !== mailbox) evidence.push(`virtual alias maps rewrote ${mailbox} to ${finalTo}`);
      const pass = passwords[finalTo];
      if (pass === undefined) {
        evidence.push(`IMAPS: ${finalTo} is no mailbox of the placeholder accounts`);
        return result("fail", evidence, saveLogs(pod, ctx.out, "1-mail-in"));
      }
      const stored = await fetchByMessageId(pod, finalTo, pass, messageId);
      const verdictLine = rspamdVerdict(pod, id) ?? stored?.spamdResult;
      evidence.push(
        `Rspamd: ${verdictLine ?? "no verdict (no log line, no X-Spamd-Result header)"}`,
      );
      evidence.push(
        stored
          ? `IMAPS 993 (certificate verified for ${pod.hostname}): ${finalTo} INBOX has Message-ID ${stored.messageId}`
          : `IMAPS 993: ${messageId} not found in ${finalTo} INBOX`,
      );
      files.push(...saveLogs(pod, ctx.out, "1-mail-in"));
      const ok = Boolean(delivered && stored && verdictLine);
      return result(ok ? "pass" : "fail", evidence, files);
    } catch (err) {
      evidence.push(`error: ${(err as Error).message.split("\n")[0]}`);
      return result("fail", evidence, [...files, ...saveLogs(pod, ctx.out, "1-mail-in")]);
    }
  };
}

/** Rspamd's own line about the queue id, when its log level writes one. */
function rspamdVerdict(pod: MailPod, id: string): string | undefined {
  return pod
    .read("/var/log/mail/rspamd.log")
    .split("\n")
    .find((l) => l.includes(id) && /\(default: [TF]/.test(l))
    ?.replace(/^.*?(\(default: )/, "$1");
}

/** Logs in over IMAPS and searches INBOX for the Message-ID; the stored headers when found. */
async function fetchByMessageId(pod: MailPod, user: string, pass: string, messageId: string) {
  const client = new ImapFlow({
    host: POD_ADDRESS,
    port: 993,
    secure: true,
    tls: { ca: pod.caPem, servername: pod.hostname, rejectUnauthorized: true },
    auth: { user, pass },
    logger: false,
  });
  await client.connect();
  try {
    const lock = await client.getMailboxLock("INBOX");
    try {
      const uids = await client.search({ header: { "message-id": messageId } }, { uid: true });
      const uid = Array.isArray(uids) ? uids[0] : undefined;
      if (uid === undefined) return undefined;
      const msg = await client.fetchOne(
        String(uid),
        { source: true, envelope: true },
        { uid: true },
      );
      if (!msg || !msg.source) return undefined;
      const source = msg.source.toString("utf8");
      const spamd = /^X-Spamd-Result: (.*(?:\n[ \t].*)*)/im.exec(source)?.[1].replace(/\s+/g, " ");
      return {
        messageId: msg.envelope?.messageId ?? "",
        spamdResult: spamd ? `X-Spamd-Result: ${spamd.slice(0, 200)}` : undefined,
      };
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => undefined);
  }
}
