/** SPF (RFC 7208) record parsing, enough to judge syntax, authorisation and lookup cost. */
import { isIPv4, isIPv6 } from "node:net";
import type { DnsRecordView } from "./dns";

export type Qualifier = "+" | "-" | "~" | "?";

export interface SpfMechanism {
  qualifier: Qualifier;
  name: string;
  arg?: string;
}

export interface SpfRecord {
  mechanisms: SpfMechanism[];
  modifiers: Map<string, string>;
  errors: string[];
}

const MECHANISMS = new Set(["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"]);
/** Terms that make the receiver query DNS; RFC 7208 4.6.4 caps them at 10 per evaluation. */
export const LOOKUP_MECHANISMS = new Set(["include", "a", "mx", "ptr", "exists"]);

/** A TXT that receivers take for SPF (RFC 7208 4.5): "v=spf1" in any case, then a space or end. */
export const SPF_PREFIX = /^v=spf1(\s|$)/i;

export function isSpf(text: string): boolean {
  return SPF_PREFIX.test(text.trim());
}

function checkArg(m: SpfMechanism, errors: string[]): void {
  const needsArg = m.name === "include" || m.name === "exists" || m.name.startsWith("ip");
  if (needsArg && !m.arg) errors.push(`${m.name} needs an argument`);
  if (m.name === "all" && m.arg !== undefined) errors.push("all takes no argument");
  if (!m.arg) return;
  const [addr, cidr] = m.arg.split("/");
  if (m.name === "ip4" && (!isIPv4(addr ?? "") || (cidr !== undefined && !(Number(cidr) <= 32)))) {
    errors.push(`ip4:${m.arg} is not an IPv4 address/prefix`);
  }
  if (m.name === "ip6" && (!isIPv6(addr ?? "") || (cidr !== undefined && !(Number(cidr) <= 128)))) {
    errors.push(`ip6:${m.arg} is not an IPv6 address/prefix`);
  }
}

export function parseSpf(text: string): SpfRecord {
  const [version, ...terms] = text.trim().split(/\s+/);
  const record: SpfRecord = { mechanisms: [], modifiers: new Map(), errors: [] };
  if (version?.toLowerCase() !== "v=spf1") record.errors.push('must start with "v=spf1"');
  for (const term of terms) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(term);
    if (modifier) {
      const key = (modifier[1] ?? "").toLowerCase();
      if (record.modifiers.has(key)) record.errors.push(`modifier ${key} appears twice`);
      record.modifiers.set(key, modifier[2] ?? "");
      continue;
    }
    const m = /^([+\-~?]?)([a-z0-9]+)(?::([^/]*))?((?:\/\/?\d+)*)$/i.exec(term);
    const name = (m?.[2] ?? "").toLowerCase();
    if (!m || !MECHANISMS.has(name)) {
      record.errors.push(`unknown term "${term}"`);
      continue;
    }
    const arg = (m[3] ?? "") + (m[4] ?? "");
    const mech: SpfMechanism = { qualifier: (m[1] || "+") as Qualifier, name };
    if (arg !== "") mech.arg = arg;
    checkArg(mech, record.errors);
    record.mechanisms.push(mech);
  }
  const allIndex = record.mechanisms.findIndex((m) => m.name === "all");
  if (allIndex >= 0 && allIndex < record.mechanisms.length - 1) {
    record.errors.push("mechanisms after all are never evaluated");
  }
  return record;
}

/**
 * DNS-querying terms: direct include/a/mx/ptr/exists, plus redirect unless an `all` makes it
 * irrelevant, plus the configured nested cost of known includes (nested records cannot be
 * resolved offline).
 */
export function lookupCount(record: SpfRecord, knownCosts: Record<string, number>): number {
  let count = 0;
  for (const m of record.mechanisms) {
    if (!LOOKUP_MECHANISMS.has(m.name)) continue;
    count += 1;
    if (m.name === "include" && m.arg) count += knownCosts[m.arg.toLowerCase()] ?? 0;
  }
  const redirect = record.modifiers.get("redirect");
  if (redirect && !record.mechanisms.some((m) => m.name === "all")) {
    count += 1 + (knownCosts[redirect.toLowerCase()] ?? 0);
  }
  return count;
}

