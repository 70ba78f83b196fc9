/** DMARC (RFC 7489 6.4) tag lists as receivers read them. */
import { parseTags } from "./dns";

/**
 * A TXT that receivers take for DMARC: tag name "v" in any case, optional whitespace around "=",
 * and the value "DMARC1" exactly (the ABNF spells it as case-sensitive %x octets).
 */
export const DMARC_VERSION = /^v\s*=\s*DMARC1\s*(;|$)/i;

/** Tags with lower-cased names (ABNF literals are case-insensitive); values keep their case. */
export function parseDmarcTags(text: string): ReturnType<typeof parseTags> {
  const { tags, errors } = parseTags(text);
  const lowered = tags.map(([k, v]): [string, string] => [k.toLowerCase(), v]);
  const seen = new Set<string>();
  const dupes = lowered.filter(([k]) => seen.has(k) || !seen.add(k)).map(([k]) => k);
  const others = errors.filter((e) => !e.startsWith("tag "));
  return {
    tags: lowered,
    errors: [...others, ...[...new Set(dupes)].map((k) => `tag ${k} appears twice`)],
  };
}

/** Matches the record name receivers query: _dmarc.<domain>. */
export function isDmarcName(domain: string): (fqdn: string) => boolean {
  return (fqdn) => fqdn === `_dmarc.${domain}`;
}
