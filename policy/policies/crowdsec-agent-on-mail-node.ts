/**
 * crowdsec-agent-on-mail-node: every node the mail pod can run on also runs a CrowdSec agent pod.
 *
 * Why: CrowdSec reads the mail logs from the node's /var/log through its agent DaemonSet, which
 * another stack runs. On a node the agent's pods cannot run on, nothing reads them: with Fail2ban
 * off, SMTP/IMAP brute force goes unanswered, without any error.
 *
 * Invariant, judged without the cluster's node list, so by implication (lib/scheduling.ts has
 * Kubernetes' rules and their sources): every taint of effect NoSchedule or NoExecute that the
 * mail pod tolerates, the agent's pods tolerate too (their own tolerations and those the
 * DaemonSet controller adds), NoExecute at least as long; and the agent's nodeSelector and
 * required node affinity follow from the mail pod's. A mail pod on a control-plane node is the
 * case of its taint (node-role.kubernetes.io/control-plane:NoSchedule): tolerating it, the agent
 * must too. Paths: tolerations, nodeSelector, affinity.nodeAffinity's required terms and nodeName
 * of the pod spec of every workload running docker-mailserver; the agent as read at preview
 * (`agent.daemonSet.scheduling`, see lib/agent.ts). Refused as "cannot verify": a mail pod bound by
 * spec.nodeName (which skips the scheduler), an agent bound by nodeName, with a required pod
 * (anti-)affinity or a DoNotSchedule topology spread (they depend on the pods running there), an
 * agent view without its scheduling, and no agent read at all.
 *
 * This is placement only: whether the agent mounts the acquisition is
 * crowdsec-agent-mounts-acquisition's, and whether it parses the lines crowdsec-covers-mail's.
 *
 * Fix: drop the mail pod's toleration or node constraint, or in the CrowdSec stack's chart values
 * add the toleration to agent.tolerations, or widen agent.nodeSelector / agent.affinity.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { agentViews, describeAgent, type AgentView } from "../lib/agent";
import { DMS_IMAGE_PROPERTY, readConfig, SPEC } from "../lib/config";
import { hasKind, podSpecOf } from "../lib/k8s";
import {
  at,
  isObject,
  list,
  PreviewGaps,
  str,
  Unknown,
  type Plain,
  type PlainObject,
} from "../lib/plain";
import {
  daemonPodTolerations,
  describeRequirement,
  describeTaints,
  nodeConstraint,
  tolerationsOf,
  uncoveredTolerations,
  unimpliedRequirements,
} from "../lib/scheduling";
import { dmsContainers, plainProperty, plainResources, type StackResource } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    crowdsecNamespace: {
      type: "string",
      default: SPEC.crowdsecNamespace,
      description: "Namespace of the CrowdSec agent",
    },
    ...DMS_IMAGE_PROPERTY,
  },
};

interface Config {
  crowdsecNamespace: string;
  dmsImage: string;
}

const PLACEMENT_FIELDS = ["tolerations", "nodeSelector", "affinity", "nodeName"];

/** What the pack cannot decide about where the agent's pods run, or undefined. */
function agentUndecidable(s: PlainObject): string | undefined {
  if (str(s.nodeName)) return `is bound to node ${str(s.nodeName)} by nodeName`;
  const affinity = at(s, "affinity");
  for (const kind of ["podAffinity", "podAntiAffinity"]) {
    if (list(at(affinity, kind, "requiredDuringSchedulingIgnoredDuringExecution")).length > 0) {
      return `has a required ${kind}, which depends on the pods running on each node`;
    }
  }
  const spreads = list(s.topologySpreadConstraints);
  if (spreads.some((t) => str(at(t, "whenUnsatisfiable")) === "DoNotSchedule")) {
    return "has a DoNotSchedule topologySpreadConstraint, which depends on the pods running";
  }
  return undefined;
}