/** Mechanisms a receiver evaluates: those after `all` never are (RFC 7208 5.1). */
export function evaluatedMechanisms(record: SpfRecord): SpfMechanism[] {
  const all = record.mechanisms.findIndex((m) => m.name === "all");
  return all < 0 ? record.mechanisms : record.mechanisms.slice(0, all + 1);
}

/** include targets and the redirect (ignored next to `all`) that a receiver would follow. */
export function followedNames(record: SpfRecord): { name: string; pass: boolean }[] {
  const names = evaluatedMechanisms(record)
    .filter((m) => m.name === "include" && m.arg)
    .map((m) => ({ name: (m.arg ?? "").toLowerCase(), pass: m.qualifier === "+" }));
  const redirect = record.modifiers.get("redirect");
  const hasAll = record.mechanisms.some((m) => m.name === "all");
  if (redirect && !hasAll) names.push({ name: redirect.toLowerCase(), pass: true });
  return names;
}

/** The v=spf1 text published at a name by this stack, or undefined. */
export type SpfLookup = (name: string) => string | undefined;

export interface SpfResolution {
  /** Whether a "+" include of `relay` is reached through records this stack publishes. */
  relay: boolean;
  /** DNS-querying terms including nested ones of in-stack records and knownCosts. */
  lookups: number;
  /** Lookups that came from in-stack records behind include/redirect. */
  nested: number;
  /** Followed names neither in the stack nor in knownCosts: not decidable offline. */
  unresolved: string[];
}

/** Follows include/redirect through the stack's own records (loops are followed once). */
export function resolveSpf(
  text: string,
  lookup: SpfLookup,
  relay: string,
  knownCosts: Record<string, number>,
  seen = new Set<string>(),
): SpfResolution {
  const record = parseSpf(text);
  const out: SpfResolution = {
    relay: false,
    lookups: lookupCount(record, {}),
    nested: 0,
    unresolved: [],
  };
  for (const { name, pass } of followedNames(record)) {
    if (name === relay.toLowerCase()) {
      out.relay ||= pass;
      out.lookups += knownCosts[name] ?? 0;
      continue;
    }
    const target = seen.has(name) ? undefined : lookup(name);
    if (target === undefined) {
      if (name in knownCosts) out.lookups += knownCosts[name] ?? 0;
      else if (!seen.has(name)) out.unresolved.push(name);
      continue;
    }
    seen.add(name);
    const sub = resolveSpf(target, lookup, relay, knownCosts, seen);
    out.relay ||= pass && sub.relay;
    out.lookups += sub.lookups;
    out.nested += sub.lookups;
    out.unresolved.push(...sub.unresolved);
  }
  return out;
}

/** A known SPF TXT record of the stack. */
export interface StackSpfRecord {
  urn: string;
  fqdn: string;
  content: string;
}

/** The stack's TXT records whose name and text are known and that are SPF. */
function spfRecords(records: DnsRecordView[]): StackSpfRecord[] {
  return records.flatMap((r) =>
    r.type === "TXT" &&
    typeof r.fqdn === "string" &&
    typeof r.content === "string" &&
    isSpf(r.content)
      ? [{ urn: r.urn, fqdn: r.fqdn, content: r.content }]
      : [],
  );
}

/** SPF texts the stack publishes, by FQDN (the first record wins; duplicates are reported). */
export function stackSpfLookup(records: DnsRecordView[]): SpfLookup {
  const byName = new Map<string, string>();
  for (const r of spfRecords(records)) if (!byName.has(r.fqdn)) byName.set(r.fqdn, r.content);
  return (name) => byName.get(name.toLowerCase().replace(/\.$/, ""));
}

/** Every SPF record of the stack, resolved through the stack's own records and `knownCosts`. */
export function resolveStackSpf(
  records: DnsRecordView[],
  knownCosts: Record<string, number>,
): (StackSpfRecord & SpfResolution)[] {
  const lookup = stackSpfLookup(records);
  return spfRecords(records).map((r) => ({
    ...r,
    ...resolveSpf(r.content, lookup, "", knownCosts, new Set([r.fqdn])),
  }));
}
