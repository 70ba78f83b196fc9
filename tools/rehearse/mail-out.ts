/**
 * Scenario "2 Mail out": a mailbox of the rendered accounts submits on 587 (STARTTLS verified
 * against the throwaway CA, SASL through Dovecot's auth socket); Rspamd signs with the planned
 * selector; Postfix relays to DEFAULT_RELAY_HOST, which the rehearsal's DNS points at a loopback
 * SMTP sink standing in for Brevo. The sink offers STARTTLS (the program leaves
 * smtp_tls_security_level = encrypt, checked in the pod's main.cf) and AUTH, and compares the
 * credentials Postfix sends with the rendered SASL file, printing neither. The received message's
 * DKIM signature is verified by mailauth against the planned `<selector>._domainkey` TXT record
 * only (ctx.run's records, so a wrong planned key fails the scenario).
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { authenticate } from "mailauth";
import * as nodemailer from "nodemailer";
import { SMTPServer } from "smtp-server";
import { plannedRecords, recordResolver } from "./dns";
import { poll, queueId, queueLines, saveLogs } from "./mail-in";
import {
  OUTSIDE_DOMAIN,
  OUTSIDE_NAME,
  POD_ADDRESS,
  RELAY_ADDRESS,
  relayHostPort,
  type MailPod,
} from "./pod";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";

const NAME = "2 Mail out";
const SASL_FILE = "/tmp/docker-mailserver/postfix-sasl-password.cf";
const DKIM_CONF = "/tmp/docker-mailserver/rspamd/override.d/dkim_signing.conf";

interface Sink {
  server: SMTPServer;
  messages: { raw: string; from: string }[];
  /** Each AUTH attempt: whether it matched the rendered credentials (never the values). */
  auths: boolean[];
  tls: boolean[];
}

/** The rendered relay credentials (`[host]:port user:pass`) for the relay host. */
function renderedCredentials(pod: MailPod): { user: string; pass: string } | undefined {
  const file = pod.files.find((f) => f.mountPath === SASL_FILE);
  const { host, port } = relayHostPort(pod.env);
  const line = file?.content.split("\n").find((l) => l.startsWith(`[${host}]:${port} `));
  const creds = line?.split(/\s+/)[1];
  if (!creds) return undefined;
  const at = creds.indexOf(":");
  return { user: creds.slice(0, at), pass: creds.slice(at + 1) };
}

async function startSink(
  pod: MailPod,
  expected: { user: string; pass: string } | undefined,
): Promise<Sink> {
  const sink: Sink = {
    server: undefined as unknown as SMTPServer,
    messages: [],
    auths: [],
    tls: [],
  };
  sink.server = new SMTPServer({
    key: pod.relayTls.key,
    cert: pod.relayTls.cert,
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    onAuth(auth, session, cb) {
      const ok = Boolean(
        expected && auth.username === expected.user && auth.password === expected.pass,
      );
      sink.auths.push(ok);
      sink.tls.push(Boolean(session.secure));
      if (ok) cb(null, { user: "relay" });
      else cb(new Error("535 5.7.8 credentials differ from the rendered file"));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        sink.messages.push({
          raw: Buffer.concat(chunks).toString("utf8"),
          from: String(session.envelope.mailFrom && session.envelope.mailFrom.address),
        });
        cb(null);
      });
    },
  });
  const { port } = relayHostPort(pod.env);
  await new Promise<void>((resolve, reject) => {
    sink.server.once("error", reject);
    sink.server.listen(port, RELAY_ADDRESS, () => resolve());
  });
  return sink;
}

/** A parameter of the pod's effective main.cf. */
function postconf(pod: MailPod, param: string): string {
  const r = spawnSync(
    "postconf",
    ["-c", pod.hostPath("/etc/postfix/main.cf").replace(/\/main\.cf$/, ""), "-h", param],
    { encoding: "utf8" },
  );
  return r.stdout.trim();
}

/** The selector the rendered dkim_signing.conf signs with. */
function plannedSelector(pod: MailPod): string | undefined {
  const conf = pod.files.find((f) => f.mountPath === DKIM_CONF)?.content ?? "";
  return /^\s*selector\s*=\s*"([^"]+)"/m.exec(conf)?.[1];
}

