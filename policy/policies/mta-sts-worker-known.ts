/**
 * mta-sts-worker-known: every Worker script the stack puts on `mta-sts.<domain>` is one the pack
 * knows serves its `plain_text` policy binding at /.well-known/mta-sts.txt: a module Worker
 * (`mainModule`, no `bodyPart`) whose content's SHA-256 is listed in `knownScripts` with the
 * binding it serves, and the script has that binding.
 *
 * Why: mta-sts-served proves the binding carries the right policy, not that the code serves it.
 * The pack cannot run workerd, and what a script answers is an open space (another path, a
 * redirect, other bytes than the binding's); so it accepts only script contents someone has
 * reviewed and the rehearsal ran in workerd (tools/rehearse/mta-sts.ts runs the plan's `content`
 * as its main module, fetched by mailauth's strict RFC 8461 client). Fields that change what is
 * served besides the script (assets served before it, extra modules, a file the pack cannot read,
 * service-worker syntax) are refused the same way.
 *
 * Fix: serve the policy with MtaStsSite (components/mta-sts.ts, lib/mta-sts-worker.ts). After
 * changing the script, rehearse it (`npm run rehearse`, scenario 6), review it, and list its
 * digest in `knownScripts` (policy/config.prod.json and the schema default) with a reason.
 */
import { createHash } from "node:crypto";
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { at, list, PreviewGaps, str } from "../lib/plain";
import { plainResources, type StackResource } from "../lib/stack";
import { hostKey, WORKER_DOMAIN_TYPE, WORKER_SCRIPT_TYPES } from "../lib/workers";

export interface KnownScript {
  sha256: string;
  binding: string;
  reason: string;
}

const configSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain" },
    knownScripts: {
      type: "array",
      items: {
        type: "object",
        properties: {
          sha256: { type: "string" },
          binding: { type: "string" },
          reason: { type: "string" },
        },
        required: ["sha256", "binding", "reason"],
      },
      default: [
        {
          sha256: "7aa27c96da551f046aaea3480e5ba7d4d2d6703fd09f560494503a21f716e23b",
          binding: "MTA_STS_POLICY",
          reason:
            "lib/mta-sts-worker.ts MTA_STS_WORKER_SOURCE: GET /.well-known/mta-sts.txt answers 200 text/plain with the binding's text, anything else 404; rehearsed in workerd (scenario 6)",
        },
      ],
      description:
        "Worker script contents (SHA-256 of the UTF-8 text) known to serve a plain_text binding at /.well-known/mta-sts.txt, each with a reason",
    },
  },
};

interface Config {
  domain: string;
  knownScripts: KnownScript[];
}

const CONFIG_KEY = "mta-sts-worker-known.knownScripts (policy/config.prod.json)";

/** WorkersScript inputs that change what a request gets besides the main module's code. */
const UNMODELLED_FIELDS = [
  "bodyPart",
  "contentFile",
  "contentType",
  "files",
  "assets",
  "keepAssets",
  "exports",
  "cacheOptions",
];

/** The entries, every malformed one named at once (an entry without a reason is no entry). */
function readKnown(given: unknown): KnownScript[] {
  const entries = Array.isArray(given) ? (given as Record<string, unknown>[]) : [];
  const problems: string[] = [];
  entries.forEach((e, i) => {
    if (typeof e?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      problems.push(`knownScripts[${i}].sha256 must be 64 lower-case hex digits`);
    }
    for (const key of ["binding", "reason"]) {
      const v = e?.[key];
      if (typeof v !== "string" || v.trim() === "") {
        problems.push(`knownScripts[${i}].${key} must be a non-empty string`);
      }
    }
  });
  if (problems.length > 0)
    throw new Error(`policy config mta-sts-worker-known: ${problems.join("; ")}`);
  return entries as unknown as KnownScript[];
}

