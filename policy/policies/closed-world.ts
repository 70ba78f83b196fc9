/**
 * closed-world: every resource of the stack is one the pack can judge, or it is waived.
 *
 * Why: the other policies recognise the objects they judge by type. A resource of any other type
 * can still change a mail workload, Service, ConfigMap, Secret, DNS record or Worker: a Helm
 * release or a YAML group renders objects the pack never sees, a Traefik IngressRoute or an Argo
 * Rollout routes traffic or runs pods, a Patch rewrites an object outside the stack, a Worker
 * route serves a host. No violation from the others then proves nothing, so the pack refuses what
 * it cannot judge instead of passing it.
 *
 * Judged: Kubernetes built-in kinds the pack reads (workloads, ConfigMap, Secret, Service,
 * PersistentVolumeClaim, Namespace, Ingress), a Patch of an object the stack holds (merged and
 * judged as the result, lib/patches.ts), Cloudflare DNS records, Worker scripts (they serve what
 * a route or custom domain sends them) and the custom domain of mta-sts.<domain>, the cloudflare and vault providers and a kubernetes provider without a
 * default namespace, and the program's own components (they register nothing themselves).
 *
 * Fix: model the resource in a policy, or list it in `waivers` of this policy's config
 * (policy/config.prod.json) with its type, name and a reason, and the same entry in
 * closed-world-waivers, which shows every waiver in force on each preview.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { stackFacts, verdictOf, type ClosedWorldConfig } from "../lib/closed-world";
import { readConfig, SPEC } from "../lib/config";
import { pickPlain, PreviewGaps, type Plain } from "../lib/plain";
import { isWaived, readWaivers, WAIVERS_PROPERTY, type Waiver } from "../lib/waivers";

export const configSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain (the zone)" },
    componentPackages: {
      type: "array",
      items: { type: "string" },
      default: ["mailserver"],
      description: "Packages of the program's own component resources",
    },
    ...WAIVERS_PROPERTY,
  },
};

/** The top-level properties lib/closed-world.ts#verdictOf reads. */
const VERDICT_KEYS = ["metadata", "hostname", "namespace"];

interface Config extends ClosedWorldConfig {
  waivers: Waiver[];
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const waivers = readWaivers(cfg.waivers);
  const gaps = new PreviewGaps();
  // Only what a verdict reads (identity, a custom domain's host, a provider's namespace): copying
  // every resource whole would be most of the pack's cost on a large stack.
  const resources = args.resources.map((r) => ({
    type: r.type,
    name: r.name,
    urn: r.urn,
    props: Object.assign({}, ...VERDICT_KEYS.map((k) => pickPlain(r.props, k))) as Plain,
  }));
  const facts = stackFacts(resources);
  for (const r of resources) {
    const verdict = verdictOf(r, cfg, facts);
    if ("unknown" in verdict) gaps.note(verdict.unknown, r.name);
    else if (!verdict.judged && !isWaived(waivers, r)) {
      report(
        `cannot verify: ${r.type} ${r.name}: ${verdict.why}; judge it in a policy or list it in closed-world.waivers (policy/config.prod.json) with a reason.`,
        r.urn,
      );
    }
  }
  gaps.settle();
}

export const closedWorld: StackValidationPolicy = {
  name: "closed-world",
  description: "Every resource of the stack is one the pack judges, or is waived with a reason.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
