/**
 * Placement rules of policy/lib/scheduling.ts against Kubernetes' own: k8s.io/api core/v1
 * toleration.go ToleratesTaint (empty effect = every effect, empty key + Exists = every key, the
 * empty operator = Equal, Lt/Gt compare integers), types.go (tolerationSeconds, NodeSelector terms
 * ORed, an empty term matches no node) and daemonset_util.go AddOrUpdateDaemonPodTolerations.
 */
import * as assert from "node:assert/strict";
import {
  daemonPodTolerations,
  nodeConstraint,
  tolerationsOf,
  uncoveredTolerations,
  unimpliedRequirements,
} from "../../policy/lib/scheduling";
import type { Plain } from "../../policy/lib/plain";

const tol = (...ts: Record<string, unknown>[]) => tolerationsOf(ts as Plain);
/** "key:effect" of each uncovered pair. */
const uncovered = (a: Record<string, unknown>[], b: Record<string, unknown>[]) =>
  uncoveredTolerations(tol(...a), tol(...b)).map((u) => `${u.toleration.key}:${u.effect}`);

describe("placement rules (tolerations, node constraints)", () => {
  it("an empty effect stands for NoSchedule and NoExecute; PreferNoSchedule keeps no pod off", () => {
    const gpu = { key: "nvidia.com/gpu", operator: "Exists" };
    assert.deepEqual(uncovered([gpu], [{ ...gpu, effect: "NoSchedule" }]), [
      "nvidia.com/gpu:NoExecute",
    ]);
    assert.deepEqual(uncovered([{ operator: "Exists", effect: "PreferNoSchedule" }], []), []);
  });

  it("an empty key with Exists covers every key; a keyed toleration does not cover it", () => {
    assert.deepEqual(
      uncovered([{ key: "dedicated", value: "mail" }], [{ operator: "Exists" }]),
      [],
    );
    assert.deepEqual(uncovered([{ operator: "Exists", effect: "NoSchedule" }], [gpuExists()]), [
      ":NoSchedule",
    ]);
  });

  it("the empty operator is Equal: one value, covered by Exists or the same value", () => {
    const mail = { key: "dedicated", value: "mail", effect: "NoSchedule" };
    assert.deepEqual(uncovered([mail], [{ key: "dedicated", operator: "Exists" }]), []);
    assert.deepEqual(uncovered([mail], [{ ...mail, operator: "Equal" }]), []);
    assert.deepEqual(uncovered([mail], [{ ...mail, value: "web" }]), ["dedicated:NoSchedule"]);
    assert.deepEqual(uncovered([{ key: "dedicated", operator: "Exists" }], [mail]), [
      "dedicated:NoSchedule",
      "dedicated:NoExecute",
    ]);
  });

  it("NoExecute tolerationSeconds: forever covers any time, a shorter time does not", () => {
    const t = (s?: number) => ({
      key: "node.kubernetes.io/unreachable",
      operator: "Exists",
      effect: "NoExecute",
      ...(s === undefined ? {} : { tolerationSeconds: s }),
    });
    assert.deepEqual(uncovered([t(300)], [t()]), []);
    assert.deepEqual(uncovered([t(300)], [t(600)]), []);
    assert.deepEqual(uncovered([t()], [t(600)]), ["node.kubernetes.io/unreachable:NoExecute"]);
    assert.deepEqual(uncovered([t(600)], [t(-5)]), ["node.kubernetes.io/unreachable:NoExecute"]);
  });

  it("Lt/Gt: a range inside the other's; an unknown operator tolerates nothing", () => {
    const gt = (v: string) => ({ key: "tier", operator: "Gt", value: v, effect: "NoSchedule" });
    assert.deepEqual(uncovered([gt("5")], [gt("3")]), []);
    assert.deepEqual(uncovered([gt("3")], [gt("5")]), ["tier:NoSchedule"]);
    assert.deepEqual(uncovered([{ key: "tier", operator: "In", value: "1" }], []), []);
  });

  it("every DaemonSet pod tolerates the node-condition taints the controller adds", () => {
    const mine = daemonPodTolerations(false);
    const cond = (key: string, effect: string) => ({ key, operator: "Exists", effect });
    const mail = [
      cond("node.kubernetes.io/not-ready", "NoExecute"),
      cond("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    assert.deepEqual(uncoveredTolerations(tol(...mail), mine), []);
    const network = [cond("node.kubernetes.io/network-unavailable", "NoSchedule")];
    assert.equal(uncoveredTolerations(tol(...network), mine).length, 1);
    assert.deepEqual(uncoveredTolerations(tol(...network), daemonPodTolerations(true)), []);
  });

  it("nodeSelector AND required terms (ORed); each mail term must imply an agent term", () => {
    const spec = (nodeSelector?: object, ...terms: object[][]) => ({
      ...(nodeSelector ? { nodeSelector } : {}),
      ...(terms.length
        ? {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
                },
              },
            },
          }
        : {}),
    });
    const e = (key: string, operator: string, values?: string[]) => ({ key, operator, values });
    const missing = (mail: object, agent: object) =>
      unimpliedRequirements(nodeConstraint(mail as Plain), nodeConstraint(agent as Plain)).map(
        (r) => `${r.key} ${r.operator}`,
      );
    assert.deepEqual(missing(spec(), spec()), []);
    assert.deepEqual(missing(spec({ disk: "ssd" }), spec(undefined, [e("disk", "Exists")])), []);
    assert.deepEqual(missing(spec(), spec({ disk: "ssd" })), ["disk In"]);
    // Two mail terms: the second does not imply the agent's disk=ssd.
    const twoTerms = spec(undefined, [e("disk", "In", ["ssd"])], [e("zone", "Exists")]);
    assert.deepEqual(missing(twoTerms, spec({ disk: "ssd" })), ["disk In"]);
    // The mail nodeSelector joins every term.
    assert.deepEqual(
      missing(spec({ disk: "ssd" }, [e("zone", "Exists")]), spec({ disk: "ssd" })),
      [],
    );
    assert.deepEqual(
      missing(spec({ h: "n1" }), spec(undefined, [e("h", "NotIn", ["n2"])], [e("x", "Exists")])),
      [],
    );
    assert.deepEqual(
      missing(spec(undefined, [e("cpus", "Gt", ["8"])]), spec(undefined, [e("cpus", "Gt", ["4"])])),
      [],
    );
    assert.deepEqual(missing(spec({ cpus: "2" }), spec(undefined, [e("cpus", "Gt", ["4"])])), [
      "cpus Gt",
    ]);
    // An empty term matches no node: the agent then runs nowhere.
    assert.deepEqual(nodeConstraint(spec(undefined, []) as Plain), []);
  });
});

function gpuExists(): Record<string, unknown> {
  return { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" };
}
