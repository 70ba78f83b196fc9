/**
 * Matches the records the program declares against the zone's records by type, name and content,
 * and lists what in the zone would break mail once the program owns its records.
 *
 * A TXT record's content says what it is by its tag (`v=spf1`, `v=DMARC1`, `brevo-code:` ...):
 * a zone record with the same type, name and tag is the one the program takes over, whether its
 * value already equals the program's (adopted unchanged) or not (adopted, then updated in place).
 * An MX record is the same record only with the same target host.
 */
import { plannedContent, type PlannedRecord } from "../../lib/dns-plan";
import { unquoteTxt } from "../../lib/dns-text";
import type { ZoneRecord } from "./zone";

export interface Match {
  planned: PlannedRecord;
  /** The zone record taken over; none when the program creates the record. */
  existing?: ZoneRecord;
  /** True when the existing value differs and the follow-up `pulumi up` rewrites it. */
  changes: boolean;
}

export interface MatchResult {
  matches: Match[];
  /** One line a problem that would break mail after cutover; any problem refuses the map. */
  problems: string[];
}

function fqdn(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** A record's value in a comparable form: TXT unquoted, host names lower case without the dot. */
function valueOf(type: string, content: string): string {
  if (type === "TXT") return unquoteTxt(content);
  if (type === "MX" || type === "CNAME") return fqdn(content);
  return content.trim().toLowerCase();
}

function sameKind(planned: PlannedRecord, record: ZoneRecord): boolean {
  if (record.type !== planned.type || fqdn(record.name) !== planned.name) return false;
  if (planned.type === "TXT") {
    const tag = planned.tag?.toLowerCase() ?? "";
    return valueOf("TXT", record.content).toLowerCase().startsWith(tag);
  }
  if (planned.type === "MX") return valueOf("MX", record.content) === planned.value;
  return true;
}

function describe(r: ZoneRecord): string {
  return `${r.type} ${fqdn(r.name)} "${valueOf(r.type, r.content)}" (id ${r.id})`;
}

function matchOne(planned: PlannedRecord, zone: ZoneRecord[], problems: string[]): Match {
  const same = zone.filter((r) => sameKind(planned, r));
  const what = planned.tag ? `${planned.tag} ${planned.type}` : planned.type;
  if (same.length > 1) {
    problems.push(
      `${same.length} ${what} records at ${planned.name} (${same.map((r) => r.id).join(", ")}): the program declares one; delete the others before cutover`,
    );
  }
  const existing = same[0];
  const want =
    planned.value === undefined ? undefined : valueOf(planned.type, plannedContent(planned) ?? "");
  const changes =
    existing !== undefined &&
    want !== undefined &&
    valueOf(existing.type, existing.content) !== want;
  return { planned, existing, changes };
}

/**
 * A CNAME cannot share its name with any other record (RFC 1034 §3.6.2). The zone apex is the
 * exception Cloudflare makes: it always flattens an apex CNAME into the target's addresses, which is
 * how the live zone holds one beside its MX and TXT records (world/today/cloudflare.yaml).
 */
function cnameConflicts(planned: PlannedRecord[], zone: ZoneRecord[], apex: Set<string>): string[] {
  return planned.flatMap((p) =>
    zone
      .filter((r) => !apex.has(fqdn(r.name)))
      .filter((r) => fqdn(r.name) === p.name && (r.type === "CNAME") !== (p.type === "CNAME"))
      .filter((r) => r.type === "CNAME" || p.type === "CNAME")
      .map(
        (r) =>
          `${describe(r)} conflicts with the ${p.type} the program creates at ${p.name}: a CNAME owns its name alone; delete it or change the program`,
      ),
  );
}

/** Mail hosts must be DNS-only: Cloudflare's proxy does not carry SMTP or IMAP. */
function proxiedMailHosts(mxHosts: Set<string>, zone: ZoneRecord[]): string[] {
  return zone
    .filter((r) => r.proxied && mxHosts.has(fqdn(r.name)))
    .map(
      (r) => `${describe(r)} is proxied, but it is a mail host: set it DNS-only (proxied: false)`,
    );
}

/**
 * An MX at the program's MX name that the MTA-STS policy does not list: senders honouring the
 * policy would refuse that host. Another stack's MX listed in the policy is left to its owner.
 */
function unlistedMx(planned: PlannedRecord[], zone: ZoneRecord[], policyMx: string[]): string[] {
  const names = new Set(planned.filter((p) => p.type === "MX").map((p) => p.name));
  return zone
    .filter((r) => r.type === "MX" && names.has(fqdn(r.name)))
    .filter((r) => !policyMx.includes(valueOf("MX", r.content)))
    .map(
      (r) =>
        `${describe(r)} is not in the MTA-STS policy the program publishes: senders would refuse it; list the host in mailserver:dns.otherMxHosts or delete the record`,
    );
}

/**
 * Matches the plan against the zone. `policyMx` is every host of the MTA-STS policy: the program's
 * MX hosts and the other stacks' (mailserver:dns.otherMxHosts).
 */
export function matchZone(
  planned: PlannedRecord[],
  zone: ZoneRecord[],
  policyMx: string[],
): MatchResult {
  const problems: string[] = [];
  const matches = planned.map((p) => matchOne(p, zone, problems));
  const mxHosts = new Set([
    ...planned.filter((p) => p.type === "MX").map((p) => p.value ?? ""),
    ...zone.filter((r) => r.type === "MX").map((r) => valueOf("MX", r.content)),
  ]);
  problems.push(
    ...cnameConflicts(
      planned,
      zone,
      new Set(planned.filter((p) => p.type === "MX").map((p) => p.name)),
    ),
    ...proxiedMailHosts(mxHosts, zone),
    ...unlistedMx(planned, zone, policyMx),
  );
  return { matches, problems };
}
