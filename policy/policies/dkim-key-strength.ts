/**
 * dkim-key-strength: DKIM records parse and RSA keys have at least minBits (2048).
 *
 * Why: RFC 8301 forbids RSA keys under 1024 bits and recommends 2048; weak keys can be factored
 * and then anyone can sign mail as us, passing DKIM and DMARC. A record that does not parse
 * makes every signature with that selector fail.
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
import { dkimConfigSchema, dkimOf, HARD_MIN_BITS, type DkimConfig } from "../lib/dkim";

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<DkimConfig>(dkimConfigSchema, args.getConfig());
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
