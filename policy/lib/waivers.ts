/** Explicit waivers of closed-world: a resource the pack cannot judge, accepted with a reason. */
import type { PolicyConfigSchema } from "@pulumi/policy";

export interface Waiver {
  type: string;
  name: string;
  reason: string;
}

export const WAIVERS_PROPERTY: PolicyConfigSchema["properties"] = {
  waivers: {
    type: "array",
    items: {
      type: "object",
      properties: {
        type: { type: "string" },
        name: { type: "string" },
        reason: { type: "string" },
      },
      required: ["type", "name", "reason"],
    },
    default: [],
    description: "Resources accepted although the pack cannot judge them, each with a reason",
  },
};

/** The waivers, every malformed entry named at once (a waiver without a reason is no waiver). */
export function readWaivers(given: unknown): Waiver[] {
  const entries = Array.isArray(given) ? (given as unknown[]) : [];
  const problems: string[] = [];
  entries.forEach((w, i) => {
    const e = (w ?? {}) as Record<string, unknown>;
    for (const key of ["type", "name", "reason"]) {
      const value = e[key];
      if (typeof value !== "string" || value.trim() === "") {
        problems.push(`waivers[${i}].${key} must be a non-empty string`);
      }
    }
  });
  if (problems.length > 0) throw new Error(`policy config closed-world: ${problems.join("; ")}`);
  return entries as Waiver[];
}

export const isWaived = (waivers: Waiver[], r: { type: string; name: string }): boolean =>
  waivers.some((w) => w.type === r.type && w.name === r.name);
