/**
 * dkim-legacy-key (advisory): weak keys that dkim-key-strength lets through by config.
 *
 * Why: the exception for Mailgun's 1024-bit s1 key is deliberate (the roundtrip probe still
 * sends through Mailgun), but it must stay visible on every preview rather than pass silently.
 * So must each selector delegated by CNAME that delegatedSelectors trusts unread (Brevo's).
 *
 * Fix: rotate the selector to a 2048-bit key in the sender's dashboard, then remove it from
 * legacySelectors in both DKIM policies' config.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { readConfig } from "../lib/config";
import {
  delegationMatches,
  dkimConfigSchema,
  dkimDelegationOf,
  dkimOf,
  HARD_MIN_BITS,
  type DkimConfig,
} from "../lib/dkim";

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<DkimConfig>(dkimConfigSchema, args.getConfig());
  const delegation = dkimDelegationOf(args, cfg);
  if (delegation?.listed && delegationMatches(delegation)) {
    report(
      `DKIM ${delegation.selector}._domainkey.${cfg.domain} is a CNAME to ${delegation.target}, a key the pack cannot read, trusted because delegatedSelectors lists it (${JSON.stringify(delegation.listed.reason)}).`,
    );
    return;
  }
  const found = dkimOf(args, cfg);
  if (!found?.key.ok || found.key.keyType !== "rsa") return;
  const { selector, key } = found;
  if (!cfg.legacySelectors.includes(selector)) return;
  if (key.bits >= HARD_MIN_BITS && key.bits < cfg.minBits) {
    report(
      `DKIM ${selector}._domainkey.${cfg.domain} is a ${key.bits}-bit RSA key, allowed only because legacySelectors lists "${selector}"; rotate it to 2048 bits and drop the exception.`,
    );
  }
}

export const dkimLegacyKey: ResourceValidationPolicy = {
  name: "dkim-legacy-key",
  description:
    "Reports DKIM keys under 2048 bits allowed by legacySelectors, and CNAME selectors trusted by delegatedSelectors.",
  enforcementLevel: "advisory",
  configSchema: dkimConfigSchema,
  validateResource,
};
