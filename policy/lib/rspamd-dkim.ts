/**
 * What Rspamd's dkim_signing module signs with, read the way Rspamd 3.11.1 reads it (the release
 * docker-mailserver 15.0.0's image took from rspamd.com's apt-stable when it was built), and the
 * public key of a private key file as Rspamd loads it.
 *
 * Settings: the module's defaults (src/plugins/lua/dkim_signing.lua `settings`, conf/modules.d/
 * dkim_signing.conf) with `override.d/dkim_signing.conf` on top; that file is included at priority
 * 10 (modules.d/dkim_signing.conf), so each key it sets replaces the default (libucl README,
 * "Priorities"). Selection: lualib/lua_dkim_tools.lua `prepare_dkim_signing` for the mail
 * domain: the `domain.<d>` entry (its `selector`/`path` and each of its `selectors`), else the
 * top-level pair when `try_fallback` holds; a missing key path or selector is filled from the
 * top-level `path` and `selector`.
 * Keys: src/libserver/dkim.c `rspamd_dkim_sign_key_load`: a file starting with "-----BEGIN" is a
 * PEM private key, signed as RSA (the key type stays RSPAMD_DKIM_KEY_RSA); a base64 file of 32
 * bytes is an ed25519 seed, of 64 bytes an ed25519 secret key (seed then public key, libsodium).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { isUclObject, type UclObject, type UclValue } from "./ucl";

/** One signature Rspamd makes for the domain: the selector and the key file it loads. */
export interface SigningEntry {
  selector: string;
  path: string;
  /** Where the pair comes from, for messages (e.g. `domain.viktorbarzin.me`). */
  from: string;
}

export type Signing =
  { ok: true; entries: SigningEntry[]; why?: string } | { ok: false; refused: string[] };

/** The defaults of Rspamd 3.11.1 that selection reads (dkim_signing.lua, modules.d). */
const DEFAULTS: UclObject = {
  selector: "dkim",
  // dkim_signing.lua: `${DBDIR}/dkim/$domain.$selector.key`, a template the pack does not expand.
  path: "$DBDIR/dkim/$domain.$selector.key",
  try_fallback: true,
  use_domain: "header",
  use_esld: true,
  use_redis: false,
};

/** Keys that decide only whether a message is signed, never with which key (lua_dkim_tools). */
const ELIGIBILITY_KEYS = new Set([
  "allow_envfrom_empty",
  "allow_hdrfrom_mismatch",
  "allow_hdrfrom_mismatch_local",
  "allow_hdrfrom_mismatch_sign_networks",
  "allow_hdrfrom_multiple",
  "allow_username_mismatch",
  "allow_pubkey_mismatch",
  "check_pubkey",
  "check_violation",
  "sign_authenticated",
  "sign_local",
  "sign_inbound",
  "sign_networks",
  "skip_spam_sign",
  "symbol",
  "use_milter_headers",
]);
const MODELLED_KEYS = new Set(["enabled", ...Object.keys(DEFAULTS), "domain"]);
/** use_domain values that take the domain from the message: mail of the stack is of its domain. */
const MESSAGE_DOMAINS = new Set(["header", "envelope", "auth", "recipient"]);
const ENTRY_KEYS = new Set(["selector", "path", "selectors"]);

const where = (key: string) => `dkim_signing.conf ${key}`;

function unmodelledKeys(conf: UclObject): string[] {
  return Object.keys(conf)
    .filter((k) => !MODELLED_KEYS.has(k) && !ELIGIBILITY_KEYS.has(k))
    .map((k) => `${where(k)} is an option the pack does not model (it may choose another key)`);
}

function typed(conf: UclObject, refused: string[]) {
  const bool = (key: string) => {
    const v = conf[key];
    if (typeof v !== "boolean") refused.push(`${where(key)} is not a boolean`);
    return v === true;
  };
  return {
    enabled: conf.enabled === undefined ? true : bool("enabled"),
    tryFallback: bool("try_fallback"),
    useRedis: bool("use_redis"),
    useDomain: conf.use_domain,
  };
}

/** The domain whose key is chosen for the stack's mail, or why the pack cannot say. */
function signingDomain(useDomain: UclValue | undefined, domain: string): string | string[] {
  if (typeof useDomain !== "string") return [`${where("use_domain")} is not a string`];
  if (MESSAGE_DOMAINS.has(useDomain)) return domain;
  const literal = useDomain.toLowerCase();
  return literal === domain
    ? domain
    : [`${where("use_domain")} signs as ${literal}, a domain whose records the pack does not hold`];
}

function entryPair(
  value: UclValue,
  from: string,
  refused: string[],
): { selector?: UclValue; path?: UclValue; from: string } {
  if (!isUclObject(value)) {
    refused.push(`${where(from)} is not an object`);
    return { from };
  }
  return { selector: value.selector, path: value.path, from };
}

