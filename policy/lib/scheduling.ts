/**
 * "Can pod A land on a node where pod B cannot?", by Kubernetes' own rules and without the list
 * of nodes: sound only as implication, so every taint A tolerates must be tolerated by B, and B's
 * node constraints must follow from A's.
 *
 * - Tolerations: k8s.io/api core/v1 toleration.go `ToleratesTaint` (kubernetes/api 10b39a39b): an
 *   empty effect matches every effect, an empty key every key (operator Exists), Exists every
 *   value, Equal (also the empty operator) one value, Lt/Gt compare integers (feature gate
 *   TaintTolerationComparisonOperators; off, they match nothing). types.go `Toleration`: a
 *   NoExecute toleration with tolerationSeconds tolerates that long (negative as 0), without it
 *   forever. Only NoSchedule and NoExecute keep a pod off a node; PreferNoSchedule only steers.
 * - DaemonSet pods also carry the controller's tolerations: kubernetes/kubernetes
 *   pkg/controller/daemon/util/daemonset_util.go `AddOrUpdateDaemonPodTolerations` (05c351a9).
 * - Node constraints: `nodeSelector` AND the required node affinity, whose `nodeSelectorTerms`
 *   are ORed, with the requirements of one term ANDed; an empty term matches no node (types.go
 *   `NodeSelector`, `NodeSelectorTerm`, `NodeSelectorRequirement`: In, NotIn, Exists,
 *   DoesNotExist, Gt, Lt; matchFields on node fields).
 */
import { at, isObject, list, str, type Plain } from "./plain";

export interface Toleration {
  key: string;
  /** Exists, Equal, Lt, Gt (the empty operator is Equal). */
  operator: string;
  value: string;
  effect: string;
  seconds?: number;
}

/** The effects that keep a pod off a node (PreferNoSchedule only steers the scheduler). */
const HARD_EFFECTS = ["NoSchedule", "NoExecute"] as const;
type HardEffect = (typeof HARD_EFFECTS)[number];

const exists = (key: string, effect: HardEffect): Toleration => ({
  key,
  operator: "Exists",
  value: "",
  effect,
});

/** daemonset_util.go AddOrUpdateDaemonPodTolerations. */
export function daemonPodTolerations(hostNetwork: boolean): Toleration[] {
  return [
    exists("node.kubernetes.io/not-ready", "NoExecute"),
    exists("node.kubernetes.io/unreachable", "NoExecute"),
    exists("node.kubernetes.io/disk-pressure", "NoSchedule"),
    exists("node.kubernetes.io/memory-pressure", "NoSchedule"),
    exists("node.kubernetes.io/pid-pressure", "NoSchedule"),
    exists("node.kubernetes.io/unschedulable", "NoSchedule"),
    ...(hostNetwork ? [exists("node.kubernetes.io/network-unavailable", "NoSchedule")] : []),
  ];
}

export function tolerationsOf(v: Plain | undefined): Toleration[] {
  return list(v).map((t) => {
    const seconds = at(t, "tolerationSeconds");
    return {
      key: str(at(t, "key")) ?? "",
      operator: str(at(t, "operator")) || "Equal",
      value: str(at(t, "value")) ?? "",
      effect: str(at(t, "effect")) ?? "",
      ...(typeof seconds === "number" ? { seconds: Math.max(0, seconds) } : {}),
    };
  });
}

/** The taints of `effect` a toleration tolerates, as kubectl spells a taint (key=value:effect). */
export function describeTaints(t: Toleration, effect: string): string {
  const key = t.key || "<any key>";
  const value = { Equal: `=${t.value}`, Gt: `>${t.value}`, Lt: `<${t.value}` }[t.operator] ?? "";
  const secs = t.seconds === undefined ? "" : ` for ${t.seconds}s`;
  return `${key}${value || (t.key ? "=<any>" : "")}:${effect}${secs}`;
}

const INTEGER = /^[+-]?\d+$/;

/** Does `b` tolerate, as long, every taint of `effect` that `a` tolerates? */
function covers(b: Toleration, a: Toleration, effect: HardEffect): boolean {
  if (b.effect !== "" && b.effect !== effect) return false;
  if (b.key !== "" && b.key !== a.key) return false;
  if (effect === "NoExecute" && b.seconds !== undefined) {
    if (a.seconds === undefined || b.seconds < a.seconds) return false;
  }
  switch (b.operator) {
    case "Exists":
      return true;
    case "Equal":
      return a.operator === "Equal" && a.value === b.value;
    case "Gt":
    case "Lt":
      // Off, both match nothing; on, b's range must hold a's.
      if (a.operator !== b.operator || !INTEGER.test(a.value) || !INTEGER.test(b.value)) {
        return false;
      }
      return b.operator === "Gt"
        ? Number(b.value) <= Number(a.value)
        : Number(b.value) >= Number(a.value);
    default:
      return false;
  }
}

