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

/** A TXT value as Cloudflare may hold it (`"a" "b"` or bare) made one plain string. */
export function unquoteTxt(content: string): string {
  const strings = content.match(/"((?:[^"\\]|\\.)*)"/g);
  if (!strings || !content.trim().startsWith('"')) return content.trim();
  return strings.map((s) => s.slice(1, -1).replace(/\\(.)/g, "$1")).join("");
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

export const DMARC_ALIGNMENTS = ["r", "s"] as const;

/** RFC 7489 §6.3 `fo`: `0`, `1`, `d`, `s`, colon-separated. */
export const DMARC_FAILURE_OPTIONS = /^[01ds](:[01ds])*$/;

/** A report destination outside the domain, with what shows that it accepts the domain's reports. */
export interface DmarcExternalDestination {
  /** The destination's domain, e.g. "inbox.ondmarc.com". */
  domain: string;
  /**
   * Why receivers will send there: the `<domain>._report._dmarc.<destination>` TXT (RFC 7489 §7.1)
   * its operator publishes, which this stack cannot create and which is not checked offline.
   */
  evidence: string;
}

export interface DmarcArgs {
  /** `p`. */
  policy: DmarcPolicy;
  /** `sp`: the policy for subdomains; RFC 7489 §6.3 falls back to `p` when absent. */
  subdomainPolicy?: DmarcPolicy;
  /** `pct`: percentage of failing mail the policy applies to, 0-100. */
  pct: number;
  /** `fo`: when failure reports are generated (RFC 7489 §6.3). */
  fo?: string;
  /** `ri`: the aggregate-report interval in seconds. */
  ri?: number;
  /** `adkim` and `aspf`: relaxed (`r`) or strict (`s`) identifier alignment. */
  adkim?: (typeof DMARC_ALIGNMENTS)[number];
  aspf?: (typeof DMARC_ALIGNMENTS)[number];
  /** `rua`: aggregate-report mailboxes (plain addresses, no `mailto:`), in order. */
  rua: string[];
  /** `ruf`: failure-report mailboxes, in order. */
  ruf?: string[];
  /** Destinations outside the domain that may appear in `rua`/`ruf`. */
  externalDestinations?: DmarcExternalDestination[];
}

/**
 * The `_dmarc` TXT value, tags in the order the live record writes them (`p`, `pct`, `fo`, `ri`,
 * `sp`, `adkim`, `aspf`, `rua`, `ruf`) and closed by `;` as it is (RFC 7489 §6.4 allows the
 * final separator). A report address outside `domain` receives reports only once its operator
 * publishes `<domain>._report._dmarc.<its domain>` (RFC 7489 §7.1): such an address must be
 * listed in `externalDestinations` with that evidence, or it is refused.
 */
export function dmarcRecord(domain: string, args: DmarcArgs): string {
  const problems = dmarcProblems(domain, args);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const uris = (list: string[]) => list.map((a) => `mailto:${a}`).join(",");
  const tags: [string, string | number | undefined][] = [
    ["p", args.policy],
    ["pct", args.pct],
    ["fo", args.fo],
    ["ri", args.ri],
    ["sp", args.subdomainPolicy],
    ["adkim", args.adkim],
    ["aspf", args.aspf],
    ["rua", uris(args.rua)],
    ["ruf", args.ruf && args.ruf.length > 0 ? uris(args.ruf) : undefined],
  ];
  const present = tags.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return `v=DMARC1; ${present.join("; ")};`;
}

function dmarcProblems(domain: string, args: DmarcArgs): string[] {
  const problems: string[] = [];
  for (const [tag, value] of [
    ["policy", args.policy],
    ["subdomainPolicy", args.subdomainPolicy],
  ] as const) {
    if (value !== undefined && !(DMARC_POLICIES as readonly string[]).includes(value)) {
      problems.push(`dmarc.${tag} "${value}": expected none, quarantine or reject`);
    }
  }
  if (!Number.isInteger(args.pct) || args.pct < 0 || args.pct > 100) {
    problems.push(`dmarc.pct ${args.pct}: expected an integer from 0 to 100`);
  }
  if (args.fo !== undefined && !DMARC_FAILURE_OPTIONS.test(args.fo)) {
    problems.push(`dmarc.fo "${args.fo}": expected 0, 1, d or s, colon-separated`);
  }
  if (
    args.ri !== undefined &&
    (!Number.isInteger(args.ri) || args.ri < 1 || args.ri > 2 ** 32 - 1)
  ) {
    problems.push(`dmarc.ri ${args.ri}: expected a whole number of seconds (32-bit unsigned)`);
  }
  for (const tag of ["adkim", "aspf"] as const) {
    const value = args[tag];
    if (value !== undefined && !(DMARC_ALIGNMENTS as readonly string[]).includes(value)) {
      problems.push(`dmarc.${tag} "${value}": expected r (relaxed) or s (strict)`);
    }
  }
  if (args.rua.length === 0) problems.push("dmarc.rua is empty: expected at least one mailbox");
  const external = new Set((args.externalDestinations ?? []).map((d) => d.domain));
  for (const [tag, list] of [
    ["rua", args.rua],
    ["ruf", args.ruf ?? []],
  ] as const) {
    list.forEach((address, i) => {
      const problem = reportAddressProblem(domain, address, external);
      if (problem) problems.push(`dmarc.${tag}[${i}] "${address}": ${problem}`);
    });
  }
  return problems;
}

function reportAddressProblem(
  domain: string,
  address: string,
  external: Set<string>,
): string | undefined {
  const at = mailboxDomain(address);
  if (!at) return `expected a mail address such as dmarc@${domain}`;
  if (isWithinDomain(at, domain) || external.has(at)) return undefined;
  return (
    `outside ${domain}: receivers send reports there only if ${at} publishes TXT "v=DMARC1" at ` +
    `${domain}._report._dmarc.${at} (RFC 7489 §7.1); list ${at} in dmarc.externalDestinations ` +
    `with that evidence, or use an address in ${domain}`
  );
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
