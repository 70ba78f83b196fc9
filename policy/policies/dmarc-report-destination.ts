/**
 * dmarc-report-destination (advisory): DMARC reports addressed outside the domain.
 *
 * Why: a rua/ruf address in another domain receives reports only if that domain publishes
 * "<our domain>._report._dmarc.<their domain>" TXT "v=DMARC1" (RFC 7489 7.1). That cannot be
 * checked offline, so it is flagged, not blocked. The spec's decision is the in-domain address
 * dmarc@<domain> (the live record still pointed at Mailgun during the cutover).
 *
 * Fix: use rua=mailto:dmarc@<domain>, or confirm the receiver's authorisation record exists.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { DOMAIN_SCHEMA, readConfig } from "../lib/config";
import { DMARC_VERSION, isDmarcName, parseDmarcTags } from "../lib/dmarc";
import { recordOf, txtAt } from "../lib/dns";
import { raise, Unknown } from "../lib/plain";

const configSchema = DOMAIN_SCHEMA;

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const { domain } = readConfig<{ domain: string }>(configSchema, args.getConfig());
  const record = recordOf(args.type, args.name, args.urn, args.props, domain);
  if (!record) return;
  const text = txtAt(record, isDmarcName(domain), DMARC_VERSION);
  if (text instanceof Unknown) raise(text);
  if (typeof text !== "string") return;
  const tags = new Map(parseDmarcTags(text).tags);
  for (const tag of ["rua", "ruf"]) {
    for (const uri of tags.get(tag)?.split(",") ?? []) {
      const dest = /@([^@\s!]+)/.exec(uri)?.[1]?.toLowerCase();
      if (!dest || dest === domain || dest.endsWith(`.${domain}`)) continue;
      report(
        `${tag} sends reports to ${dest}, outside ${domain}: they arrive only if ${dest} publishes TXT ${domain}._report._dmarc.${dest} "v=DMARC1" (not checkable offline); prefer mailto:dmarc@${domain}.`,
      );
    }
  }
}

export const dmarcReportDestination: ResourceValidationPolicy = {
  name: "dmarc-report-destination",
  description:
    "DMARC report addresses outside the domain need the receiver's authorisation record.",
  enforcementLevel: "advisory",
  configSchema,
  validateResource,
};