/** Does `a` tolerate any taint at all (an unknown operator, or Lt/Gt on a non-integer, none)? */
function toleratesSome(a: Toleration): boolean {
  if (a.operator === "Exists" || a.operator === "Equal") return true;
  return (a.operator === "Gt" || a.operator === "Lt") && INTEGER.test(a.value);
}

export interface UntoleratedTaint {
  toleration: Toleration;
  effect: HardEffect;
}

/** The tolerations of `a` whose taints (of a hard effect) `b` does not tolerate. */
export function uncoveredTolerations(a: Toleration[], b: Toleration[]): UntoleratedTaint[] {
  const out: UntoleratedTaint[] = [];
  for (const t of a.filter(toleratesSome)) {
    const effects = t.effect === "" ? HARD_EFFECTS : HARD_EFFECTS.filter((e) => e === t.effect);
    for (const effect of effects) {
      if (!b.some((x) => covers(x, t, effect))) out.push({ toleration: t, effect });
    }
  }
  return out;
}

export interface Requirement {
  /** matchFields (node fields such as metadata.name) rather than labels. */
  field: boolean;
  key: string;
  operator: string;
  values: string[];
}

/** Node constraints as an OR of ANDed requirement lists; [[]] is every node, [] none. */
export type NodeConstraint = Requirement[][];

function requirements(v: Plain | undefined, field: boolean): Requirement[] {
  return list(v).map((r) => ({
    field,
    key: str(at(r, "key")) ?? "",
    operator: str(at(r, "operator")) ?? "",
    values: list(at(r, "values")).map((x) => str(x) ?? ""),
  }));
}

/** nodeSelector AND the required nodeAffinity terms of a pod spec. */
export function nodeConstraint(podSpec: Plain | undefined): NodeConstraint {
  const selector = at(podSpec, "nodeSelector");
  const base: Requirement[] = isObject(selector)
    ? Object.entries(selector).map(([key, v]) => ({
        field: false,
        key,
        operator: "In",
        values: [str(v) ?? ""],
      }))
    : [];
  const required = at(
    podSpec,
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
  );
  if (!isObject(required)) return [base];
  return list(required.nodeSelectorTerms)
    .map((t) => [
      ...requirements(at(t, "matchExpressions"), false),
      ...requirements(at(t, "matchFields"), true),
    ])
    .filter((term) => term.length > 0)
    .map((term) => [...base, ...term]);
}

const ints = (values: string[]) => (values.every((x) => INTEGER.test(x)) ? values.map(Number) : []);

/** Does a node meeting `m` always meet `r` (same key)? Sound, not complete. */
function implies(m: Requirement, r: Requirement): boolean {
  if (m.field !== r.field || m.key !== r.key) return false;
  const [mv, rv] = [m.values, r.values];
  switch (r.operator) {
    case "In":
      return m.operator === "In" && mv.length > 0 && mv.every((v) => rv.includes(v));
    case "NotIn":
      return (
        (m.operator === "In" && mv.length > 0 && mv.every((v) => !rv.includes(v))) ||
        (m.operator === "NotIn" && rv.every((v) => mv.includes(v))) ||
        m.operator === "DoesNotExist"
      );
    case "Exists":
      return (
        ["In", "Exists", "Gt", "Lt"].includes(m.operator) && (m.operator !== "In" || mv.length > 0)
      );
    case "DoesNotExist":
      return m.operator === "DoesNotExist";
    case "Gt":
    case "Lt": {
      const [bound] = ints(rv);
      if (bound === undefined || rv.length !== 1) return false;
      const above = r.operator === "Gt";
      const within = (n: number) => (above ? n > bound : n < bound);
      if (m.operator === "In")
        return ints(mv).length === mv.length && mv.length > 0 && ints(mv).every(within);
      const [own] = ints(mv);
      if (m.operator !== r.operator || own === undefined || mv.length !== 1) return false;
      return above ? own >= bound : own <= bound;
    }
    default:
      return false;
  }
}

/**
 * Requirements of `b` that a term of `a` does not imply, or [] when every node `a` admits, `b`
 * admits too (each term of `a` implies some term of `b` whole). For each term of `a` that
 * implies none, the requirements of the nearest term of `b` it misses.
 */
export function unimpliedRequirements(a: NodeConstraint, b: NodeConstraint): Requirement[] {
  return a.flatMap((term) => {
    const gaps = b.map((bt) => bt.filter((r) => !term.some((m) => implies(m, r))));
    if (gaps.some((g) => g.length === 0)) return [];
    return gaps.sort((x, y) => x.length - y.length)[0] ?? [];
  });
}

export function describeRequirement(r: Requirement): string {
  const values = r.values.length ? ` [${r.values.join(", ")}]` : "";
  return `${r.field ? "field" : "label"} ${r.key} ${r.operator}${values}`;
}
