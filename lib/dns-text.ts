/**
 * Pure builders for the mail-authentication DNS record values (SPF, DKIM, DMARC, MTA-STS, TLS-RPT)
 * and for Cloudflare's TXT `content` format. No Pulumi here: everything is unit-testable.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { sha256Hex } from "./hash";

/** RFC 1035 §3.3: a TXT character-string carries at most 255 bytes. */
export const TXT_STRING_MAX_BYTES = 255;

/** RFC 8301: RSA keys under 1024 bits must not be used for DKIM. */
export const DKIM_MIN_RSA_BITS = 1024;

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
export const MTA_STS_MAX_AGE_LIMIT = 31557600;

/** RFC 7208 §4.6.4: at most 10 DNS-querying terms; only the top level is counted here. */
export const SPF_MAX_LOOKUPS = 10;

/** SPF final mechanisms this stack publishes: `+all` and `?all` let any host send as the domain. */
export const SPF_ALL = ["~all", "-all"] as const;

export const DMARC_POLICIES = ["none", "quarantine", "reject"] as const;

export const MTA_STS_MODES = ["enforce", "testing", "none"] as const;

/** DNS label rules (LDH, lower case) applied to each dot-separated part of a DKIM selector. */
export const DKIM_SELECTOR =
  /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Formats a TXT value as Cloudflare's API wants it: RFC 1035 quoted character-strings of at most
 * 255 bytes each, separated by one space. Cloudflare stores API content verbatim; unquoted or
 * unsplit long values are flagged in its dashboard and split on its side, which the provider then
 * reports as drift on every run.
 */
export function txtContent(value: string): string {
  if (value.length === 0) {
    throw new Error("TXT value is empty");
  }
  // Printable ASCII only: byte-exact splitting then never cuts a multi-byte character.
  if (!/^[\x20-\x7e]+$/.test(value)) {
    throw new Error("TXT value must be printable ASCII");
  }
  const strings: string[] = [];
  for (let start = 0; start < value.length; start += TXT_STRING_MAX_BYTES) {
    strings.push(value.slice(start, start + TXT_STRING_MAX_BYTES));
  }
  return strings.map((s) => `"${s.replace(/[\\"]/g, "\\$&")}"`).join(" ");
}

/** A hostname as DNS names it: LDH labels, at least two, no trailing dot, lower case. */
export function isHostname(value: string): boolean {
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  const labels = value.split(".");
  return value.length <= 253 && labels.length >= 2 && labels.every((l) => label.test(l));
}

/** The domain of a plain `local@domain` address, or undefined if it is not one. */
export function mailboxDomain(address: string): string | undefined {
  const match = /^[A-Za-z0-9._%+-]+@([^@\s]+)$/.exec(address);
  return match && isHostname(match[1]) ? match[1] : undefined;
}

/** True when `name` is `domain` itself or lies under it. */
export function isWithinDomain(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

export type SpfAll = (typeof SPF_ALL)[number];

export interface SpfArgs {
  /** Domains whose SPF records are authorised, each as `include:<domain>`. */
  includes: string[];
  /** Final mechanism: `-all` (fail) or `~all` (softfail). */
  all: SpfAll;
}

export function spfRecord({ includes, all }: SpfArgs): string {
  if (!(SPF_ALL as readonly string[]).includes(all)) {
    throw new Error(
      `spf.all "${all}": expected "-all" or "~all" ("+all" and "?all" let any host send as the domain)`,
    );
  }
  if (includes.length > SPF_MAX_LOOKUPS) {
    throw new Error(
      `spf.includes has ${includes.length} entries: RFC 7208 allows at most ${SPF_MAX_LOOKUPS} DNS lookups`,
    );
  }
  for (const domain of includes) {
    if (!isHostname(domain)) {
      throw new Error(`spf.includes "${domain}": expected a domain name such as spf.brevo.com`);
    }
  }
  return ["v=spf1", ...includes.map((d) => `include:${d}`), all].join(" ");
}

/**
 * Reads an RSA public key given as PEM, as base64 DER SubjectPublicKeyInfo, or as a DKIM record
 * value carrying it in `p=`. Errors never echo the input: it may come from a secret store.
 */
function parseRsaPublicKey(key: string): KeyObject {
  const text = key.trim();
  if (/PRIVATE KEY-----/.test(text)) {
    throw new Error("is a private key: pass only the public key");
  }
  if (text.startsWith("-----BEGIN")) {
    try {
      return createPublicKey(text);
    } catch {
      throw new Error("is PEM but not a readable public key");
    }
  }
  const tag = /(?:^|;)\s*p=([^;]*)/.exec(text);
  const base64 = (tag ? tag[1] : text).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    throw new Error("is neither PEM nor base64 DER nor a DKIM record with p=");
  }
  try {
    return createPublicKey({ key: Buffer.from(base64, "base64"), format: "der", type: "spki" });
  } catch {
    throw new Error("is base64 but not a DER SubjectPublicKeyInfo");
  }
}

/**
 * `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>`, the form OpenSSL and Rspamd publish and
 * verifiers expect. Refuses non-RSA keys and RSA keys under 1024 bits.
 */
