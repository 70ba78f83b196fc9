/**
 * The services outside the cluster the probe calls, on one loopback HTTP server: Mailgun's send
 * API (POST /v3/<domain>/messages, form fields, basic auth `api:<key>`:
 * https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages/post-v3--domain-name--messages)
 * handing the message to the pod's Postfix on 25 from the outside address, and Uptime Kuma's push
 * endpoint (GET /api/push/<token>?status=&msg=&ping=, answered {"ok":true}: louislam/uptime-kuma
 * server/routers/api-router.js, `router.all("/api/push/:pushToken")`).
 */
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as nodemailer from "nodemailer";
import { queueId, queueLines } from "../mail-in";
import { OUTSIDE_ADDRESS, OUTSIDE_NAME, POD_ADDRESS, type MailPod } from "../pod";

/** One request to the Mailgun stand-in and what the pod's Postfix made of it. */
export interface MailgunCall {
  path: string;
  authOk: boolean;
  smtp: string;
  delivered?: string;
  status: number;
}

export interface StandIns {
  server: http.Server;
  origin: string;
  mailgun: MailgunCall[];
  kuma: string[];
}

type Reply = (status: number, body: unknown) => void;

/** Mailgun's handler: its answer once the message is handed over, or its refusal of the key. */
function mailgunHandler(s: StandIns, pod: MailPod, apiKey: string) {
  return (req: http.IncomingMessage, url: URL, body: Buffer, reply: Reply) => {
    const m = /^\/v3\/([^/]+)\/messages$/.exec(url.pathname);
    if (req.method !== "POST" || !m) return reply(404, { message: "not found" });
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const authOk = Buffer.from(auth ?? "", "base64").toString() === `api:${apiKey}`;
    const entry: MailgunCall = { path: url.pathname, authOk, smtp: "", status: 401 };
    s.mailgun.push(entry);
    if (!authOk) return reply(401, { message: "Invalid private key" });
    void handOver(pod, m[1], new URLSearchParams(body.toString()), entry).then(() =>
      entry.status === 200
        ? reply(200, { id: entry.delivered, message: "Queued. Thank you." })
        : reply(entry.status, { message: entry.smtp }),
    );
  };
}

/** Both stand-ins on a free loopback port; `kumaPath` is the rendered push URL's path. */
export async function startStandIns(pod: MailPod, apiKey: string, kumaPath: string | undefined) {
  const s: StandIns = { server: http.createServer(), origin: "", mailgun: [], kuma: [] };
  const mailgun = mailgunHandler(s, pod, apiKey);
  s.server.on("request", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stand-in");
      const reply: Reply = (status, body) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (kumaPath && req.method === "GET" && url.pathname === kumaPath) {
        s.kuma.push(`status=${url.searchParams.get("status")} msg=${url.searchParams.get("msg")}`);
        return reply(200, { ok: true });
      }
      mailgun(req, url, Buffer.concat(chunks), reply);
    });
  });
  await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
  s.origin = `http://127.0.0.1:${(s.server.address() as { port: number }).port}`;
  return s;
}

export async function stopStandIns(s: StandIns | undefined): Promise<void> {
  if (!s) return;
  s.server.closeAllConnections();
  await new Promise<void>((r) => s.server.close(() => r()));
}

/**
 * The message to the pod's Postfix on 25, then the answer held until Dovecot's LMTP stored it
 * (so the probe's first IMAP pass finds it, not one 15 s later).
 */
async function handOver(pod: MailPod, domain: string, form: URLSearchParams, entry: MailgunCall) {
  const messageId = `<${Date.now()}.${randomBytes(6).toString("hex")}@${domain}>`;
  try {
    const transport = nodemailer.createTransport({
      host: POD_ADDRESS,
      port: 25,
      secure: false,
      name: OUTSIDE_NAME,
      localAddress: OUTSIDE_ADDRESS,
      tls: { ca: pod.caPem, servername: pod.hostname },
      connectionTimeout: 15_000,
    });
    const sent = await transport.sendMail({
      from: form.get("from") ?? "",
      to: form.get("to") ?? "",
      subject: form.get("subject") ?? "",
      text: form.get("text") ?? "",
      messageId,
    });
    transport.close();
    entry.smtp = `${sent.response}`;
    const id = queueId(sent.response);
    const line = id ? await lmtpDelivery(pod, id) : undefined;
    entry.delivered = line ? messageId : undefined;
    entry.smtp += line
      ? `; Postfix ${id}: ${line.replace(/^.*?: /, "")}`
      : "; no LMTP delivery within 15 s";
    entry.status = 200;
  } catch (err) {
    entry.smtp = `SMTP refused: ${(err as Error).message.split("\n")[0]}`;
    entry.status = 502;
  }
}

/** The mail.log line of the queue id's LMTP delivery, within 15 s. */
async function lmtpDelivery(pod: MailPod, id: string): Promise<string | undefined> {
  const until = Date.now() + 15_000;
  let line: string | undefined;
  while (!line && Date.now() < until) {
    line = queueLines(pod, id).find((l) => /status=sent/.test(l) && /lmtp/.test(l));
    if (!line) await new Promise((r) => setTimeout(r, 100));
  }
  return line;
}
