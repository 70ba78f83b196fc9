/**
 * The family of crowdsec-agent-on-mail-node, drawn from Kubernetes' placement rules: toleration
 * matching (k8s.io/api core/v1 toleration.go ToleratesTaint: empty effect = every effect, empty key
 * with Exists = every taint, the empty operator = Equal; NoExecute tolerationSeconds), the
 * tolerations the DaemonSet controller gives every agent pod (daemonset_util.go
 * AddOrUpdateDaemonPodTolerations), and node constraints (nodeSelector AND required node affinity,
 * terms ORed, requirements ANDed). The agent is the owner's (it tolerates nvidia.com/gpu:NoSchedule,
 * ViktorBarzin/infra stacks/crowdsec values.yaml); its placement is varied through the chart values
 * agent.nodeSelector / agent.affinity (crowdsec chart 0.21.0 templates/agent-daemonSet.yaml).
 */
import fc from "fast-check";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { mergeValues } from "../../lib/charts/crowdsec";
import { agentValuesWithMail, crowdsecAgent, dmsContainer, T } from "./fixtures";
import {
  mailPodSpec,
  mailWorkloadPod,
  replace,
  variant,
  WORKLOAD_TYPES,
  type Family,
} from "./generative";

const POLICY = "crowdsec-agent-on-mail-node";
const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");
const workloadType = fc.constantFrom(...WORKLOAD_TYPES);
const HOST = "kubernetes.io/hostname";

type Obj = Record<string, unknown>;

/** The good stack with the mail pod placed by `placement` and the agent by `agent` values. */
function placed(type: string, placement: Obj, agent?: Obj): AnalyzerResource[] {
  const stack = mailWorkloadPod(type, { ...mailPodSpec([dmsContainer()]), ...placement });
  if (!agent) return stack;
  const values = mergeValues(agentValuesWithMail(), { agent });
  const keep = stack.filter((r) => r.type !== T.crowdsecComponent);
  return [...keep, crowdsecAgent(values)];
}

const required = (...terms: Obj[][]) => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
    },
  },
});
const expr = (key: string, operator: string, values?: string[]) => ({
  key,
  operator,
  ...(values ? { values } : {}),
});

