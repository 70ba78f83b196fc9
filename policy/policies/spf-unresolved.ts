/**
 * spf-unresolved (advisory): SPF include/redirect targets that cannot be resolved offline.
 *
 * Why: RFC 7208 4.6.4 counts the DNS lookups of nested records against the limit of 10, and a
 * nested record decides what the include authorises. A target that is neither published by this
 * stack nor listed in knownIncludeCosts cannot be read without DNS, so spf-valid's count is a lower
 * bound for that record. Saying so is honest; passing silently or blocking would not be.
 *
 * Invariant: every followed name (include before `all`, redirect without `all`) of every SPF
 * record in the stack is either published by the stack or has a known nested cost.
 *
 * Fix: run `dig TXT <name>`, count its nested include/a/mx/ptr/exists/redirect terms and add
 * "<name>": <count> to knownIncludeCosts of spf-valid and of this policy, or flatten it to ip4/ip6.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPF_SCHEMA_PROPERTIES } from "../lib/config";
import { isDnsRecord, stackRecords } from "../lib/dns";
import { resolveStackSpf } from "../lib/spf";
import { plainResources } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: SPF_SCHEMA_PROPERTIES,
};

interface Config {
  domain: string;
  knownIncludeCosts: Record<string, number>;
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const records = stackRecords(plainResources(args.resources, isDnsRecord), cfg.domain);
  for (const { urn, fqdn, unresolved } of resolveStackSpf(records, cfg.knownIncludeCosts)) {
    if (unresolved.length === 0) continue;
    report(
      `SPF at ${fqdn} follows ${[...new Set(unresolved)].join(", ")}, which cannot be resolved offline (not in this stack, not in knownIncludeCosts): its nested DNS lookups are not counted against the limit and what it authorises is not known; run dig TXT on each and add its nested lookup count to knownIncludeCosts, or flatten it to ip4/ip6 terms.`,
      urn,
    );
  }
}

export const spfUnresolved: StackValidationPolicy = {
  name: "spf-unresolved",
  description:
    "Reports SPF include/redirect targets whose nested lookups cannot be counted offline.",
  enforcementLevel: "advisory",
  configSchema,
  validateStack,
};
