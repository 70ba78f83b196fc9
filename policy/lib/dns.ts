/** Cloudflare DNS records (@pulumi/cloudflare 6.x) normalised for the email-auth policies. */
import { at, str, toPlain, Unknown, type Plain, type PreviewGaps } from "./plain";
import type { StackResource } from "./stack";

/** DnsRecord and its deprecated alias Record take the same args. */
export const DNS_RECORD_TYPES = [
  "cloudflare:index/dnsRecord:DnsRecord",
  "cloudflare:index/record:Record",
] as const;

export function isDnsRecord(type: string): boolean {
  return (DNS_RECORD_TYPES as readonly string[]).includes(type);
}

/** FQDN of a record name relative to `zone`: "@", relative, FQDN and trailing-dot forms. */
export function fqdn(name: string, zone: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  const z = zone.toLowerCase().replace(/\.$/, "");
  if (n === "" || n === "@" || n === z) return z;
  return n.endsWith(`.${z}`) ? n : `${n}.${z}`;
}

/**
 * TXT content as one string. Cloudflare accepts either bare text or one or more quoted
 * character-strings ("..." "..."), which DNS concatenates without separator; 2048-bit DKIM keys
 * need the split form because one string holds at most 255 bytes.
 */
export function joinTxt(content: string): string {
  const trimmed = content.trim();
  if (!trimmed.startsWith('"')) return trimmed;
  const parts: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let rest = trimmed;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    parts.push((m[1] ?? "").replace(/\\(.)/g, "$1"));
    rest = rest.replace(m[0], "");
  }
  // Text outside quotes means it was not a list of quoted strings after all.
  return rest.trim() === "" ? parts.join("") : trimmed;
}

export interface DnsRecordView {
  /** Pulumi resource name and URN, for messages. */
  resource: string;
  urn: string;
  type: string | Unknown;
  fqdn: string | Unknown;
  /** Joined TXT text, or raw content for other types. */
  content: string | Unknown | undefined;
  proxied: boolean | Unknown | undefined;
  /** An SRV record's target host: `data.target`, else the last field of `content`. */
  srvTarget?: string | Unknown;
}

/**
 * Cloudflare takes an SRV record as `data` (priority, weight, port, target) or as `content`
 * ("weight port target"); the target is the host a client connects to (RFC 2782).
 */
function srvTargetOf(props: Plain): string | Unknown | undefined {
  const target = asString(at(props, "data", "target"));
  if (target !== undefined) return target;
  const content = asString(at(props, "content"));
  return typeof content === "string" ? content.trim().split(/\s+/).pop() : content;
}

function asString(v: Plain | undefined): string | Unknown | undefined {
  return v instanceof Unknown ? v : str(v);
}

export function viewRecord(
  resource: string,
  urn: string,
  props: Plain,
  zone: string,
): DnsRecordView {
  const type = asString(at(props, "type"));
  const name = asString(at(props, "name"));
  const content = asString(at(props, "content"));
  const proxied = at(props, "proxied");
  const upper = typeof type === "string" ? type.toUpperCase() : type;
  return {
    resource,
    urn,
    type: upper ?? "",
    fqdn: typeof name === "string" ? fqdn(name, zone) : (name ?? zone),
    content: upper === "TXT" && typeof content === "string" ? joinTxt(content) : content,
    proxied: proxied instanceof Unknown || typeof proxied === "boolean" ? proxied : undefined,
    ...(upper === "SRV" ? { srvTarget: srvTargetOf(props) } : {}),
  };
}

/** Tag-list records (DMARC, MTA-STS, TLS-RPT, DKIM): "k=v; k=v". Keys keep their order. */
export function parseTags(text: string): { tags: [string, string][]; errors: string[] } {
  const tags: [string, string][] = [];
  const errors: string[] = [];
  for (const part of text.split(";")) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) {
      errors.push(`"${item}" is not a tag=value pair`);
      continue;
    }
    tags.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
  }
  const seen = new Set<string>();
  for (const [k] of tags) {
    if (seen.has(k)) errors.push(`tag ${k} appears twice`);
    seen.add(k);
  }
  return { tags, errors };
}

/** The record being validated, or undefined when the resource is not a Cloudflare record. */
export function recordOf(
  type: string,
  name: string,
  urn: string,
  props: unknown,
  zone: string,
): DnsRecordView | undefined {
  return isDnsRecord(type) ? viewRecord(name, urn, toPlain(props), zone) : undefined;
}

export function stackRecords(resources: readonly StackResource[], zone: string): DnsRecordView[] {
  return resources
    .filter((r) => isDnsRecord(r.type))
    .map((r) => viewRecord(r.name, r.urn, r.props, zone));
}

export type NameMatch = (fqdn: string) => boolean;

/**
 * The TXT text of `r` when it is a TXT at a matching name whose text starts with `prefix`;
 * an `Unknown` when unknown values leave that open (preview); otherwise undefined.
 */
export function txtAt(
  r: DnsRecordView,
  name: NameMatch,
  prefix: RegExp,
): string | Unknown | undefined {
  if (r.type instanceof Unknown) return r.type;
  if (r.type !== "TXT") return undefined;
  if (r.fqdn instanceof Unknown) return r.fqdn;
  if (!name(r.fqdn)) return undefined;
  if (r.content instanceof Unknown) return r.content;
  const text = r.content ?? "";
  return prefix.test(text) ? text : undefined;
}

/**
 * Exactly one record of a kind per name: SPF, DMARC, MTA-STS and TLS-RPT all make duplicates a
 * failure, and a missing one silently turns the mechanism off.
 */
export function checkSingleRecord(
  records: DnsRecordView[],
  name: NameMatch,
  prefix: RegExp,
  what: string,
  report: (message: string) => void,
  gaps: PreviewGaps,
): void {
  const found = records.map((r) => ({ r, text: txtAt(r, name, prefix) }));
  const matching = found.filter((f) => typeof f.text === "string").map((f) => f.r.resource);
  const undecided = found.find((f) => f.text instanceof Unknown);
  if (matching.length > 1) {
    report(
      `${matching.length} ${what} records (${matching.join(", ")}): receivers treat more than one as an error; merge them into one.`,
    );
  } else if (undecided && undecided.text instanceof Unknown) {
    gaps.note(undecided.text, `record ${undecided.r.resource}`);
  } else if (matching.length === 0) {
    // The stack owns the zone's mail records: none at all is the record missing, not nothing to judge.
    const among =
      records.length > 0
        ? "among this stack's DNS records"
        : "(the stack publishes no DNS record at all)";
    report(`no ${what} record ${among}; add one.`);
  }
}