/** Why the agent's pods may miss a node the mail pod can run on; [] when they cannot. */
function placementGaps(mail: Plain, agent: AgentView): string[] {
  const s = agent.scheduling;
  const who = `the CrowdSec agent ${describeAgent(agent)}`;
  // Unknown at preview: noted in the gaps, judged on outputs.
  if (s instanceof Unknown) return [];
  if (!isObject(s)) {
    return [
      `cannot verify: ${who} was read without its scheduling (tolerations, nodeSelector, affinity), so nothing shows its pods run on the mail pod's node; publish agent.daemonSet.scheduling (lib/charts/crowdsec.ts agentView).`,
    ];
  }
  const undecidable = agentUndecidable(s);
  if (undecidable) {
    return [
      `cannot verify: ${who} ${undecidable}, so the pack cannot tell whether it runs on every node the mail pod can; drop that constraint in the CrowdSec stack's chart values.`,
    ];
  }
  const agentTolerations = [
    ...tolerationsOf(s.tolerations),
    ...daemonPodTolerations(s.hostNetwork === true),
  ];
  const out = uncoveredTolerations(tolerationsOf(at(mail, "tolerations")), agentTolerations).map(
    ({ toleration, effect }) =>
      `the mail pod tolerates taints ${describeTaints(toleration, effect)} and ${who} does not, so on a node with such a taint the mail pod can run where no agent reads its logs; drop the toleration, or add {key: ${toleration.key || '""'}, operator: Exists, effect: ${effect}} to agent.tolerations in the CrowdSec stack's chart values.`,
  );
  const agentNodes = nodeConstraint(s);
  if (agentNodes.length === 0) {
    out.push(`${who} has a required node affinity that matches no node; fix agent.affinity.`);
  }
  const missing = unimpliedRequirements(nodeConstraint(mail), agentNodes);
  if (missing.length > 0) {
    const reqs = missing.map(describeRequirement).join(", ");
    out.push(
      `${who} runs only on nodes with ${reqs}, which the mail pod's nodeSelector and required node affinity do not imply, so the mail pod can run where no agent reads its logs; add the same constraint to the mail pod, or widen agent.nodeSelector / agent.affinity in the CrowdSec stack's chart values.`,
    );
  }
  return out;
}

/** The mail pod spec's placement fields; notes unknowns and returns undefined for them. */
function mailPlacement(w: StackResource, gaps: PreviewGaps): Plain | undefined {
  const spec = podSpecOf(w.type, w.props);
  for (const f of PLACEMENT_FIELDS) if (gaps.check(at(spec, f), `${w.name} ${f}`)) return undefined;
  return spec;
}

function judge(
  w: StackResource,
  name: string,
  agents: AgentView[],
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const spec = mailPlacement(w, gaps);
  if (spec === undefined) return;
  const nodeName = str(at(spec, "nodeName"));
  if (nodeName) {
    report(
      `cannot verify: the mail pod of ${name} is bound to node ${nodeName} by spec.nodeName, which skips the scheduler and its taint checks, and the pack has no node list to tell whether a CrowdSec agent pod runs there; use a nodeSelector instead.`,
      w.urn,
    );
    return;
  }
  const perAgent = agents.map((a) => placementGaps(spec, a));
  if (perAgent.some((g) => g.length === 0)) return;
  for (const message of perAgent.flat()) report(`${name}: ${message}`, w.urn);
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const mail = dmsContainers(plainResources(args.resources, hasKind), cfg.dmsImage, gaps);
  const agents = agentViews(plainProperty(args.resources, "agent"), gaps).filter(
    (a) => a.namespace === cfg.crowdsecNamespace,
  );
  for (const a of agents) gaps.check(a.scheduling, a.resource.name);
  const workloads = new Map(mail.map((c) => [c.workload.urn, c]));
  for (const c of workloads.values()) {
    const name = `${c.namespace}/${c.workloadName}`;
    if (agents.length > 0) judge(c.workload, name, agents, report, gaps);
    else if (!gaps.pending) {
      report(
        `cannot verify: the stack reads no CrowdSec agent in namespace ${cfg.crowdsecNamespace}, so nothing shows an agent pod runs on the nodes the mail pod of ${name} can run on; read the agent's DaemonSet at preview (mailserver:crowdsec.agent, published as the CrowdSecAcquisition output "agent").`,
        c.workload.urn,
      );
    }
  }
  gaps.settle();
  if (mail.length === 0) args.notApplicable("no docker-mailserver container in this stack");
}

export const crowdsecAgentOnMailNode: StackValidationPolicy = {
  name: "crowdsec-agent-on-mail-node",
  description:
    "Every node the mail pod can run on runs a CrowdSec agent pod (tolerations and node constraints by Kubernetes' rules).",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
