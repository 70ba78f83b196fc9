/**
 * spf-includes-brevo: the apex SPF record authorises the outbound relay, and there is exactly one.
 *
 * Why: all outbound mail relays through Brevo (smtp-relay.brevo.com:587). Without
 * include:spf.brevo.com receivers fail SPF for every message we send, and DMARC then quarantines
 * it. Two v=spf1 records at one name are a permerror (RFC 7208 3.2): SPF fails for everything.
 *
 * Invariant (effective state): receivers evaluating the apex SPF reach a pass ("+") include of
 * the relay through records this stack publishes: directly, or through an include/redirect to a
 * name in the zone whose record the stack also publishes. A third party's record (include:other)
 * does not count: it can change without this repository. Paths: every TXT at the apex under
 * either Cloudflare token, any spelling of the name, any case of terms (RFC 7208 4.6.1, 12),
 * quoted strings concatenated without separator (RFC 7208 3.3), mechanisms after `all`
 * (never evaluated) and redirect next to `all` (ignored, RFC 7208 6.1).
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
import { checkSingleRecord, isDnsRecord, recordOf, stackRecords, txtAt } from "../lib/dns";
import { PreviewGaps, raise, Unknown } from "../lib/plain";
import {
  evaluatedMechanisms,
  followedNames,
  parseSpf,
  resolveSpf,
  SPF_PREFIX,
  stackSpfLookup,
} from "../lib/spf";
import { plainResources } from "../lib/stack";

const SPF = SPF_PREFIX;

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

/** Does the record follow include/redirect names inside the zone (decided by the stack view)? */
function followsZone(text: string, domain: string): boolean {
  const zone = domain.toLowerCase();
  return followedNames(parseSpf(text)).some(
    ({ name }) => name === zone || name.endsWith(`.${zone}`),
  );
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const record = recordOf(args.type, args.name, args.urn, args.props, cfg.domain);
  if (!record) return;
  const text = txtAt(record, (n) => n === cfg.domain, SPF);
  if (text instanceof Unknown) raise(text);
  if (typeof text !== "string") return;
  const relay = cfg.relayInclude.toLowerCase();
  const spf = parseSpf(text);
  const include = evaluatedMechanisms(spf).find(
    (m) => m.name === "include" && m.arg?.toLowerCase() === relay,
  );
  if (include && include.qualifier !== "+") {
    report(
      `SPF at ${cfg.domain} has ${include.qualifier}include:${cfg.relayInclude}, which does not authorise the relay; drop the "${include.qualifier}" qualifier.`,
    );
  } else if (!include && !followsZone(text, cfg.domain)) {
    const late = spf.mechanisms.some((m) => m.name === "include" && m.arg?.toLowerCase() === relay);
    const why = late ? " (it comes after the all term, which ends evaluation)" : "";
    report(
      `SPF at ${cfg.domain} lacks include:${cfg.relayInclude}${why}, so mail relayed through it fails SPF; add include:${cfg.relayInclude} before the all term.`,
    );
  }
}

/** One SPF record at the apex; relay authorisation through the zone's own include/redirect. */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const records = stackRecords(plainResources(args.resources, isDnsRecord), cfg.domain);
  const apex = (n: string) => n === cfg.domain;
  checkSingleRecord(records, apex, SPF, `v=spf1 TXT at ${cfg.domain}`, report, gaps);
  const lookup = stackSpfLookup(records);
  const text = lookup(cfg.domain);
  if (text !== undefined && followsZone(text, cfg.domain)) {
    const resolved = resolveSpf(text, lookup, cfg.relayInclude, {});
    if (!resolved.relay) {
      const via = followedNames(parseSpf(text))
        .map((f) => f.name)
        .join(", ");
      report(
        `SPF at ${cfg.domain} does not reach include:${cfg.relayInclude} through the records this stack publishes (followed: ${via}), so mail relayed through it fails SPF; add include:${cfg.relayInclude} to the apex record or to the in-zone record it includes.`,
      );
    }
  }
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
