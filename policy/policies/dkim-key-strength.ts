/**
 * dkim-key-strength: DKIM records parse and RSA keys have at least minBits (2048).
 *
 * Why: RFC 8301 forbids RSA keys under 1024 bits and recommends 2048; weak keys can be factored
 * and then anyone can sign mail as us, passing DKIM and DMARC. A record that does not parse
 * makes every signature with that selector fail.
 *
 * A selector published as a CNAME (a relay's domain authentication) points at a key the pack
 * cannot read offline: it is refused as "cannot verify" unless delegatedSelectors lists it with
 * the target it must point at and a reason; dkim-legacy-key reports each one in force.
 *
 * Fix: generate a 2048-bit key, publish it as split TXT strings at <selector>._domainkey and
 * rotate the signer. Selectors in legacySelectors (default s1, Mailgun's probe key) may stay at
 * 1024-2047 bits; dkim-legacy-key keeps reporting them so the exception is never forgotten.
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
  type DkimDelegation,
} from "../lib/dkim";

/** A CNAME selector: its key lives where the pack cannot read it, so it must be listed. */
function checkDelegation(d: DkimDelegation, domain: string, report: ReportViolation): void {
  const where = `DKIM ${d.selector}._domainkey.${domain}`;
  if (!d.listed) {
    report(
      `cannot verify: ${where} is a CNAME to ${d.target}, whose key the pack cannot read offline; publish the key as TXT here, or list {selector: "${d.selector}", target: "${d.target}", reason} in delegatedSelectors of dkim-key-strength and dkim-legacy-key (policy/config.prod.json).`,
    );
  } else if (!delegationMatches(d)) {
    report(
      `${where} is a CNAME to ${d.target}, but delegatedSelectors trusts it only pointing at ${d.listed.target}; point it back, or change the entry in both DKIM policies' config.`,
    );
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<DkimConfig>(dkimConfigSchema, args.getConfig());
  const delegation = dkimDelegationOf(args, cfg);
  if (delegation) return checkDelegation(delegation, cfg.domain, report);
  const found = dkimOf(args, cfg);
  if (!found) return;
  const { selector, key } = found;
  const where = `DKIM ${selector}._domainkey.${cfg.domain}`;
  if (!key.ok) {
    report(`${where}: ${key.error}; publish "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>".`);
    return;
  }
  if (key.keyType !== "rsa" || key.bits >= cfg.minBits) return;
  const legacy = cfg.legacySelectors.includes(selector);
  if (key.bits < HARD_MIN_BITS || !legacy) {
    report(
      `${where} is a ${key.bits}-bit RSA key, below ${legacy ? HARD_MIN_BITS : cfg.minBits} bits; publish a 2048-bit key and rotate the signer.`,
    );
  }
}

export const dkimKeyStrength: ResourceValidationPolicy = {
  name: "dkim-key-strength",
  description:
    "DKIM records parse and their RSA keys have at least 2048 bits (legacy selectors excepted).",
  enforcementLevel: "mandatory",
  configSchema: dkimConfigSchema,
  validateResource,
};
