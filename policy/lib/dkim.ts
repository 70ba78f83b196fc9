/** DKIM key records (RFC 6376 3.6.1) and their key sizes (RFC 8301). */
import { createPublicKey, type KeyObject } from "node:crypto";
import type { PolicyConfigSchema, ResourceValidationArgs } from "@pulumi/policy";
import { SPEC } from "./config";
import { parseTags, recordOf, txtAt } from "./dns";
import { memoize } from "./memo";
import { raise, Unknown } from "./plain";

export type DkimKey =
  | { ok: true; keyType: "rsa"; bits: number }
  | { ok: true; keyType: "ed25519" }
  | { ok: true; keyType: "revoked" }
  | { ok: false; error: string };

/** `<selector>._domainkey.<domain>` -> selector, or undefined for other names. */
export function dkimSelector(fqdn: string, domain: string): string | undefined {
  const suffix = `._domainkey.${domain}`;
  return fqdn.endsWith(suffix) ? fqdn.slice(0, -suffix.length) : undefined;
}

function rsaKey(der: Buffer): KeyObject | undefined {
  // RFC 6376 says SubjectPublicKeyInfo; some generators publish a bare PKCS#1 RSAPublicKey.
  for (const type of ["spki", "pkcs1"] as const) {
    try {
      const key = createPublicKey({ key: der, format: "der", type });
      if (key.asymmetricKeyType === "rsa") return key;
    } catch {
      // try the next encoding
    }
  }
  return undefined;
}

const rsaBits = (der: Buffer) => rsaKey(der)?.asymmetricKeyDetails?.modulusLength;

/**
 * The key a usable DKIM record publishes, canonical for comparison: an RSA key as base64
 * SubjectPublicKeyInfo whichever encoding p= uses, an ed25519 key as its 32 bytes (RFC 8463 §4.2).
 * Undefined for a record parseDkim refuses or a revoked key.
 */
export function publishedKey(
  text: string,
): { keyType: "rsa" | "ed25519"; key: string } | undefined {
  const parsed = parseDkim(text);
  if (!parsed.ok || parsed.keyType === "revoked") return undefined;
  const p = new Map(parseTags(text).tags).get("p") ?? "";
  const der = Buffer.from(p.replace(/\s+/g, ""), "base64");
  if (parsed.keyType === "ed25519") return { keyType: "ed25519", key: der.toString("base64") };
  const spki = rsaKey(der)?.export({ format: "der", type: "spki" });
  return spki ? { keyType: "rsa", key: spki.toString("base64") } : undefined;
}

/** The key of a DKIM record; both DKIM policies judge every record, so each text is parsed once. */
export const parseDkim: (text: string) => Readonly<DkimKey> = memoize((text) =>
  Object.freeze(parseDkimText(text)),
);

// Tag values are case-sensitive unless a tag says otherwise (RFC 6376 3.2).
const listOf = (value: string) => value.split(":").map((v) => v.trim());

/**
 * Tags that make verifiers set the key aside for mail (RFC 6376 3.6.1): `s=` without `email` or
 * `*` (verifiers MUST ignore the record), `t=y` (testing: mail is treated as unsigned), `h=`
 * without sha256 (the only hash left, RFC 8301 3.1; rspamd signs rsa-sha256).
 */
function unusableTag(map: Map<string, string>): string | undefined {
  const s = map.get("s");
  if (s !== undefined && !listOf(s).some((t) => t === "email" || t === "*")) {
    return `s=${s} does not list email or *, so verifiers ignore this key for mail`;
  }
  const t = map.get("t");
  if (t !== undefined && listOf(t).includes("y")) {
    return "t=y marks the domain as testing DKIM, so verifiers treat its mail as unsigned";
  }
  const h = map.get("h");
  if (h !== undefined && !listOf(h).includes("sha256")) {
    return `h=${h} excludes sha256, the hash every signature uses (RFC 8301)`;
  }
  return undefined;
}