/** Script names the stack's custom domains put on `host`. */
function servingScripts(resources: readonly StackResource[], host: string, gaps: PreviewGaps) {
  const names = new Set<string>();
  for (const r of resources.filter((x) => x.type === WORKER_DOMAIN_TYPE)) {
    const hostname = at(r.props, "hostname");
    const service = at(r.props, "service");
    if (gaps.check(hostname, r.name) || str(hostname) === undefined) continue;
    if (hostKey(str(hostname) ?? "") !== host || gaps.check(service, r.name)) continue;
    if (str(service)) names.add(str(service) ?? "");
  }
  return names;
}

function judgeScript(
  r: StackResource,
  name: string,
  known: KnownScript[],
  gaps: PreviewGaps,
  report: (m: string) => void,
): void {
  const refused = UNMODELLED_FIELDS.filter((f) => {
    const v = at(r.props, f);
    return v !== undefined && v !== null && v !== false && !gaps.check(v, `${r.name} ${f}`);
  });
  const mainModule = at(r.props, "mainModule");
  const content = at(r.props, "content");
  if (gaps.check(mainModule, r.name) || gaps.check(content, r.name)) return;
  if (!str(mainModule)) refused.push("no mainModule (not a module Worker)");
  if (typeof content !== "string") refused.push("no content");
  if (refused.length > 0 || typeof content !== "string") {
    report(
      `cannot verify: Worker script ${name} (${r.name}) serves mta-sts with ${refused.join(", ")}, which the pack does not model; serve the policy with MtaStsSite (components/mta-sts.ts): a module Worker whose content is listed in ${CONFIG_KEY}.`,
    );
    return;
  }
  const digest = createHash("sha256").update(content, "utf8").digest("hex");
  const entry = known.find((k) => k.sha256 === digest);
  if (!entry) {
    const plain = list(at(r.props, "bindings")).filter((b) => at(b, "type") === "plain_text");
    const binding = plain.map((b) => str(at(b, "name"))).join(" or ") || "a policy binding";
    report(
      `cannot verify: Worker script ${name} (sha256 ${digest}) is not one the pack knows serves ${binding} at /.well-known/mta-sts.txt; review it and list its digest in ${CONFIG_KEY} with a reason.`,
    );
    return;
  }
  checkBinding(r, name, entry, gaps, report);
}

function checkBinding(
  r: StackResource,
  name: string,
  entry: KnownScript,
  gaps: PreviewGaps,
  report: (m: string) => void,
): void {
  const bindings = at(r.props, "bindings");
  if (gaps.check(bindings, r.name)) return;
  for (const b of list(bindings)) {
    const n = at(b, "name");
    const t = at(b, "type");
    if (gaps.check(n, r.name) || gaps.check(t, r.name)) continue;
    if (n === entry.binding && t === "plain_text") return;
  }
  if (gaps.pending) return;
  report(
    `Worker script ${name} (${r.name}) runs a script that serves the plain_text binding ${entry.binding} at /.well-known/mta-sts.txt, but has no such binding: senders get no policy. Bind the policy as plain_text ${entry.binding} (MtaStsSite does).`,
  );
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const known = readKnown(cfg.knownScripts);
  const gaps = new PreviewGaps();
  const resources = plainResources(
    args.resources,
    (t) => t === WORKER_DOMAIN_TYPE || WORKER_SCRIPT_TYPES.includes(t),
  );
  const names = servingScripts(resources, hostKey(`mta-sts.${cfg.domain}`), gaps);
  for (const r of resources.filter((x) => WORKER_SCRIPT_TYPES.includes(x.type))) {
    const scriptName = at(r.props, "scriptName");
    if (gaps.check(scriptName, r.name) || !names.has(str(scriptName) ?? "")) continue;
    judgeScript(r, str(scriptName) ?? "", known, gaps, (m) => report(m, r.urn));
  }
  gaps.settle();
  if (names.size === 0) args.notApplicable(`no Worker on mta-sts.${cfg.domain} in this stack`);
}

export const mtaStsWorkerKnown: StackValidationPolicy = {
  name: "mta-sts-worker-known",
  description:
    "Each Worker script on mta-sts.<domain> is a module Worker whose content the pack knows serves its plain_text policy binding, and it has that binding.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
