/**
 * mta-sts-served: the `_mta-sts` TXT has a policy file served by this stack at
 * https://mta-sts.<domain>/.well-known/mta-sts.txt (a Cloudflare Worker bound to that host), the
 * TXT id is derived from the exact bytes served, and the policy's mx lines cover every MX host.
 *
 * Why: a TXT without a served policy makes senders fail open (RFC 8461 §3.3) and TLS-RPT reporters
 * send fetch-error reports every day; an id that does not follow the bytes leaves senders on a
 * stale cached policy; an MX host missing from the mx lines gets no mail under `mode: enforce`.
 *
 * Fix: serve the policy with MtaStsSite (components/mta-sts.ts): a WorkersScript whose plain_text
 * binding carries DnsRecords.mtaStsPolicy and a WorkersCustomDomain for mta-sts.<domain>; publish
 * id = the first 20 hex digits of the policy's SHA-256 (lib/dns-text.ts mtaStsPolicyId).
 */
import { createHash } from "node:crypto";
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { isDnsRecord, parseTags, stackRecords, txtAt, type DnsRecordView } from "../lib/dns";
import { once } from "../lib/memo";
import { at, list, str, Unknown, PreviewGaps } from "../lib/plain";
import { plainResources, type StackResource } from "../lib/stack";
import { WORKER_DOMAIN_TYPE, WORKER_SCRIPT_TYPES } from "../lib/workers";

const configSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain" },
    bindingName: {
      type: "string",
      default: "MTA_STS_POLICY",
      description: "plain_text binding of the Worker that carries the policy file",
    },
  },
};

interface Config {
  domain: string;
  bindingName: string;
}

const MAX_AGE_LIMIT = 31557600;

/** The id the stack derives from the served bytes (lib/dns-text.ts mtaStsPolicyId). */
export function policyId(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 20);
}

interface ParsedPolicy {
  mode?: string;
  mx: string[];
  errors: string[];
}

/** RFC 8461 §3.2 policy file: `key: value` lines (CRLF or LF), version first. */
export function parsePolicy(text: string): ParsedPolicy {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const fields = lines.map((l) => {
    const i = l.indexOf(":");
    return i < 0 ? ["", l] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
  });
  const errors: string[] = [];
  if (fields[0]?.[0] !== "version" || fields[0]?.[1] !== "STSv1") {
    errors.push('the first line must be "version: STSv1"');
  }
  const value = (key: string) => fields.find(([k]) => k === key)?.[1];
  const mode = value("mode");
  if (!mode || !["enforce", "testing", "none"].includes(mode)) {
    errors.push(`mode ${JSON.stringify(mode ?? null)} must be enforce, testing or none`);
  }
  const maxAge = value("max_age");
  if (!maxAge || !/^[0-9]{1,10}$/.test(maxAge) || Number(maxAge) > MAX_AGE_LIMIT) {
    errors.push(`max_age ${JSON.stringify(maxAge ?? null)} must be 0-${MAX_AGE_LIMIT} seconds`);
  }
  const mx = fields.filter(([k]) => k === "mx").map(([, v]) => (v ?? "").toLowerCase());
  if (mode !== "none" && mx.length === 0) errors.push("no mx line");
  return { mode, mx, errors };
}

/** RFC 8461 §4.1: an mx pattern matches the host exactly or, as `*.x`, one label under x. */
export function mxMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === host;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

/** Policy text served on `host` by a Worker of the stack, or undefined; Unknown in preview. */
function servedPolicy(
  resources: readonly StackResource[],
  host: string,
  cfg: Config,
  gaps: PreviewGaps,
): string | undefined {
  const services = new Set<string>();
  for (const r of resources.filter((x) => x.type === WORKER_DOMAIN_TYPE)) {
    const hostname = at(r.props, "hostname");
    const service = at(r.props, "service");
    if (gaps.check(hostname, r.name) || gaps.check(service, r.name)) continue;
    if (str(hostname)?.toLowerCase() === host && str(service)) services.add(str(service) ?? "");
  }
  for (const r of resources.filter((x) => WORKER_SCRIPT_TYPES.includes(x.type))) {
    const scriptName = at(r.props, "scriptName");
    if (gaps.check(scriptName, r.name) || !services.has(str(scriptName) ?? "")) continue;
    for (const b of list(at(r.props, "bindings"))) {
      if (str(at(b, "name")) !== cfg.bindingName || str(at(b, "type")) !== "plain_text") continue;
      const text = at(b, "text");
      if (gaps.check(text, `${r.name} binding ${cfg.bindingName}`)) continue;
      if (typeof text === "string") return text;
    }
  }
  return undefined;
}

