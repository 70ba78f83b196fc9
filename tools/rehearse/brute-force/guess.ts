/**
 * The clients of scenario 4, raw over net/tls so each one's source address can be chosen and the
 * moment it sends its credentials held: SMTP AUTH PLAIN on the pod's submission port 587 after
 * STARTTLS, and IMAP LOGIN on 993 (implicit TLS); both verify the pod's certificate against the
 * throwaway CA for the host name the program configures. Only the pod's address is ever dialled.
 *
 * The attacker's sessions all connect first and send their guesses together: Dovecot answers a
 * failed login after auth_failure_delay (the rendered dovecot.cf sets 5 s) and holds each further
 * request from an address with failures on record (its auth penalty: 2, 4, 8, then 15 s), so
 * guesses one after another would take about a minute; sent together they are answered within
 * about 10 s (some still draw a short penalty). Each wrong password is random and never written
 * anywhere; no password appears in a reply or an error.
 */
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { POD_ADDRESS, type MailPod } from "../pod";

export interface Client {
  /** The source address (on the host end of the pod's veth). */
  address: string;
  /** Its name, resolvable both ways for the pod. */
  name: string;
}

export interface Session {
  client: Client;
  proto: "SMTP AUTH PLAIN on 587 after STARTTLS" | "IMAP LOGIN on 993";
  accepted: boolean;
  /** The server's answer to the credentials (its code and text, no credentials). */
  reply: string;
}

/** Every session ends within this, whatever the server does. */
const SESSION_MS = 25_000;

/** A socket's incoming text, read up to each expected reply. */
class Wire {
  private buf = "";
  private wake: (() => void) | undefined;
  private failed: Error | undefined;
  private socket: net.Socket;

