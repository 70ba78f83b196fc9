/**
 * Generative family of closed-world-waivers, drawn from what a waiver is to closed-world: the
 * pair (type, name) it names, matched exactly. A waived resource in the stack, whatever it holds
 * and whichever namespace it names, is reported as a waiver in force (advisory), and closed-world
 * lets it through; a waiver whose pair the stack lacks (another name, another type or version,
 * the resource gone) is reported as stale, and the resource it does not match is still refused.
 */
import fc from "fast-check";
import type { AnalyzerResource, PackConfig } from "../../tools/analyzer/client";
import { GOOD_STACK_PACK_CONFIG } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "closed-world-waivers";
const WAIVED = { type: "kubernetes:traefik.io/v1alpha1:IngressRouteTCP", name: "mail-tcp" };
const WAIVERS = [{ ...WAIVED, reason: "routes nothing until the Traefik cutover" }];

/** The pack config of this family: the same waiver in both policies, as config.prod.json must. */
export const WAIVER_PACK_CONFIG: PackConfig = {
  ...GOOD_STACK_PACK_CONFIG,
  "plain-text-public": "disabled",
  "closed-world": { waivers: WAIVERS },
  "closed-world-waivers": { waivers: WAIVERS },
};

const route = (type: string, name: string, namespace: string): AnalyzerResource => ({
  type,
  name,
  urn: `urn:pulumi:prod::mailserver::${type}::${name}`,
  properties: {
    metadata: { name, namespace },
    spec: { entryPoints: ["smtp"], routes: [{ match: "HostSNI(`*`)" }] },
  },
});

const namespace = fc.constantFrom("mailserver", "crowdsec", "default");

export const waiversFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    namespace.map((ns) =>
      variant(
        POLICY,
        "violation",
        "advisory",
      )(`in force in ${ns}`, replace([route(WAIVED.type, WAIVED.name, ns)])),
    ),
    fc
      .constantFrom<[string, AnalyzerResource[]]>(
        ["resource gone", []],
        ["other name", [route(WAIVED.type, "mail-tcp-2", "mailserver")]],
        [
          "other version",
          [route("kubernetes:traefik.io/v1:IngressRouteTCP", WAIVED.name, "mailserver")],
        ],
      )
      .map(([how, add]) => variant(POLICY, "violation", "advisory")(`stale: ${how}`, replace(add))),
  ),
  legit: namespace.map((ns) =>
    variant(POLICY, "clean")(`waived in ${ns}`, replace([route(WAIVED.type, WAIVED.name, ns)])),
  ),
};