/** The domain entry's pairs (lua_dkim_tools: old-style selector/path first, then `selectors`). */
function domainPairs(entry: UclValue, from: string, refused: string[]) {
  if (!isUclObject(entry)) {
    refused.push(`${where(from)} is not an object`);
    return [];
  }
  for (const k of Object.keys(entry).filter((k) => !ENTRY_KEYS.has(k))) {
    refused.push(`${where(`${from}.${k}`)} is an option the pack does not model`);
  }
  const pairs = [];
  if (entry.selector !== undefined || entry.path !== undefined)
    pairs.push(entryPair(entry, from, refused));
  const selectors = entry.selectors;
  if (selectors !== undefined && !Array.isArray(selectors)) {
    refused.push(`${where(`${from}.selectors`)} is not an array`);
  }
  (Array.isArray(selectors) ? selectors : []).forEach((s, i) =>
    pairs.push(entryPair(s, `${from}.selectors[${i}]`, refused)),
  );
  return pairs;
}

function domainEntry(conf: UclObject, domain: string, refused: string[]): UclValue | undefined {
  const section = conf.domain;
  if (section === undefined) return undefined;
  if (!isUclObject(section)) {
    refused.push(`${where("domain")} is not an object`);
    return undefined;
  }
  for (const other of Object.keys(section).filter((d) => d !== domain)) {
    refused.push(
      `${where(`domain.${other}`)} signs for a domain whose records the pack does not hold`,
    );
  }
  return section[domain];
}

/**
 * The signatures Rspamd makes for mail of `domain` under `override` (undefined: no override file),
 * or every reason the pack cannot tell.
 */
export function signingEntries(override: UclObject | undefined, domain: string): Signing {
  const conf: UclObject = { ...DEFAULTS, ...override };
  const refused = unmodelledKeys(conf);
  const s = typed(conf, refused);
  const d = signingDomain(s.useDomain, domain);
  if (Array.isArray(d)) refused.push(...d);
  if (s.useRedis)
    refused.push(`${where("use_redis")} loads keys from Redis, which the pack cannot see`);
  const entry = domainEntry(conf, domain, refused);
  const pairs = entry === undefined ? [] : domainPairs(entry, `domain.${domain}`, refused);
  if (refused.length > 0) return { ok: false, refused };
  if (!s.enabled) return { ok: true, entries: [], why: "enabled = false" };
  if (pairs.length === 0 && !s.tryFallback) {
    return { ok: true, entries: [], why: `no domain.${domain} entry and try_fallback = false` };
  }
  if (pairs.length === 0) pairs.push({ from: "the top level" });
  return resolvePairs(pairs, conf);
}

function resolvePairs(
  pairs: { selector?: UclValue; path?: UclValue; from: string }[],
  conf: UclObject,
): Signing {
  const refused: string[] = [];
  const entries = pairs.flatMap((p) => {
    const selector = p.selector ?? conf.selector;
    const path = p.path ?? conf.path;
    if (typeof selector !== "string" || typeof path !== "string") {
      refused.push(`${where(p.from)}: selector and path must be strings`);
      return [];
    }
    return [{ selector, path, from: p.from }];
  });
  return refused.length > 0 ? { ok: false, refused } : { ok: true, entries };
}

/** The public key a DKIM TXT must publish for a key file, as RFC 6376 / RFC 8463 encode it. */
export type DerivedKey =
  { ok: true; keyType: "rsa" | "ed25519"; key: KeyObject } | { ok: false; why: string };

/** PKCS#8 prefix of an Ed25519 private key before its 32-byte seed (RFC 8410 §7). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function ed25519FromSeed(seed: Buffer): KeyObject {
  const priv = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  return createPublicKey(priv);
}

/** The raw 32-byte Ed25519 public key (RFC 8463 §4.2: what p= holds for k=ed25519). */
export function rawEd25519(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" }).subarray(-32);
}

function fromPem(text: string): DerivedKey {
  let key: KeyObject;
  try {
    key = createPublicKey(createPrivateKey(text));
  } catch {
    return { ok: false, why: "it starts like PEM but is no private key Node can read" };
  }
  if (key.asymmetricKeyType !== "rsa") {
    return {
      ok: false,
      why: `it is a PEM ${key.asymmetricKeyType ?? "?"} key, which Rspamd 3.11.1 signs as RSA`,
    };
  }
  return { ok: true, keyType: "rsa", key };
}

function fromBase64(text: string): DerivedKey {
  const raw = Buffer.from(text.trim(), "base64");
  if (raw.length === 32) return { ok: true, keyType: "ed25519", key: ed25519FromSeed(raw) };
  if (raw.length === 64) {
    const key = ed25519FromSeed(raw.subarray(0, 32));
    return rawEd25519(key).equals(raw.subarray(32))
      ? { ok: true, keyType: "ed25519", key }
      : { ok: false, why: "its second half is not the public key of its seed" };
  }
  return { ok: false, why: `it is ${raw.length} bytes of base64 (DER keys are not modelled)` };
}

/** The public key of a key file's text as Rspamd reads the file, or why the pack cannot derive it. */
export function publicKeyOfKeyFile(text: string): DerivedKey {
  if (text.startsWith("-----BEGIN")) return fromPem(text);
  // One base64 run, padded, with at most a final line end: what the pack reads exactly.
  if (/^[A-Za-z0-9+/]+={0,2}\r?\n?$/.test(text)) return fromBase64(text);
  return { ok: false, why: "it is neither PEM nor one line of base64" };
}
