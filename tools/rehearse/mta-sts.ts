/**
 * Scenario 6 "MTA-STS": the Worker the program deploys, run by Cloudflare's own runtime (workerd,
 * which miniflare drives: node_modules/miniflare/README.md) with its planned module, bindings and
 * compatibility date, and fetched over HTTPS by mailauth's strict RFC 8461 client the way a sending
 * MTA does. Then every MX of the zone must pass the served policy, an attacker's host must not, and
 * the `_mta-sts` id the program plans must follow the bytes workerd served.
 *
 * What stands in for the Internet: a resolver answering `_mta-sts` from the planned TXT record and
 * the policy host with loopback (for a custom domain Cloudflare creates that record itself:
 * developers.cloudflare.com/workers/configuration/routing/custom-domains), a throwaway
 * self-signed certificate for the policy host, and workerd's ephemeral port instead of 443. mailauth has no hook for its HTTPS request (it calls `https.request` with `port: 443` and
 * `agent: false`), so for the length of the one `getPolicy` call, and only for the request to the
 * policy host at loopback, the port is swapped and the throwaway certificate is trusted.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { ClientRequest, IncomingMessage } from "node:http";
import type { RequestOptions } from "node:https";
// The module object itself (not an ES namespace): the one mailauth's own require sees.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import httpsModule = require("node:https");
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import * as mailauth from "mailauth/lib/mta-sts";
import type { MTASTSPolicyResult } from "mailauth/lib/mta-sts";
import { Miniflare, type Json } from "miniflare";
import type { CapturedResource, ProgramRun } from "../offline/mock-program";
import { loadWorld } from "../world/load";
import { zoneRecords } from "../offline/world-answers";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";

const NAME = "6 MTA-STS";
const SCRIPT = "cloudflare:index/workersScript:WorkersScript";
const CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain";
const ROUTE = "cloudflare:index/workersRoute:WorkersRoute";
const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";
/** A host that is no MX of the zone: the policy must refuse it. */
const ATTACKER_MX = "mx.attacker.example";
/** Where the stand-in resolver puts the policy host; workerd listens here. */
const LOOPBACK = "127.0.0.1";
const SERVED_FILE = "mta-sts/served.txt";

