/**
 * mail-dns-only: MX records and the mail hosts' A/AAAA/CNAME records are DNS-only.
 *
 * Why: Cloudflare's proxy carries HTTP(S) only. A proxied mail.<domain> resolves to Cloudflare
 * edge IPs, so SMTP on port 25 (and IMAP) stops reaching 176.12.22.76 and inbound mail queues
 * at senders until they give up.
 *
 * Invariant (effective state): every name a sending MTA or mail client resolves to reach the
 * mail server answers with the home IPs, not Cloudflare's. Paths: MX records, A/AAAA/CNAME of
 * mailHosts, of every MX target and every target of a mail client SRV record (RFC 6186, RFC 8314:
 * `_submission(s)`, `_imap(s)`, `_pop3(s)` over `_tcp`, target from `data` or `content`) in the
 * stack (apex included) and of every in-zone CNAME target reached from them, under both
 * Cloudflare tokens and any name spelling; `proxied` defaults false.
 *
 * Fix: set proxied: false on the record. The webmail at the same name is reached directly too.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { fqdn, isDnsRecord, recordOf, stackRecords, type DnsRecordView } from "../lib/dns";
import { PreviewGaps, Unknown } from "../lib/plain";
import { plainResources } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain (zone)" },
    mailHosts: {
      type: "array",
      items: { type: "string" },
      default: [...SPEC.mailHosts],
      description: "Host names that receive SMTP/IMAP",
    },
  },
};

interface Config {
  domain: string;
  mailHosts: string[];
}

const HOST_TYPES = ["A", "AAAA", "CNAME"];

/** Reports `r` when proxied; `hosts` are the names that must stay DNS-only. */
function checkRecord(
  r: DnsRecordView,
  hosts: Set<string>,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  if (gaps.check(r.type, r.resource) || gaps.check(r.fqdn, r.resource)) return;
  const relevant = r.type === "MX" || (HOST_TYPES.includes(r.type) && hosts.has(r.fqdn));
  if (!relevant || gaps.check(r.proxied, r.resource) || r.proxied !== true) return;
  report(
    `${r.type} ${r.fqdn} (${r.resource}) is proxied through Cloudflare, which does not carry SMTP/IMAP; set proxied: false.`,
    r.urn,
  );
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return;
  const gaps = new PreviewGaps();
  checkRecord(record, new Set(cfg.mailHosts.map((h) => fqdn(h, cfg.domain))), report, gaps);
  gaps.settle();
}

/** The SRV services mail clients look up: RFC 6186 section 3, and RFC 8314 section 5.1. */
const MAIL_SRV = ["_submission", "_submissions", "_imap", "_imaps", "_pop3", "_pop3s"].map(
  (s) => `${s}._tcp.`,
);

/**
 * The host a sender or client connects to through `r`: an MX's exchange, or the target of a
 * mail SRV record ("." means no service, RFC 2782); undefined for other records.
 */
function mailTarget(r: DnsRecordView, zone: string, gaps: PreviewGaps): string | undefined {
  if (r.type === "MX") {
    if (gaps.check(r.content, r.resource) || !r.content) return undefined;
    return r.content.trim().toLowerCase().replace(/\.$/, "");
  }
  if (r.type !== "SRV" || typeof r.fqdn !== "string") return undefined;
  const name = r.fqdn;
  if (!MAIL_SRV.some((s) => name.startsWith(s))) return undefined;
  if (gaps.check(r.srvTarget, r.resource) || !r.srvTarget || r.srvTarget === ".") return undefined;
  return fqdn(r.srvTarget, zone);
}

/**
 * MX and mail SRV targets missing from mailHosts, and CNAME targets of mail hosts, must be
 * DNS-only too.
 */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const records = stackRecords(plainResources(args.resources, isDnsRecord), cfg.domain);
  const configured = new Set(cfg.mailHosts.map((h) => fqdn(h, cfg.domain)));
  const extra = new Set<string>();
  for (const r of records) {
    const target = mailTarget(r, cfg.domain, gaps);
    if (target && !configured.has(target)) extra.add(target);
  }
  // A mail host that is a CNAME resolves to its target's addresses: follow the chain.
  for (let grew = true; grew;) {
    grew = false;
    for (const r of records) {
      if (r.type !== "CNAME" || typeof r.fqdn !== "string" || typeof r.content !== "string")
        continue;
      if (!configured.has(r.fqdn) && !extra.has(r.fqdn)) continue;
      const target = fqdn(r.content, cfg.domain);
      if (configured.has(target) || extra.has(target)) continue;
      extra.add(target);
      grew = true;
    }
  }
  for (const r of records) {
    if (r.type !== "MX" && !(r.fqdn instanceof Unknown)) checkRecord(r, extra, report, gaps);
  }
  gaps.settle();
}

export const mailDnsOnly: ResourceValidationPolicy & StackValidationPolicy = {
  name: "mail-dns-only",
  description:
    "MX records and the A/AAAA/CNAME records of mail hosts are not proxied by Cloudflare.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