function parseDkimText(text: string): DkimKey {
  const { tags, errors } = parseTags(text);
  if (errors.length > 0) return { ok: false, error: errors.join("; ") };
  const map = new Map(tags);
  if (map.has("v") && (tags[0]?.[0] !== "v" || map.get("v") !== "DKIM1")) {
    return { ok: false, error: "v=DKIM1 must be the first tag when present" };
  }
  const unusable = unusableTag(map);
  if (unusable) return { ok: false, error: unusable };
  const p = map.get("p");
  if (p === undefined) return { ok: false, error: "no p= tag (public key)" };
  const b64 = p.replace(/\s+/g, "");
  if (b64 === "") return { ok: true, keyType: "revoked" };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { ok: false, error: "p= is not base64" };
  const der = Buffer.from(b64, "base64");
  const k = map.get("k") ?? "rsa";
  if (k === "ed25519") {
    return der.length === 32
      ? { ok: true, keyType: "ed25519" }
      : { ok: false, error: `ed25519 key is ${der.length} bytes, expected 32` };
  }
  if (k !== "rsa") return { ok: false, error: `unsupported key type k=${k}` };
  const bits = rsaBits(der);
  return bits
    ? { ok: true, keyType: "rsa", bits }
    : { ok: false, error: "p= is not an RSA public key" };
}

/** Config shared by dkim-key-strength and dkim-legacy-key: set both alike in the pack config. */
export const dkimConfigSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain" },
    minBits: { type: "integer", default: 2048, description: "Minimum RSA key size (RFC 8301)" },
    legacySelectors: {
      type: "array",
      items: { type: "string" },
      // Mailgun's s1 key is kept for the roundtrip probe only (spec, DNS Records table).
      default: ["s1"],
      description: "Selectors whose RSA key may be 1024-2047 bits (reported as advisory)",
    },
    delegatedSelectors: {
      type: "array",
      items: {
        type: "object",
        properties: {
          selector: { type: "string" },
          target: { type: "string" },
          reason: { type: "string" },
        },
        required: ["selector", "target", "reason"],
      },
      // Brevo's domain authentication: world/today/cloudflare.yaml, records CNAME brevo1/brevo2.
      default: [
        {
          selector: "brevo1",
          target: "b1.viktorbarzin-me.dkim.brevo.com",
          reason: "Brevo (the relay) holds and rotates this key",
        },
        {
          selector: "brevo2",
          target: "b2.viktorbarzin-me.dkim.brevo.com",
          reason: "Brevo (the relay) holds and rotates this key",
        },
      ],
      description:
        "Selectors published as a CNAME to a key the pack cannot read offline, each with the target it must point at and why it is trusted (reported as advisory)",
    },
  },
};

export interface DelegatedSelector {
  selector: string;
  target: string;
  reason: string;
}

export interface DkimConfig {
  domain: string;
  minBits: number;
  legacySelectors: string[];
  delegatedSelectors: DelegatedSelector[];
}

/** A DNS name as resolvers compare it: case-insensitive, the root's trailing dot optional. */
const dnsName = (name: string) => name.trim().toLowerCase().replace(/\.$/, "");

export interface DkimDelegation {
  selector: string;
  target: string;
  /** The config entry for this selector, if any. */
  listed?: DelegatedSelector;
}

/**
 * A CNAME at `<selector>._domainkey.<domain>` (RFC 6376 3.6.2.2: the key is fetched with a TXT
 * query, which resolvers follow through a CNAME), or undefined for any other record.
 */
export function dkimDelegationOf(
  args: ResourceValidationArgs,
  cfg: DkimConfig,
): DkimDelegation | undefined {
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return undefined;
  if (record.type instanceof Unknown) raise(record.type);
  if (record.type !== "CNAME") return undefined;
  if (record.fqdn instanceof Unknown) raise(record.fqdn);
  const selector = dkimSelector(record.fqdn, cfg.domain);
  if (selector === undefined) return undefined;
  if (record.content instanceof Unknown) raise(record.content);
  const target = dnsName(record.content ?? "");
  // An entry without a reason is no waiver.
  const listed = cfg.delegatedSelectors.find(
    (d) => d.selector === selector && d.reason.trim() !== "",
  );
  return { selector, target, ...(listed ? { listed } : {}) };
}

/** Does the delegation point where its config entry says? */
export const delegationMatches = (d: DkimDelegation): boolean =>
  d.listed !== undefined && dnsName(d.listed.target) === d.target;

/** RFC 8301: below 1024 bits is never acceptable, whatever the config says. */
export const HARD_MIN_BITS = 1024;

export interface DkimFinding {
  selector: string;
  key: DkimKey;
}

/** The DKIM key of the record under validation, or undefined when it is not a DKIM TXT. */
export function dkimOf(args: ResourceValidationArgs, cfg: DkimConfig): DkimFinding | undefined {
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return undefined;
  const text = txtAt(record, (n) => dkimSelector(n, cfg.domain) !== undefined, /^/);
  if (text instanceof Unknown) raise(text);
  if (typeof text !== "string" || typeof record.fqdn !== "string") return undefined;
  return { selector: dkimSelector(record.fqdn, cfg.domain) ?? "", key: parseDkim(text) };
}
