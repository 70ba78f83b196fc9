/**
 * dmarc-enforcing: one valid DMARC record at _dmarc.<domain> with p=quarantine or p=reject.
 *
 * Why: p=none only monitors, so spoofed mail claiming our domain is delivered; a malformed or
 * duplicated record is ignored by receivers (RFC 7489 6.6.3), which equals no DMARC.
 *
 * Invariant (effective state): receivers find exactly one DMARC record at _dmarc.<domain> and
 * apply quarantine or reject to all mail (pct 100) and to subdomains (sp). Paths: every TXT at
 * that name, under either Cloudflare token, in any name spelling (@-relative, FQDN, trailing dot,
 * any case) and split into several strings; RFC 7489 6.4 lets tag names and the p/sp/adkim/aspf
 * values take any case and whitespace around "=" and ";" (the "DMARC1" value is case-sensitive).
 *
 * Fix: publish exactly one TXT "v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@<domain>"
 * (v first, p required, adkim/aspf r|s, pct 100, rua/ruf mailto: URIs).
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DOMAIN_SCHEMA, readConfig } from "../lib/config";
import { checkSingleRecord, isDnsRecord, recordOf, stackRecords, txtAt } from "../lib/dns";
import { DMARC_VERSION, isDmarcName, parseDmarcTags } from "../lib/dmarc";
import { PreviewGaps, raise, Unknown } from "../lib/plain";
import { plainResources } from "../lib/stack";

const configSchema = DOMAIN_SCHEMA;

interface Config {
  domain: string;
}

const ENFORCING = ["quarantine", "reject"];

/** Problems of a DMARC record's text; empty when valid and enforcing. */
export function dmarcProblems(text: string): string[] {
  const { tags, errors } = parseDmarcTags(text);
  const problems = [...errors];
  const map = new Map(tags);
  if (tags[0]?.[0] !== "v" || tags[0][1] !== "DMARC1") problems.push('"v=DMARC1" must come first');
  const p = map.get("p")?.toLowerCase();
  if (p === undefined) problems.push("p= is required");
  else if (!["none", ...ENFORCING].includes(p))
    problems.push(`p=${p} is not none|quarantine|reject`);
  else if (!ENFORCING.includes(p))
    problems.push(`p=${p} does not enforce; use p=quarantine or p=reject`);
  const sp = map.get("sp")?.toLowerCase();
  if (sp !== undefined && !ENFORCING.includes(sp)) problems.push(`sp=${sp} does not enforce`);
  for (const tag of ["adkim", "aspf"]) {
    const v = map.get(tag)?.toLowerCase();
    if (v !== undefined && v !== "r" && v !== "s") problems.push(`${tag}=${v} must be r or s`);
  }
  const pct = map.get("pct");
  if (pct !== undefined && !(/^\d+$/.test(pct) && Number(pct) === 100)) {
    problems.push(`pct=${pct} applies the policy to part of the mail only; use pct=100`);
  }
  for (const tag of ["rua", "ruf"]) {
    const uris = map.get(tag)?.split(",") ?? [];
    for (const uri of uris) {
      if (!/^mailto:[^@\s]+@[^@\s]+$/i.test(uri.trim()))
        problems.push(`${tag} URI "${uri}" is not mailto:`);
    }
  }
  return problems;
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return;
  const text = txtAt(record, isDmarcName(cfg.domain), /^/);
  if (text instanceof Unknown) raise(text);
  if (typeof text !== "string") return;
  for (const problem of dmarcProblems(text)) {
    report(`DMARC at _dmarc.${cfg.domain}: ${problem}.`);
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const records = stackRecords(plainResources(args.resources, isDnsRecord), cfg.domain);
  checkSingleRecord(records, isDmarcName(cfg.domain), DMARC_VERSION, "DMARC", report, gaps);
  gaps.settle();
}

export const dmarcEnforcing: ResourceValidationPolicy & StackValidationPolicy = {
  name: "dmarc-enforcing",
  description: "One valid DMARC record whose policy enforces (p=quarantine or p=reject).",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