/** Scenario 2 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function mailOut(pod: MailPod, passwords: Record<string, string>): Scenario {
  return async (ctx: RehearsalContext) => {
    const evidence: string[] = [];
    const files: string[] = [];
    const fail = (line: string): ScenarioResult => ({
      name: NAME,
      verdict: "fail",
      evidence: [...evidence, line],
      files: [...files, ...saveLogs(pod, ctx.out, "2-mail-out")],
    });
    const level = postconf(pod, "smtp_tls_security_level");
    evidence.push(`main.cf smtp_tls_security_level = ${level}: the sink offers STARTTLS`);
    const expected = renderedCredentials(pod);
    if (!expected) return fail(`no credentials for ${pod.env.DEFAULT_RELAY_HOST} in ${SASL_FILE}`);
    const sender =
      Object.keys(passwords).find((a) => a.startsWith("me@")) ?? Object.keys(passwords)[0];
    const domain = sender.split("@")[1];
    const selector = plannedSelector(pod);
    const messageId = `<rehearsal-out-${randomBytes(6).toString("hex")}@${domain}>`;
    const sink = await startSink(pod, expected);
    try {
      const transport = nodemailer.createTransport({
        host: POD_ADDRESS,
        port: 587,
        secure: false,
        requireTLS: true,
        name: OUTSIDE_NAME,
        tls: { ca: pod.caPem, servername: pod.hostname },
        auth: { user: sender, pass: passwords[sender] },
      });
      const sent = await transport.sendMail({
        from: sender,
        to: `bob@${OUTSIDE_DOMAIN}`,
        subject: "rehearsal: mail out",
        text: "Submitted by the rehearsal's mail client.\n",
        messageId,
      });
      transport.close();
      const id = queueId(sent.response);
      evidence.push(
        `submission 587 as ${sender} (STARTTLS verified for ${pod.hostname}): ${sent.response}`,
      );
      const received = await poll(
        () => sink.messages.find((m) => m.raw.includes(messageId)),
        30_000,
        ctx.signal,
      );
      const relayLine = id
        ? queueLines(pod, id).find((l) => /relay=/.test(l) && /status=/.test(l))
        : undefined;
      evidence.push(`Postfix ${id ?? "?"}: ${relayLine?.replace(/^.*?: /, "") ?? "no relay line"}`);
      evidence.push(
        `relay stand-in ${RELAY_ADDRESS} (${pod.env.DEFAULT_RELAY_HOST}): AUTH over TLS ${sink.tls.every(Boolean) && sink.tls.length ? "yes" : "no"}, credentials equal the rendered file: ${sink.auths.length ? (sink.auths.every(Boolean) ? "yes" : "no") : "no AUTH seen"}`,
      );
      if (!received) return fail("the relay stand-in received nothing within 30 s");
      const auth = await authenticate(received.raw, {
        ip: POD_ADDRESS,
        helo: pod.hostname,
        sender,
        mta: "relay-stand-in",
        resolver: recordResolver(plannedRecords(ctx.run)) as never,
      });
      const sig = auth.dkim.results.find(
        (r) => r.signingDomain === domain && r.selector === selector,
      );
      evidence.push(
        `DKIM d=${domain} s=${selector ?? "?"} against the planned ${selector}._domainkey.${domain} TXT: ${sig ? `${sig.status.result}${sig.status.comment ? ` (${sig.status.comment})` : ""}` : "no such signature"}`,
      );
      files.push(...saveLogs(pod, ctx.out, "2-mail-out"));
      const ok = Boolean(
        sig?.status.result === "pass" &&
        sink.auths.length &&
        sink.auths.every(Boolean) &&
        sink.tls.every(Boolean),
      );
      return { name: NAME, verdict: ok ? "pass" : "fail", evidence, files };
    } catch (err) {
      return fail(`error: ${(err as Error).message.split("\n")[0]}`);
    } finally {
      await new Promise<void>((r) => sink.server.close(() => r()));
    }
  };
}