/** Tolerations whose taints the agent's pods do not tolerate. */
const untolerated = fc.constantFrom<[string, Obj]>(
  [
    "control plane",
    { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
  ],
  ["every taint", { operator: "Exists" }],
  ["gpu any effect", { key: "nvidia.com/gpu", operator: "Exists" }],
  ["gpu NoExecute", { key: "nvidia.com/gpu", operator: "Exists", effect: "NoExecute" }],
  ["dedicated Equal", { key: "dedicated", operator: "Equal", value: "mail", effect: "NoSchedule" }],
  ["dedicated no operator", { key: "dedicated", value: "mail", effect: "NoSchedule" }],
  ["every NoExecute", { operator: "Exists", effect: "NoExecute" }],
);

/** Tolerations the agent's pods cover: its own, the DaemonSet controller's, or soft ones. */
const TOLERATED: [string, Obj][] = [
  [
    "gpu Equal true",
    { key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" },
  ],
  ["gpu Exists", { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
  [
    "not-ready 300s",
    {
      key: "node.kubernetes.io/not-ready",
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: 300,
    },
  ],
  [
    "unreachable forever",
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
  ],
  [
    "unschedulable",
    { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
  ],
  ["soft taint", { key: "dedicated", value: "mail", effect: "PreferNoSchedule" }],
  ["every soft taint", { operator: "Exists", effect: "PreferNoSchedule" }],
];

/** [mail pod placement, agent values] where the agent's node constraints do not follow. */
const unimplied = fc.constantFrom<[string, Obj, Obj]>(
  ["agent nodeSelector", {}, { nodeSelector: { "node-role.kubernetes.io/worker": "true" } }],
  [
    "agent hosts vs other host",
    { nodeSelector: { [HOST]: "k8s-node1" } },
    { affinity: required([expr(HOST, "In", ["k8s-node2", "k8s-node3"])]) },
  ],
  [
    "agent NotIn the mail host",
    { nodeSelector: { [HOST]: "k8s-node5" } },
    { affinity: required([expr(HOST, "NotIn", ["k8s-node5"])]) },
  ],
  [
    "agent label the mail term lacks",
    { affinity: required([expr("disk", "In", ["ssd"])], [expr("zone", "Exists")]) },
    { nodeSelector: { disk: "ssd" } },
  ],
  [
    "agent Gt above the mail bound",
    { affinity: required([expr("cpus", "Gt", ["4"])]) },
    { affinity: required([expr("cpus", "Gt", ["8"])]) },
  ],
);

/** [mail pod placement, agent values] where every node of the mail pod is an agent node. */
const implied = fc.constantFrom<[string, Obj, Obj]>(
  ["mail pinned, agent free", { nodeSelector: { [HOST]: "k8s-node2" } }, {}],
  [
    "same nodeSelector",
    { nodeSelector: { "kubernetes.io/os": "linux" } },
    { nodeSelector: { "kubernetes.io/os": "linux" } },
  ],
  [
    "mail host among agent hosts",
    { nodeSelector: { [HOST]: "k8s-node3" } },
    { affinity: required([expr(HOST, "In", ["k8s-node2", "k8s-node3", "k8s-node4"])]) },
  ],
  [
    "agent NotIn another host",
    { affinity: required([expr(HOST, "In", ["k8s-node2"])]) },
    { affinity: required([expr(HOST, "NotIn", ["k8s-master"])]) },
  ],
  [
    "every mail term implies an agent term",
    { affinity: required([expr("disk", "In", ["ssd"])], [expr("disk", "In", ["nvme"])]) },
    { affinity: required([expr("disk", "Exists")]) },
  ],
  [
    "mail Gt above the agent bound",
    { affinity: required([expr("cpus", "Gt", ["8"])]) },
    { affinity: required([expr("cpus", "Gt", ["4"])]) },
  ],
);

/** What the pack cannot decide offline. */
const undecidable = fc.constantFrom<[string, (type: string) => AnalyzerResource[]]>(
  ["mail nodeName", (type) => placed(type, { nodeName: "k8s-node2" })],
  [
    "agent podAntiAffinity",
    (type) =>
      placed(
        type,
        {},
        {
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { app: "mailserver" } }, topologyKey: HOST },
              ],
            },
          },
        },
      ),
  ],
  ["no agent read", (type) => placed(type, {}).filter((r) => r.type !== T.crowdsecComponent)],
  [
    "agent read without scheduling",
    (type) => {
      const agent = crowdsecAgent();
      const ds = (agent.properties.agent as { daemonSet: Obj }).daemonSet;
      delete ds.scheduling;
      return [...placed(type, {}).filter((r) => r.type !== T.crowdsecComponent), agent];
    },
  ],
);

export const agentNodeFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    fc.tuple(workloadType, untolerated, fc.boolean()).map(([type, [how, toleration], pin]) => {
      const where = pin ? { nodeSelector: { "node-role.kubernetes.io/control-plane": "" } } : {};
      return bad(
        `toleration ${how} in ${type}`,
        placed(type, { tolerations: [toleration], ...where }),
      );
    }),
    fc
      .tuple(workloadType, unimplied)
      .map(([type, [how, mail, agent]]) =>
        bad(`constraint ${how} in ${type}`, placed(type, mail, agent)),
      ),
    fc
      .tuple(workloadType, undecidable)
      .map(([type, [how, stack]]) => bad(`cannot verify ${how} in ${type}`, stack(type))),
  ),
  legit: fc.oneof(
    fc
      .tuple(workloadType, fc.subarray(TOLERATED, { minLength: 1 }))
      .map(([type, list]) =>
        good(
          `tolerations ${list.map(([how]) => how).join(", ")} in ${type}`,
          placed(type, { tolerations: list.map(([, t]) => t) }),
        ),
      ),
    fc
      .tuple(workloadType, implied)
      .map(([type, [how, mail, agent]]) =>
        good(`constraint ${how} in ${type}`, placed(type, mail, agent)),
      ),
    fc.constant(good("the owner's agent, the mail pod unplaced", replace([]))),
  ),
};