/** MX hosts at the apex; undefined entries were unknown (noted in gaps). */
function mxHosts(records: DnsRecordView[], domain: string, gaps: PreviewGaps): string[] {
  const hosts: string[] = [];
  for (const r of records) {
    if (gaps.check(r.type, r.resource) || r.type !== "MX") continue;
    if (gaps.check(r.fqdn, r.resource) || r.fqdn !== domain) continue;
    if (gaps.check(r.content, r.resource) || typeof r.content !== "string") continue;
    hosts.push(r.content.toLowerCase().replace(/\.$/, ""));
  }
  return hosts;
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const resources = plainResources(
    args.resources,
    (t) => isDnsRecord(t) || t === WORKER_DOMAIN_TYPE || WORKER_SCRIPT_TYPES.includes(t),
  );
  const records = stackRecords(resources, cfg.domain);
  const host = `mta-sts.${cfg.domain}`;
  const url = `https://${host}/.well-known/mta-sts.txt`;
  // The same for every _mta-sts record: looked up when the first one needs it, then reused.
  const served = once(() => servedPolicy(resources, host, cfg, gaps));
  const mx = once(() => mxHosts(records, cfg.domain, gaps));
  let txtCount = 0;
  for (const r of records) {
    const text = txtAt(r, (n) => n === `_mta-sts.${cfg.domain}`, /^v=STSv1\b/);
    if (text instanceof Unknown) gaps.note(text, r.resource);
    if (typeof text !== "string") continue;
    txtCount++;
    const id = new Map(parseTags(text).tags).get("id");
    // A missing or malformed id is mta-sts-valid's to report.
    if (id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id)) continue;
    const policy = served();
    if (policy === undefined) {
      if (gaps.pending) continue;
      report(
        `_mta-sts.${cfg.domain} (${r.resource}) publishes id=${id}, but nothing in this stack serves ${url}: senders fail open and TLS-RPT reports fetch errors daily. Serve the policy with MtaStsSite (components/mta-sts.ts): a WorkersScript with plain_text binding ${cfg.bindingName} and a WorkersCustomDomain for ${host}.`,
        r.urn,
      );
      continue;
    }
    checkServed(policy, id, mx(), r, url, report);
  }
  gaps.settle();
  if (txtCount === 0) args.notApplicable(`no _mta-sts.${cfg.domain} TXT in this stack`);
}

function checkServed(
  served: string,
  id: string,
  mx: string[],
  r: DnsRecordView,
  url: string,
  report: ReportViolation,
): void {
  const expected = policyId(served);
  if (id !== expected) {
    report(
      `_mta-sts TXT (${r.resource}) publishes id=${id}, but the policy served at ${url} hashes to id=${expected}: senders keep a stale cached policy. Publish id=${expected} (DnsRecords derives it with mtaStsPolicyId from the served text).`,
      r.urn,
    );
  }
  const policy = parsePolicy(served);
  for (const e of policy.errors) {
    report(`The policy served at ${url} is invalid (RFC 8461 §3.2): ${e}; fix the text.`, r.urn);
  }
  for (const host of mx.filter((h) => !policy.mx.some((p) => mxMatches(p, h)))) {
    report(
      `MX host ${host} is not covered by any mx line of the policy served at ${url} (${policy.mx.join(", ") || "none"}): under mode ${policy.mode ?? "?"} senders refuse to deliver there. Add "mx: ${host}" (DnsRecords builds the lines from mxHosts).`,
      r.urn,
    );
  }
}

export const mtaStsServed: StackValidationPolicy = {
  name: "mta-sts-served",
  description:
    "The _mta-sts TXT has a policy served by this stack whose bytes hash to its id and whose mx lines cover the MX hosts.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
