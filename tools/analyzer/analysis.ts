/**
 * The policy pass of plan and audit, as the engine runs it: the pack started once and configured
 * once, Analyze for every resource (its inputs), then AnalyzeStack for all of them (outputs).
 */
import { PolicyPackClient } from "./client";
import type { AnalyzerResource, Diagnostic } from "./wire";
import { scrubber, secretStrings, type Item, type Violation } from "../report/model";
import type { PackConfig } from "./config";
import { PACK_DIR } from "../cli/project";
import { EncodedProperties } from "./struct-encoding";

/** Analyze calls in flight at once: enough to keep the pack busy while the client encodes. */
const IN_FLIGHT = 16;

/** Starts the pack in `packDir` as the CLI does and configures it once with `config`. */
export function startPack(
  config: PackConfig,
  configSource: string,
  stack: string,
  packDir = PACK_DIR,
): Promise<PolicyPackClient> {
  return PolicyPackClient.start(packDir, config, { stack, configSource });
}

function toAnalyzerResource(
  item: Item,
  props: Record<string, unknown>,
  encoded?: EncodedProperties,
): AnalyzerResource {
  return {
    type: item.type,
    name: item.name,
    urn: item.urn,
    properties: props,
    ...(encoded ? { encoded } : {}),
    options: { protect: item.protect, ...(item.parent ? { parent: item.parent } : {}) },
    dependencies: item.dependencies,
  };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Analyze for every resource, then AnalyzeStack, on a configured pack. Remediate-level diagnostics
 * count as mandatory (the engine's downgrade); a stack-level diagnostic without a URN is
 * attributed to the root stack. Messages never carry a secret value.
 */
export async function analyze(
  pack: PolicyPackClient,
  items: Item[],
  stackUrn: string,
): Promise<Violation[]> {
  const info = pack.packInfo;
  const secrets = new Set<string>();
  for (const item of items) {
    secretStrings(item.inputs, secrets);
    secretStrings(item.outputs, secrets);
  }
  const scrub = scrubber(secrets);
  const byUrn = new Map(items.map((i) => [i.urn, i]));
  const toViolation = (d: Diagnostic, urn: string): Violation => {
    const target = byUrn.get(urn);
    return {
      policyPack: d.policyPackName || info.name,
      policyPackVersion: d.policyPackVersion || info.version,
      policy: d.policyName,
      level: d.enforcementLevel === "remediate" ? "mandatory" : d.enforcementLevel,
      urn,
      ...(target ? { type: target.type, name: target.name } : {}),
      message: scrub(d.message),
    };
  };
  // Objects the stack only read (`external`) belong to the stacks that manage them; the plan
  // never sends them to the pack, so the audit of its export does not either.
  items = items.filter((i) => !i.external);
  // A resource whose outputs are its inputs (custom resources under mocks) is encoded once.
  const shared = new Map<Item, EncodedProperties>();
  const perResource = await pool(items, IN_FLIGHT, async (item) => {
    let encoded: EncodedProperties | undefined;
    if (item.outputs === item.inputs) {
      encoded = new EncodedProperties(item.inputs);
      shared.set(item, encoded);
    }
    const res = await pack.analyze(toAnalyzerResource(item, item.inputs, encoded));
    return res.diagnostics.map((d) => toViolation(d, item.urn));
  });
  const stack = await pack.analyzeStack(
    items.map((i) => toAnalyzerResource(i, i.outputs, shared.get(i))),
  );
  const stackViolations = stack.diagnostics.map((d) =>
    toViolation(d, d.urn && byUrn.has(d.urn) ? d.urn : stackUrn),
  );
  return [...perResource.flat(), ...stackViolations];
}

const RANK: Record<Violation["level"], number> = {
  remediate: 0,
  mandatory: 1,
  advisory: 2,
  disabled: 3,
};

export function sortViolations(violations: Violation[]): Violation[] {
  return [...violations].sort(
    (a, b) =>
      RANK[a.level] - RANK[b.level] ||
      a.policy.localeCompare(b.policy) ||
      a.urn.localeCompare(b.urn) ||
      a.message.localeCompare(b.message),
  );
}

export function mandatoryCount(violations: Violation[]): number {
  return violations.filter((v) => v.level === "mandatory" || v.level === "remediate").length;
}
