/**
 * The DNS the pod and the checks see: the planned Cloudflare records of the zone, plus the few
 * names the rehearsal itself stands in for (the pod's host name, the relay, the outside sender),
 * answered by a small UDP server on the host side of the pod's link. Everything else is NXDOMAIN,
 * so no daemon waits on a timeout and nothing leaves this machine.
 */
import * as dgram from "node:dgram";
import type { ProgramRun } from "../offline/mock-program";

export interface DnsRecord {
  name: string;
  type: "A" | "AAAA" | "MX" | "TXT" | "CNAME";
  /** TXT: the text (quotes removed, strings joined); MX: the exchange. */
  content: string;
  priority?: number;
}

const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";

/** A Cloudflare TXT content (`"a" "b"`) as the text a resolver returns (strings joined). */
export function txtText(content: string): string {
  const parts = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  return parts.length ? parts.join("") : content;
}

/** The zone records the program plans (Cloudflare DnsRecord inputs). */
export function plannedRecords(run: ProgramRun): DnsRecord[] {
  return run.resources
    .filter((r) => r.type === DNS_RECORD)
    .map((r) => {
      const i = r.inputs as { name: string; type: DnsRecord["type"]; content: string };
      const priority = (r.inputs as { priority?: number }).priority;
      return {
        name: i.name.toLowerCase(),
        type: i.type,
        content: i.type === "TXT" ? txtText(i.content) : i.content,
        ...(priority !== undefined ? { priority } : {}),
      };
    });
}

const TYPES: Record<number, DnsRecord["type"]> = { 1: "A", 28: "AAAA", 15: "MX", 16: "TXT" };
const CODES = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, Number(k)]));

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter(Boolean);
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])),
    Buffer.from([0]),
  ]);
}

function rdata(r: DnsRecord): Buffer {
  switch (r.type) {
    case "A":
      return Buffer.from(r.content.split(".").map(Number));
    case "AAAA": {
      const full = r.content.includes("::")
        ? (() => {
            const [head, tail] = r.content.split("::");
            const h = head ? head.split(":") : [];
            const t = tail ? tail.split(":") : [];
            const zeros = new Array<string>(8 - h.length - t.length).fill("0");
            return [...h, ...zeros, ...t];
          })()
        : r.content.split(":");
      return Buffer.from(full.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]));
    }
    case "MX": {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(r.priority ?? 10);
      return Buffer.concat([pref, encodeName(r.content)]);
    }
    default: {
      // TXT: character-strings of at most 255 bytes each.
      const text = Buffer.from(r.content, "utf8");
      const chunks: Buffer[] = [];
      for (let i = 0; i < text.length || i === 0; i += 255) {
        const c = text.subarray(i, i + 255);
        chunks.push(Buffer.from([c.length]), c);
      }
      return Buffer.concat(chunks);
    }
  }
}

/** The question of a query: name, type and where the question section ends. */
function question(msg: Buffer): { name: string; type: number; end: number } {
  let at = 12;
  const labels: string[] = [];
  while (msg[at] !== 0 && at < msg.length) {
    labels.push(msg.subarray(at + 1, at + 1 + msg[at]).toString("ascii"));
    at += msg[at] + 1;
  }
  return { name: labels.join(".").toLowerCase(), type: msg.readUInt16BE(at + 1), end: at + 5 };
}

/** The answer to one query: records of that name and type; NXDOMAIN when the name is unknown. */
export function answer(msg: Buffer, records: DnsRecord[]): Buffer {
  const q = question(msg);
  const named = records.filter((r) => r.name === q.name);
  const hits = named.filter((r) => CODES[r.type] === q.type);
  const head = Buffer.alloc(12);
  msg.copy(head, 0, 0, 2);
  // QR, opcode 0, AA, RD copied; RA; RCODE 3 (NXDOMAIN) for a name nobody has.
  head.writeUInt16BE(0x8400 | (msg[2] & 1 ? 0x0100 : 0) | 0x80 | (named.length ? 0 : 3), 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(hits.length, 6);
  const answers = hits.map((r) => {
    const data = rdata(r);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(q.type, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(60, 4);
    fixed.writeUInt16BE(data.length, 8);
    return Buffer.concat([Buffer.from([0xc0, 0x0c]), fixed, data]);
  });
  return Buffer.concat([head, msg.subarray(12, q.end), ...answers]);
}

/** Serves `records` on `address`:53 (UDP) until closed. */
export async function serveDns(address: string, records: DnsRecord[]): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, peer) => {
    try {
      socket.send(answer(msg, records), peer.port, peer.address);
    } catch {
      // A malformed query gets no answer, as from a real server that drops it.
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(53, address, () => resolve());
  });
  return socket;
}

/** A mailauth-style resolver answering from `records` only (ENOTFOUND / ENODATA otherwise). */
export function recordResolver(records: DnsRecord[]) {
  return (name: string, type: string): Promise<unknown[]> => {
    const named = records.filter((r) => r.name === name.toLowerCase());
    const hits = named.filter((r) => r.type === type);
    if (!hits.length) {
      const err = new Error(`${name} ${type}: not in the planned records`) as Error & {
        code: string;
      };
      err.code = named.length ? "ENODATA" : "ENOTFOUND";
      return Promise.reject(err);
    }
    if (type === "TXT") return Promise.resolve(hits.map((r) => [r.content]));
    if (type === "MX") {
      return Promise.resolve(
        hits.map((r) => ({ exchange: r.content, priority: r.priority ?? 10 })),
      );
    }
    return Promise.resolve(hits.map((r) => r.content));
  };
}