/** The Worker as planned: what Cloudflare would run, and the policy host routed to it. */
interface PlannedWorker {
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
interface ZoneMx {
  host: string;
  from: string;
}

/** What workerd answered to mailauth's request, read from the same response mailauth parsed. */
interface Served {
  /** The URL mailauth asked for (its host, its path). */
  url: string;
  status: number;
  contentType: string;
  /** The body as far as it arrived. */
  body: Buffer;
  /** False when mailauth dropped the response before its end (it stops reading at a non-200). */
  complete: boolean;
}

interface Check {
  ok: boolean;
  line: string;
}

class PlanError extends Error {}

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
function plannedWorker(run: ProgramRun): PlannedWorker {
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
function plannedStsTxt(run: ProgramRun, domain: string): string | undefined {
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
function zoneMx(run: ProgramRun, domain: string): ZoneMx[] {
  const planned = ofType(run, DNS_RECORD)
    .filter((r) => r.inputs.type === "MX" && r.inputs.name === domain)
    .map((r) => ({ host: String(r.inputs.content), from: `planned DnsRecord ${r.name}` }));
  const norm = (h: string) => h.toLowerCase().replace(/\.$/, "");
  const others = recordedZoneMx(domain).filter(
    (m) => !planned.some((p) => norm(p.host) === norm(m.host)),
  );
  return [...planned, ...others];
}

/** A throwaway self-signed certificate for the policy host, with the DNS-ID SAN RFC 8461 §3.3 asks. */
async function throwawayCert(host: string, dir: string, signal: AbortSignal) {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  await promisify(execFile)(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-days", "1", "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`],
      ...["-keyout", key, "-out", cert],
    ],
    { signal },
  );
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** workerd serving the planned script over HTTPS on loopback (miniflare README, `https*`, `port`). */
function startWorkerd(worker: PlannedWorker, tls: { key: string; cert: string }): Miniflare {
  return new Miniflare({
    host: LOOPBACK,
    port: 0,
    httpsKey: tls.key,
    httpsCert: tls.cert,
    // Cloudflare runs the upload's main module; `contents` keeps it from being read from disk.
    modules: [{ type: "ESModule", path: worker.mainModule, contents: worker.content }],
    bindings: worker.bindings,
    compatibilityDate: worker.compatibilityDate,
    compatibilityFlags: worker.compatibilityFlags,
    // Placeholder `request.cf`: a real one would be fetched from Cloudflare (miniflare README, `cf`).
    cf: false,
  });
}

/** A DNS resolver for mailauth: `_mta-sts` from the plan, the policy host at loopback. */
function resolverFor(worker: PlannedWorker, txt: string | undefined) {
  return (name: string, type: string): Promise<string[] | string[][]> => {
    if (name === `_mta-sts.${worker.domain}` && type === "TXT" && txt !== undefined) {
      return Promise.resolve([[txt]]);
    }
    if (name === worker.host && type === "A") return Promise.resolve([LOOPBACK]);
    return Promise.reject(Object.assign(new Error(`no ${type} for ${name}`), { code: "ENODATA" }));
  };
}

type Respond = (res: IncomingMessage) => void;
type RequestFn = (...args: unknown[]) => ClientRequest;

/** mailauth's policy request: `https.request(options, cb)` to the policy host at loopback. */
function isPolicyRequest(args: unknown[], host: string): args is [RequestOptions, Respond?] {
  const [options] = args;
  if (typeof options !== "object" || options === null || options instanceof URL) return false;
  const o = options as RequestOptions;
  return args.length <= 2 && o.host === LOOPBACK && o.servername === host;
}

/**
 * Runs `fn` with Node's `https.request` sending the policy request (to `host` at loopback) to
 * workerd's port, trusting `ca` for that request alone, and recording what workerd answered.
 * Every other request passes through untouched; the original is restored after.
 */
async function withPolicyRoute<T>(
  route: { host: string; port: number; ca: string },
  fn: () => Promise<T>,
): Promise<{ value: T; served?: Served }> {
  const original = httpsModule.request as unknown as RequestFn;
  let served: Served | undefined;
  const routed: RequestFn = (...args) => {
    if (!isPolicyRequest(args, route.host)) return original(...args);
    const [options, cb] = args;
    return original({ ...options, port: route.port, ca: route.ca }, (res: IncomingMessage) => {
      served = recordResponse(`https://${route.host}${options.path ?? ""}`, res);
      cb?.(res);
    });
  };
  Object.assign(httpsModule, { request: routed });
  try {
    return { value: await fn(), served };
  } finally {
    Object.assign(httpsModule, { request: original });
  }
}

/** Tees the response body; mailauth's own listener attaches in the same tick, so both see all. */
function recordResponse(url: string, res: IncomingMessage): Served {
  const served: Served = {
    url,
    status: res.statusCode ?? 0,
    contentType: String(res.headers["content-type"] ?? ""),
    body: Buffer.alloc(0),
    complete: false,
  };
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => {
    chunks.push(c);
    served.body = Buffer.concat(chunks);
  });
  res.on("end", () => (served.complete = true));
  return served;
}

function fetchCheck(worker: PlannedWorker, r: MTASTSPolicyResult, served?: Served): Check {
  const runtime =
    `Worker ${worker.scriptName} (${worker.mainModule}, compatibility date ` +
    `${worker.compatibilityDate ?? "unset"}) on ${worker.host} via ${worker.via}`;
  const answer = served
    ? `GET ${served.url}: workerd ${served.status} ${served.contentType || "(no content-type)"}, ` +
      (served.complete ? `${served.body.length} bytes` : "body not read")
    : "mailauth never asked workerd";
  const p = r.policy as MTASTSPolicyResult["policy"] & {
    error?: { code?: string; message: string };
  };
  const parsed =
    r.status === "found"
      ? `found, mode ${p.mode}, max_age ${p.maxAge}, mx ${(p.mx ?? []).join(" ")}`
      : `${r.status}${p.error ? ` (${p.error.code ?? "?"}: ${p.error.message})` : ""}`;
  const lax = r.warnings?.length ? `, lax acceptances ${r.warnings.join(" ")}` : "";
  return {
    ok: r.status === "found" && !r.warnings?.length,
    line: `${runtime}: ${answer}; mailauth strict getPolicy: ${parsed}${lax}`,
  };
}

function mxCheck(mx: ZoneMx, r: MTASTSPolicyResult): Check {
  const v = mailauth.validateMx(mx.host, r.policy);
  const ok = r.status === "found" && v.valid;
  const answer = v.valid ? `valid (mode ${v.mode})` : `refused (mode ${v.mode})`;
  return { ok, line: `MX ${mx.host} (${mx.from}): validateMx ${answer}` };
}

function attackerCheck(r: MTASTSPolicyResult): Check {
  const v = mailauth.validateMx(ATTACKER_MX, r.policy);
  const ok = r.status === "found" && !v.valid;
  const answer = v.valid ? `valid (mode ${v.mode}): an attacker's MX would be trusted` : "refused";
  return { ok, line: `MX ${ATTACKER_MX} (no MX of the zone): validateMx ${answer}` };
}

