/**
 * What scenario 6 reads from the plan: the Worker Cloudflare would run and the `mta-sts.<domain>`
 * host routed to it, the `_mta-sts` TXT record, and every MX host of the zone after the plan.
 */
import type { Json } from "miniflare";
import type { CapturedResource, ProgramRun } from "../../offline/mock-program";
import { zoneRecords } from "../../offline/world-answers";
import { loadWorld } from "../../world/load";

const SCRIPT = "cloudflare:index/workersScript:WorkersScript";
const CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain";
const ROUTE = "cloudflare:index/workersRoute:WorkersRoute";
const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";

/** The Worker as planned: what Cloudflare would run, and the policy host routed to it. */
export interface PlannedWorker {
  scriptName: string;
  mainModule: string;
  content: string;
  bindings: Record<string, Json>;
  compatibilityDate?: string;
  compatibilityFlags?: string[];
  /** `mta-sts.<domain>`, from the custom domain or route onto this script. */
  host: string;
  domain: string;
  /** Which planned resource sends the host to the script. */
  via: string;
}

/** One host a sender may deliver to, and why it is in the list. */
export interface ZoneMx {
  host: string;
  from: string;
}

/** The plan lacks what the scenario needs: a finding about the program, not a crash. */
export class PlanError extends Error {}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function ofType(run: ProgramRun, type: string): CapturedResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** A planned way onto a Worker: custom domain (`hostname`, `service`), route (`pattern`, `script`). */
interface Entry {
  host: string;
  script: unknown;
  via: string;
}

/** The policy hosts the plan routes to a Worker; a route pattern's host is before its first "/". */
function policyEntries(run: ProgramRun): Entry[] {
  const domains = ofType(run, CUSTOM_DOMAIN).map((d) => ({
    host: String(d.inputs.hostname),
    script: d.inputs.service,
    via: `${d.name} (custom domain)`,
  }));
  const routes = ofType(run, ROUTE).map((r) => ({
    host: String(r.inputs.pattern).split("/")[0],
    script: r.inputs.script,
    via: `${r.name} (route ${String(r.inputs.pattern)})`,
  }));
  // RFC 8461 §3.3: the Policy Host is "mta-sts" prepended to the Policy Domain.
  return [...domains, ...routes].filter((e) => /^mta-sts\.[^*/]+$/.test(e.host));
}

/** The planned Worker and the host it serves; a PlanError says what the plan lacks. */
export function plannedWorker(run: ProgramRun): PlannedWorker {
  const scripts = ofType(run, SCRIPT);
  const entries = policyEntries(run);
  for (const entry of entries) {
    const script = scripts.find((s) => s.inputs.scriptName === entry.script);
    if (script) return workerOf(script, entry);
  }
  throw new PlanError(
    `no ${CUSTOM_DOMAIN} or ${ROUTE} for an mta-sts.<domain> host serving a planned ${SCRIPT} ` +
      `(found ${scripts.length} script(s), ${entries.length} mta-sts host(s))`,
  );
}

function workerOf(script: CapturedResource, entry: Entry): PlannedWorker {
  const { inputs } = script;
  const mainModule = str(inputs.mainModule);
  const content = str(inputs.content);
  if (mainModule === undefined || content === undefined) {
    throw new PlanError(`${script.name}: expected a module Worker (mainModule and content)`);
  }
  const flags = inputs.compatibilityFlags;
  return {
    scriptName: String(inputs.scriptName),
    mainModule,
    content,
    bindings: bindingsOf(script),
    compatibilityDate: str(inputs.compatibilityDate),
    compatibilityFlags: Array.isArray(flags) ? flags.map(String) : undefined,
    host: entry.host,
    domain: entry.host.slice("mta-sts.".length),
    via: entry.via,
  };
}

/** The script's bindings as miniflare takes them: a string for a text binding (miniflare README). */
function bindingsOf(script: CapturedResource): Record<string, Json> {
  const list = Array.isArray(script.inputs.bindings) ? script.inputs.bindings : [];
  const out: Record<string, Json> = {};
  for (const b of list as Record<string, unknown>[]) {
    const name = String(b.name);
    if (b.type === "plain_text" || b.type === "secret_text") out[name] = String(b.text);
    else if (b.type === "json") out[name] = JSON.parse(String(b.json)) as Json;
    else
      throw new PlanError(
        `${script.name}: binding ${name} of type ${String(b.type)} is not rehearsed`,
      );
  }
  return out;
}

/** The planned `_mta-sts.<domain>` TXT as DNS delivers it (Cloudflare's quoted strings joined). */
export function plannedStsTxt(run: ProgramRun, domain: string): string | undefined {
  const record = ofType(run, DNS_RECORD).find(
    (r) => r.inputs.type === "TXT" && r.inputs.name === `_mta-sts.${domain}`,
  );
  const content = str(record?.inputs.content);
  if (content === undefined) return undefined;
  const quoted = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  return quoted.length > 0 ? quoted.join("") : content;
}

let recordedMx: { name: string; content: string }[] | undefined;
/**
 * The zone's apex MX hosts as recorded in world/ (other stacks' too, such as the backup MX): the
 * program reads them at preview, and a sender may deliver to any of them. world/ready edits none.
 */
function recordedZoneMx(domain: string): ZoneMx[] {
  recordedMx ??= zoneRecords(loadWorld("ready")).filter((r) => r.type === "MX");
  return recordedMx
    .filter((r) => r.name === domain)
    .map((r) => ({ host: r.content, from: "another stack's record in the zone, world/" }));
}

/** Every MX host of the zone after the plan: the planned MX records, then the zone's others. */
export function zoneMx(run: ProgramRun, domain: string): ZoneMx[] {
  const planned = ofType(run, DNS_RECORD)
    .filter((r) => r.inputs.type === "MX" && r.inputs.name === domain)
    .map((r) => ({ host: String(r.inputs.content), from: `planned DnsRecord ${r.name}` }));
  const norm = (h: string) => h.toLowerCase().replace(/\.$/, "");
  const others = recordedZoneMx(domain).filter(
    (m) => !planned.some((p) => norm(p.host) === norm(m.host)),
  );
  return [...planned, ...others];
}
