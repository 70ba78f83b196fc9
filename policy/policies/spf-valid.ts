/**
 * spf-valid: every v=spf1 record parses, stays within 10 DNS-querying terms, and does not
 * authorise the whole Internet.
 *
 * Why: a syntax error or more than 10 lookups is a permerror (RFC 7208 4.6, 4.6.4) and SPF
 * fails for all mail; +all/?all (or no all at all, which means ?all) lets anyone pass SPF for
 * the domain; ptr is slow and deprecated (RFC 7208 5.5).
 *
 * Invariant (effective state): every SPF record a receiver may evaluate parses, stays within
 * maxLookups DNS-querying terms counting those behind include/redirect, and ends by failing or
 * soft-failing unknown senders. Paths: any TXT whose text starts with v=spf1 in any case, split
 * strings, terms in any case and order, bare `all` (= +all), redirect (counted, ignored next to
 * all), nested records of this stack (followed) and of others (knownIncludeCosts, otherwise the
 * advisory spf-unresolved says the count is incomplete).
 *
 * Fix: follow the message: correct the term, flatten includes, end with ~all or -all.
 * Nested includes cannot be resolved offline: the count is the direct terms plus the configured
 * cost of known includes (knownIncludeCosts); keep that table in sync with `dig TXT <include>`.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPF_SCHEMA_PROPERTIES } from "../lib/config";
import { isDnsRecord, recordOf, stackRecords, txtAt } from "../lib/dns";
import { raise, Unknown } from "../lib/plain";
import { lookupCount, parseSpf, resolveStackSpf, SPF_PREFIX } from "../lib/spf";
import { plainResources } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    ...SPF_SCHEMA_PROPERTIES,
    maxLookups: { type: "integer", default: 10, description: "RFC 7208 DNS lookup limit" },
  },
};

interface Config {
  domain: string;
  maxLookups: number;
  knownIncludeCosts: Record<string, number>;
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return;
  const text = txtAt(record, () => true, SPF_PREFIX);
  if (text instanceof Unknown) raise(text);
  if (typeof text !== "string") return;
  const spf = parseSpf(text);
  for (const error of spf.errors) report(`SPF syntax: ${error}; correct it (RFC 7208 permerror).`);
  const lookups = lookupCount(spf, cfg.knownIncludeCosts);
  if (lookups > cfg.maxLookups) {
    report(
      `SPF needs ${lookups} DNS lookups (direct include/a/mx/ptr/exists/redirect plus knownIncludeCosts), over the limit of ${cfg.maxLookups}; replace includes with ip4/ip6 terms.`,
    );
  }
  const all = spf.mechanisms.find((m) => m.name === "all");
  if (all && (all.qualifier === "+" || all.qualifier === "?")) {
    report(`SPF ends with ${all.qualifier}all, which authorises any sender; use ~all or -all.`);
  }
  if (!all && !spf.modifiers.has("redirect")) {
    report(
      "SPF has no all term, so unmatched senders get neutral (like ?all); end it with ~all or -all.",
    );
  }
  if (spf.mechanisms.some((m) => m.name === "ptr")) {
    report("SPF uses ptr, which RFC 7208 says not to use; replace it with ip4/ip6 or a terms.");
  }
}

/** Lookups behind include/redirect of records this stack publishes count too (RFC 7208 4.6.4). */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const records = stackRecords(plainResources(args.resources, isDnsRecord), cfg.domain);
  for (const r of resolveStackSpf(records, cfg.knownIncludeCosts)) {
    if (r.nested === 0 || r.lookups <= cfg.maxLookups) continue;
    report(
      `SPF at ${r.fqdn} needs ${r.lookups} DNS lookups counting the ${r.nested} behind its includes in this stack, over the limit of ${cfg.maxLookups}; flatten the included records into ip4/ip6 terms.`,
      r.urn,
    );
  }
}

export const spfValid: ResourceValidationPolicy & StackValidationPolicy = {
  name: "spf-valid",
  description: "SPF records parse, need at most 10 DNS lookups and do not end in +all/?all.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