export function dkimRecord(publicKey: string): string {
  const key = parseRsaPublicKey(publicKey);
  if (key.asymmetricKeyType !== "rsa") {
    throw new Error(`is a ${key.asymmetricKeyType} key: expected RSA (k=rsa)`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < DKIM_MIN_RSA_BITS) {
    throw new Error(`is a ${bits}-bit RSA key: RFC 8301 requires at least ${DKIM_MIN_RSA_BITS}`);
  }
  const der = key.export({ format: "der", type: "spki" });
  return `v=DKIM1; k=rsa; p=${der.toString("base64")}`;
}

export type DmarcPolicy = (typeof DMARC_POLICIES)[number];

export interface DmarcArgs {
  policy: DmarcPolicy;
  /** Percentage of failing mail the policy applies to, 0-100. */
  pct: number;
  /** Aggregate-report mailbox (plain address, no `mailto:`). */
  rua: string;
}

/**
 * `v=DMARC1; p=..; pct=..; rua=mailto:..`. A report mailbox outside `domain` only receives reports
 * once its owner publishes `<domain>._report._dmarc.<rua domain>` (RFC 7489 §7.1), a record this
 * stack cannot create: refuse it rather than publish a `rua` that receivers silently drop.
 */
export function dmarcRecord(domain: string, { policy, pct, rua }: DmarcArgs): string {
  if (!(DMARC_POLICIES as readonly string[]).includes(policy)) {
    throw new Error(`dmarc.policy "${policy}": expected none, quarantine or reject`);
  }
  if (!Number.isInteger(pct) || pct < 0 || pct > 100) {
    throw new Error(`dmarc.pct ${pct}: expected an integer from 0 to 100`);
  }
  const ruaDomain = mailboxDomain(rua);
  if (!ruaDomain) {
    throw new Error(`dmarc.rua "${rua}": expected a mail address such as dmarc@${domain}`);
  }
  if (!isWithinDomain(ruaDomain, domain)) {
    throw new Error(
      `dmarc.rua "${rua}" is outside ${domain}: receivers send reports there only if ` +
        `${ruaDomain} publishes TXT "v=DMARC1" at ${domain}._report._dmarc.${ruaDomain} ` +
        `(RFC 7489 §7.1); use an address in ${domain} or arrange that record first`,
    );
  }
  return `v=DMARC1; p=${policy}; pct=${pct}; rua=mailto:${rua}`;
}

export type MtaStsMode = (typeof MTA_STS_MODES)[number];

export interface MtaStsPolicyArgs {
  mode: MtaStsMode;
  /** MX host names the policy allows, in MX order. */
  mx: string[];
  /** Seconds senders may cache the policy, 1..31557600. */
  maxAgeSeconds: number;
}

/** The policy file served at `https://mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461 §3.2). */
export function mtaStsPolicy({ mode, mx, maxAgeSeconds }: MtaStsPolicyArgs): string {
  if (!(MTA_STS_MODES as readonly string[]).includes(mode)) {
    throw new Error(`mtaSts.mode "${mode}": expected enforce, testing or none`);
  }
  if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1) {
    throw new Error(`mtaSts.maxAgeSeconds ${maxAgeSeconds}: expected a positive integer`);
  }
  if (maxAgeSeconds > MTA_STS_MAX_AGE_LIMIT) {
    throw new Error(
      `mtaSts.maxAgeSeconds ${maxAgeSeconds}: RFC 8461 caps it at ${MTA_STS_MAX_AGE_LIMIT}`,
    );
  }
  if (mx.length === 0) {
    throw new Error("MTA-STS policy needs at least one mx host");
  }
  // CRLF: the line ending RFC 8461 §3.2 names; its grammar also accepts LF.
  const lines = ["version: STSv1", `mode: ${mode}`, ...mx.map((h) => `mx: ${h}`)];
  return [...lines, `max_age: ${maxAgeSeconds}`, ""].join("\r\n");
}

/**
 * The `id` of the `_mta-sts` record: the first 20 hex digits of the policy's SHA-256, so it changes
 * exactly when the policy text does (senders refetch the policy only when the id changes).
 */
export function mtaStsPolicyId(policy: string): string {
  return sha256Hex(policy).slice(0, 20);
}

export function mtaStsRecord(policyId: string): string {
  if (!/^[A-Za-z0-9]{1,32}$/.test(policyId)) {
    throw new Error(`MTA-STS id "${policyId}": expected 1-32 letters or digits`);
  }
  return `v=STSv1; id=${policyId}`;
}

/** `v=TLSRPTv1; rua=mailto:..` (RFC 8460 §3). */
export function tlsRptRecord(rua: string): string {
  if (!mailboxDomain(rua)) {
    throw new Error(`tlsRptRua "${rua}": expected a mail address such as postmaster@<domain>`);
  }
  return `v=TLSRPTv1; rua=mailto:${rua}`;
}

/**
 * `brevo-code:<code>`, Brevo's domain-verification TXT at the apex. The code is checked for shape
 * (letters and digits) so that a wrong secret-store field, such as an API key, is refused; the error
 * does not echo it.
 */
export function brevoVerificationRecord(code: string): string {
  if (!/^[A-Za-z0-9]{8,64}$/.test(code)) {
    throw new Error(
      "is not a Brevo verification code (8-64 letters or digits, no brevo-code: prefix)",
    );
  }
  return `brevo-code:${code}`;
}