  constructor(socket: net.Socket, signal: AbortSignal) {
    this.socket = socket;
    this.listen(socket);
    const timer = setTimeout(() => this.close(new Error("session timed out")), SESSION_MS);
    const onAbort = () => this.close(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("close", () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  }

  private listen(socket: net.Socket) {
    socket.on("data", (c: Buffer) => {
      this.buf += c.toString("utf8");
      this.wake?.();
    });
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  private fail(err: Error) {
    this.failed ??= err;
    this.wake?.();
  }

  /** The text up to and including the first match of `re`. */
  async until(re: RegExp): Promise<string> {
    for (;;) {
      const m = re.exec(this.buf);
      if (m) {
        const end = m.index + m[0].length;
        const text = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        return text;
      }
      if (this.failed) throw this.failed;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }

  send(line: string) {
    this.socket.write(`${line}\r\n`);
  }

  /** STARTTLS: the same TCP connection continues under TLS. */
  async upgrade(pod: MailPod) {
    const plain = this.socket;
    plain.removeAllListeners("data");
    const secure = tls.connect({ socket: plain, servername: pod.hostname, ca: pod.caPem });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  close(err?: Error) {
    if (err) this.fail(err);
    this.socket.destroy();
  }
}

/** The last line of an SMTP reply (`250-…` lines before it dropped). */
const SMTP_REPLY = /^\d{3} [^\r\n]*\r\n/m;
const lastLine = (text: string) => text.trimEnd().split("\r\n").pop() ?? "";

/** Opens every session, then lets them all send their credentials at once. */
class Gate {
  private arrived = 0;
  private open!: () => void;
  private readonly opened = new Promise<void>((r) => (this.open = r));
  constructor(private readonly parties: number) {
    if (parties === 0) this.open();
  }
  /** A session is ready to send (or has given up): it waits for the others. */
  arrive(): Promise<void> {
    if (++this.arrived >= this.parties) this.open();
    return this.opened;
  }
}

async function smtpAuth(
  pod: MailPod,
  from: Client,
  user: string,
  pass: string,
  ready: () => Promise<void>,
  signal: AbortSignal,
): Promise<{ accepted: boolean; reply: string }> {
  const w = new Wire(
    net.connect({ host: POD_ADDRESS, port: 587, localAddress: from.address }),
    signal,
  );
  try {
    await w.until(SMTP_REPLY);
    w.send(`EHLO ${from.name}`);
    await w.until(SMTP_REPLY);
    w.send("STARTTLS");
    const starttls = lastLine(await w.until(SMTP_REPLY));
    if (!starttls.startsWith("220")) throw new Error(`STARTTLS refused: ${starttls}`);
    await w.upgrade(pod);
    w.send(`EHLO ${from.name}`);
    await w.until(SMTP_REPLY);
    await ready();
    w.send(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`, "utf8").toString("base64")}`);
    const reply = lastLine(await w.until(SMTP_REPLY));
    w.send("QUIT");
    await w.until(SMTP_REPLY).catch(() => "");
    return { accepted: reply.startsWith("235"), reply: reply.replace(/^(\d{3} \S+).*$/, "$1") };
  } finally {
    w.close();
  }
}

/** An IMAP quoted string (RFC 3501 §4.3). */
const quoted = (s: string) => `"${s.replace(/[\\"]/g, "\\$&")}"`;

async function imapLogin(
  pod: MailPod,
  from: Client,
  user: string,
  pass: string,
  ready: () => Promise<void>,
  signal: AbortSignal,
): Promise<{ accepted: boolean; reply: string }> {
  const socket = tls.connect({
    socket: net.connect({ host: POD_ADDRESS, port: 993, localAddress: from.address }),
    servername: pod.hostname,
    ca: pod.caPem,
  });
  const w = new Wire(socket, signal);
  try {
    await w.until(/^\* OK[^\r\n]*\r\n/m);
    await ready();
    w.send(`a1 LOGIN ${quoted(user)} ${quoted(pass)}`);
    const reply = lastLine(await w.until(/^a1 (OK|NO|BAD)[^\r\n]*\r\n/m));
    w.send("a2 LOGOUT");
    await w.until(/^a2 [^\r\n]*\r\n/m).catch(() => "");
    // The status and its response code only (an OK's code lists every capability).
    const text = /^a1 (OK|NO|BAD)( \[[A-Z-]+)?/.exec(reply)?.slice(1).join("") ?? reply;
    const code = text.includes("[") ? `${text}]` : text;
    return { accepted: reply.startsWith("a1 OK"), reply: code };
  } finally {
    w.close();
  }
}

export interface GuessPlan {
  attacker: Client;
  benign: Client;
  /** The mailbox both clients log in as. */
  mailbox: string;
  passwords: Record<string, string>;
  smtpGuesses: number;
  imapGuesses: number;
}

/**
 * The attacker's wrong guesses (all sent at once) and, alongside, the benign client's one right
 * login per protocol. Resolves when every session has ended.
 */
export async function guess(pod: MailPod, plan: GuessPlan, signal: AbortSignal) {
  const { attacker, benign, mailbox } = plan;
  const right = plan.passwords[mailbox];
  if (right === undefined) throw new Error(`${mailbox} has no placeholder password`);
  const wrong = () => `guess-${randomBytes(9).toString("base64url")}`;
  const gate = new Gate(plan.smtpGuesses + plan.imapGuesses);
  const session = async (
    client: Client,
    proto: Session["proto"],
    run: typeof smtpAuth,
    pass: string,
    gated: boolean,
  ): Promise<Session> => {
    let arrived = !gated;
    const ready = () => ((arrived = true), gated ? gate.arrive() : Promise.resolve());
    try {
      return { client, proto, ...(await run(pod, client, mailbox, pass, ready, signal)) };
    } catch (err) {
      return { client, proto, accepted: false, reply: `error: ${(err as Error).message}` };
    } finally {
      if (!arrived) void gate.arrive();
    }
  };
  const smtp = "SMTP AUTH PLAIN on 587 after STARTTLS" as const;
  const imap = "IMAP LOGIN on 993" as const;
  return Promise.all([
    ...Array.from({ length: plan.smtpGuesses }, () =>
      session(attacker, smtp, smtpAuth, wrong(), true),
    ),
    ...Array.from({ length: plan.imapGuesses }, () =>
      session(attacker, imap, imapLogin, wrong(), true),
    ),
    session(benign, smtp, smtpAuth, right, false),
    session(benign, imap, imapLogin, right, false),
  ]);
}
