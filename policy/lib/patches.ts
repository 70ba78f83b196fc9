/**
 * Patch resources judged as the objects they produce. A `<Kind>Patch` of an object the stack holds
 * is merged into it (lib/merge.ts); every policy then sees the merged object: the stack views
 * through `mergePatches`, the per-resource checks through `judgingPatches`. A Patch of an object
 * the stack does not hold cannot be judged offline: closed-world refuses it.
 */
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { kindOf, nameOf, namespaceOf } from "./k8s";
import { applyPatch, patchedKind } from "./merge";
import { isObject, toPlain, Unknown, type Plain, type PlainObject } from "./plain";

/** "kubernetes:apps/v1:DeploymentPatch" -> "kubernetes:apps/v1:Deployment". */
export function patchedType(type: string): string | undefined {
  const kind = patchedKind(kindOf(type));
  return kind ? type.replace(/Patch$/, "") : undefined;
}

export interface Identity {
  type: string;
  namespace: string;
  name: string;
}

/** The object a resource is (or, for a Patch, the object it patches); undefined while unknown. */
export function identityOf(type: string, name: string, props: Plain): Identity | undefined {
  const ns = namespaceOf(props);
  const objectName = nameOf(props, name);
  if (ns instanceof Unknown || objectName instanceof Unknown) return undefined;
  return { type: patchedType(type) ?? type, namespace: ns, name: objectName };
}

const idKey = (id: Identity) => JSON.stringify([id.type, id.namespace, id.name]);

interface Patchable {
  type: string;
  name: string;
  props: Plain;
}

/**
 * Merges every Patch of `resources` into the object it patches, in stack order. Returns the
 * non-Patch resources (merged where patched), and the Patches whose object is not among them.
 */
export function mergePatches<R extends Patchable>(
  resources: readonly R[],
): { merged: R[]; unmatched: R[] } {
  if (!resources.some((r) => patchedType(r.type))) return { merged: [...resources], unmatched: [] };
  const byId = new Map<string, number>();
  const merged: R[] = [];
  const patches: R[] = [];
  for (const r of resources) {
    if (patchedType(r.type)) {
      patches.push(r);
      continue;
    }
    const id = identityOf(r.type, r.name, r.props);
    if (id && !byId.has(idKey(id))) byId.set(idKey(id), merged.length);
    merged.push(r);
  }
  const unmatched: R[] = [];
  for (const patch of patches) {
    const id = identityOf(patch.type, patch.name, patch.props);
    const i = id ? byId.get(idKey(id)) : undefined;
    const target = i === undefined ? undefined : merged[i];
    if (i === undefined || !target || !isObject(target.props) || !isObject(patch.props)) {
      unmatched.push(patch);
      continue;
    }
    merged[i] = {
      ...target,
      props: applyPatch(kindOf(target.type) ?? "", target.props, patch.props),
    };
  }
  return { merged, unmatched };
}

class NotApplicable extends Error {}

/** The arguments the SDK would hand `validateResource` for the merged object. */
function mergedArgs(
  target: PolicyResource,
  props: PlainObject,
  args: StackValidationArgs,
): ResourceValidationArgs {
  return {
    type: target.type,
    props,
    urn: target.urn,
    name: target.name,
    opts: target.opts,
    ...(target.provider ? { provider: target.provider } : {}),
    getConfig: <T extends object>() => args.getConfig<T>(),
    stackTags: args.stackTags,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
    isType: () => false,
    asType: () => undefined,
  };
}

/** Runs `validate` on each object a Patch of the stack changes, merged, reporting on the Patch. */
function judgeMerged(
  validate: ResourceValidation,
  args: StackValidationArgs,
  report: ReportViolation,
): Promise<void> | void {
  const patches = args.resources.filter((r) => patchedType(r.type));
  if (patches.length === 0) return;
  // Only the patched types are copied: nothing else can be merged into.
  const targets = new Set(patches.map((p) => patchedType(p.type)));
  const plain = args.resources
    .filter((r) => targets.has(r.type) || patchedType(r.type))
    .map((r) => ({ r, type: r.type, name: r.name, props: toPlain(r.props) }));
  const byUrn = new Map(plain.map((p) => [p.r.urn, p]));
  const { merged } = mergePatches(plain);
  const runs: Promise<void>[] = [];
  for (const m of merged) {
    const original = byUrn.get(m.r.urn);
    if (!original || original.props === m.props || !isObject(m.props)) continue;
    const id = identityOf(m.type, m.name, m.props);
    const by = plain.filter((p) => {
      const pid = patchedType(p.type) && identityOf(p.type, p.name, p.props);
      return id && pid && idKey(pid) === idKey(id);
    });
    // Reported on the (last) Patch: it is what turns the object into a violation.
    const say: ReportViolation = (message) =>
      report(
        `after ${by.map((p) => p.name).join(", ")} merged into ${m.r.name}: ${message}`,
        by[by.length - 1]?.r.urn ?? m.r.urn,
      );
    try {
      const result = validate(mergedArgs(m.r, m.props, args), say);
      if (result) runs.push(Promise.resolve(result).catch(swallowNotApplicable));
    } catch (err) {
      swallowNotApplicable(err);
    }
  }
  if (runs.length > 0) return Promise.all(runs).then(() => undefined);
}

function swallowNotApplicable(err: unknown): void {
  if (!(err instanceof NotApplicable)) throw err;
}

type Judged = ResourceValidationPolicy & Partial<StackValidationPolicy>;

/**
 * The policy, also judging each object as the stack's Patches leave it: a per-resource check sees
 * only the Patch, whose kind it does not read.
 */
export function judgingPatches<P extends Judged>(policy: P): P & StackValidationPolicy {
  const validate = policy.validateResource;
  if (!validate || Array.isArray(validate)) return policy as P & StackValidationPolicy;
  const own = policy.validateStack;
  return {
    ...policy,
    validateStack: async (args: StackValidationArgs, report: ReportViolation) => {
      await judgeMerged(validate, args, report);
      if (own) await own(args, report);
    },
  };
}
