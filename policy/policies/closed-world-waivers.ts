/**
 * closed-world-waivers (advisory): every waiver of closed-world, shown on every preview.
 *
 * Why: a waiver lets a resource the pack cannot judge through closed-world. It is a decision with
 * a reason, and like the legacy DKIM key it must stay in sight rather than pass silently; a
 * waiver for a resource the stack no longer has is dead config that would wave through whatever
 * next takes that type and name.
 *
 * Reports: each waiver whose resource is in the stack ("waiver in force", with its reason), and
 * each whose resource is not ("stale waiver"). A policy reads only its own config, so this one
 * holds the same `waivers` list as closed-world; tests/policy/pack.test.ts checks that
 * policy/config.prod.json sets both alike.
 *
 * Fix: judge the resource in a policy and drop the waiver from both lists; remove a stale one.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig } from "../lib/config";
import { isWaived, readWaivers, WAIVERS_PROPERTY, type Waiver } from "../lib/waivers";

const configSchema: PolicyConfigSchema = { properties: { ...WAIVERS_PROPERTY } };

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<{ waivers: Waiver[] }>(configSchema, args.getConfig());
  const waivers = readWaivers(cfg.waivers);
  if (waivers.length === 0) args.notApplicable("no waiver in closed-world.waivers");
  for (const w of waivers) {
    const held = args.resources.find((r) => isWaived([w], r));
    if (held) {
      report(
        `waiver in force: ${w.type} ${w.name} is not judged by the pack (closed-world.waivers: ${JSON.stringify(w.reason)}); judge it in a policy and drop the waiver.`,
        held.urn,
      );
    } else {
      report(
        `stale waiver: ${w.type} ${w.name} is not in this stack; remove it from closed-world.waivers and closed-world-waivers.waivers.`,
      );
    }
  }
}

export const closedWorldWaivers: StackValidationPolicy = {
  name: "closed-world-waivers",
  description: "Shows every closed-world waiver in force, and every stale one.",
  enforcementLevel: "advisory",
  configSchema,
  validateStack,
};