/**
 * The id rule, written out here rather than calling the program: the `_mta-sts` id is the first 20
 * hex digits of the SHA-256 of the policy file's bytes (docs/policies.md, mta-sts-served;
 * docs/operations.md, MTA-STS). RFC 8461 §3.1 asks only that the id be 1-32 letters or digits and
 * change whenever the policy does, which a hash of the served bytes guarantees.
 */
function idCheck(txt: string | undefined, served?: Served): Check {
  const id = /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(txt ?? "")?.[1];
  if (!served?.complete) {
    return { ok: false, line: `_mta-sts id=${id ?? "(none)"}: no policy bytes served to hash` };
  }
  const digest = createHash("sha256").update(served.body).digest("hex");
  const ok = id !== undefined && id === digest.slice(0, 20);
  return {
    ok,
    line:
      `_mta-sts TXT ${JSON.stringify(txt ?? "(not planned)")} vs SHA-256 of the ${served.body.length} ` +
      `bytes workerd served, first 20 hex digits ${digest.slice(0, 20)}: ${ok ? "match" : "mismatch"}`,
  };
}

function result(checks: Check[], files: string[]): ScenarioResult {
  return {
    name: NAME,
    verdict: checks.every((c) => c.ok) ? "pass" : "fail",
    evidence: checks.map((c) => `${c.ok ? "pass" : "FAIL"}: ${c.line}`),
    files,
  };
}

/** Rejects as soon as `signal` aborts, so a stopped rehearsal does not wait for a fetch. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Starts workerd, lets mailauth fetch through it and judges the answers; always disposes workerd. */
async function rehearse(
  ctx: RehearsalContext,
  worker: PlannedWorker,
  tls: { key: string; cert: string },
) {
  const mf = startWorkerd(worker, tls);
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= mf.dispose());
  const onAbort = () => void dispose();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const url = await abortable(started(mf), ctx.signal);
    if (typeof url === "string") return { checks: [{ ok: false, line: url }] };
    const txt = plannedStsTxt(ctx.run, worker.domain);
    const route = { host: worker.host, port: Number(url.port), ca: tls.cert };
    const { value: fetched, served } = await abortable(
      withPolicyRoute(route, () =>
        mailauth.getPolicy(worker.domain, null, {
          resolver: resolverFor(worker, txt),
          strict: true,
          timeout: 10_000,
        }),
      ),
      ctx.signal,
    );
    const checks = [
      fetchCheck(worker, fetched, served),
      ...zoneMx(ctx.run, worker.domain).map((mx) => mxCheck(mx, fetched)),
      attackerCheck(fetched),
      idCheck(txt, served),
    ];
    return { checks, served };
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    await dispose();
  }
}

/** workerd's URL, or why it refused the script (a finding about the program, not a crash). */
function started(mf: Miniflare): Promise<URL | string> {
  return mf.ready.catch((err: unknown) => `workerd did not start the Worker: ${String(err)}`);
}

function writeServed(out: string, served: Served | undefined): string[] {
  if (!served?.complete) return [];
  mkdirSync(path.join(out, path.dirname(SERVED_FILE)), { recursive: true });
  writeFileSync(path.join(out, SERVED_FILE), served.body);
  return [SERVED_FILE];
}

/**
 * The scenario. A plan without a served policy host fails; without openssl nothing is rehearsed.
 * When `ctx.signal` aborts it rejects with the abort's reason, once workerd has ended.
 */
export const mtaSts: Scenario = async (ctx) => {
  let worker: PlannedWorker;
  try {
    worker = plannedWorker(ctx.run);
  } catch (err) {
    if (err instanceof PlanError) return result([{ ok: false, line: err.message }], []);
    throw err;
  }
  const tls = await certOrReason(worker.host, ctx.signal);
  if (typeof tls === "string") {
    return { name: NAME, verdict: "not rehearsed", evidence: [tls], files: [] };
  }
  const { checks, served } = await rehearse(ctx, worker, tls);
  return result(checks, writeServed(ctx.out, served));
};

/** The throwaway certificate, or why openssl could not make one (then nothing is rehearsed). */
async function certOrReason(host: string, signal: AbortSignal) {
  const dir = mkdtempSync(path.join(tmpdir(), "rehearse-mta-sts-"));
  try {
    return await throwawayCert(host, dir, signal);
  } catch (err) {
    if (signal.aborted) throw err;
    return `openssl could not make a throwaway certificate for ${host}: ${String(err)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
