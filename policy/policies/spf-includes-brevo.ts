/**
 * spf-includes-brevo: the apex SPF record authorises the outbound relay, and there is exactly one.
 *
 * Why: all outbound mail relays through Brevo (smtp-relay.brevo.com:587). Without
 * include:spf.brevo.com receivers fail SPF for every message we send, and DMARC then quarantines
 * it. Two v=spf1 records at one name are a permerror (RFC 7208 3.2): SPF fails for everything.
 *
 * Fix: keep a single TXT at the apex like "v=spf1 include:spf.brevo.com ~all"; merge any other
 * v=spf1 record into it.
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
import { checkSingleRecord, recordOf, stackRecords, txtAt } from "../lib/dns";
import { PreviewGaps, raise, Unknown } from "../lib/plain";
import { parseSpf } from "../lib/spf";
import { plainResources } from "../lib/stack";

const SPF = /^v=spf1(\s|$)/i;

const configSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain (zone apex)" },
    relayInclude: {
      type: "string",
      default: SPEC.relaySpfInclude,
      description: "SPF include of the outbound relay",
    },
  },
};

interface Config {
  domain: string;
  relayInclude: string;
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return;
  const text = txtAt(record, (n) => n === cfg.domain, SPF);
  if (text instanceof Unknown) raise(text);
  if (typeof text !== "string") return;
  const include = parseSpf(text).mechanisms.find(
    (m) => m.name === "include" && m.arg?.toLowerCase() === cfg.relayInclude.toLowerCase(),
  );
  if (!include) {
    report(
      `SPF at ${cfg.domain} lacks include:${cfg.relayInclude}, so mail relayed through it fails SPF; add include:${cfg.relayInclude} before the all term.`,
    );
  } else if (include.qualifier !== "+") {
    report(
      `SPF at ${cfg.domain} has ${include.qualifier}include:${cfg.relayInclude}, which does not authorise the relay; drop the "${include.qualifier}" qualifier.`,
    );
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const records = stackRecords(plainResources(args.resources), cfg.domain);
  checkSingleRecord(
    records,
    (n) => n === cfg.domain,
    SPF,
    `v=spf1 TXT at ${cfg.domain}`,
    report,
    gaps,
  );
  gaps.settle();
}

export const spfIncludesBrevo: ResourceValidationPolicy & StackValidationPolicy = {
  name: "spf-includes-brevo",
  description: "The apex SPF record includes the Brevo relay, and it is the only SPF record there.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
