/**
 * crowdsec-agent-mounts-acquisition: every CrowdSec acquisition the stack creates is mounted by
 * the live CrowdSec agent as one file in /etc/crowdsec/acquis.d, and nothing the agent mounts
 * hides that directory.
 *
 * Why: the agent is the crowdsec Helm chart of another stack. A ConfigMap it does not mount is
 * inert: with Fail2ban off, SMTP/IMAP brute force then goes unseen, without any error. The chart
 * already mounts files by subPath (acquis.yaml, and the owner's acquis.d/syslog.yaml); a volume
 * mounted over the whole acquis.d directory (or a parent) hides them.
 *
 * Fix: in the CrowdSec stack's chart values, add the ConfigMap to agent.extraVolumes and mount its
 * key with agent.extraVolumeMounts at /etc/crowdsec/acquis.d/<key> with subPath <key> (the stack
 * output crowdsecAgentValues holds the complete lists); mount files, never the directory.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import {
  agentViews,
  describeAgent,
  mountedKey,
  ownedAcquisitions,
  type AgentView,
  type OwnedAcquisition,
} from "../lib/agent";
import { readConfig, SPEC } from "../lib/config";
import { ACQUIS_DIR, coversAcquisDir, isAcquisitionPath } from "../lib/crowdsec";
import { PreviewGaps } from "../lib/plain";
import { kindOf } from "../lib/k8s";
import { plainProperty, plainResources } from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    crowdsecNamespace: {
      type: "string",
      default: SPEC.crowdsecNamespace,
      description: "Namespace of the CrowdSec agent and its acquisition ConfigMaps",
    },
  },
};

interface Config {
  crowdsecNamespace: string;
}

function mounts(a: AgentView, acq: OwnedAcquisition): boolean {
  return a.mounts.some((m) => {
    const file = mountedKey(a, m);
    return (
      file?.configMap === acq.configMap &&
      file.key === acq.key &&
      isAcquisitionPath(m.mountPath) &&
      m.mountPath.startsWith(`${ACQUIS_DIR}/`)
    );
  });
}

function fixFor(acq: OwnedAcquisition): string {
  return `in the CrowdSec stack's chart values add agent.extraVolumes {name: mail-acquisition, configMap: {name: ${acq.configMap}, items: [{key: ${acq.key}, path: ${acq.key}}]}} and agent.extraVolumeMounts {name: mail-acquisition, mountPath: ${ACQUIS_DIR}/${acq.key}, subPath: ${acq.key}} (the stack output crowdsecAgentValues has the complete lists to paste)`;
}

/** "the agent X does" or "the agents X, Y and 3 more do": one finding per acquisition. */
function whoMisses(agents: AgentView[]): string {
  if (agents.length === 1) return `the agent ${describeAgent(agents[0])} does`;
  const named = agents.slice(0, NAMED_AGENTS).map(describeAgent).join(", ");
  const more = agents.length - NAMED_AGENTS;
  return `the agents ${named}${more > 0 ? ` and ${more} more` : ""} do`;
}

const NAMED_AGENTS = 5;

/** Directory mounts over acquis.d hide the files mounted beneath it by subPath. */
function checkHiding(a: AgentView, report: ReportViolation): void {
  const files = a.mounts.filter((m) => m.subPath && isAcquisitionPath(m.mountPath));
  for (const m of a.mounts) {
    if (m.subPath || !coversAcquisDir(m.mountPath)) continue;
    const hidden = files.map((f) => f.mountPath).join(", ") || "the image's own acquis.d";
    report(
      `The CrowdSec agent ${describeAgent(a)} mounts volume ${m.name} over the whole directory ${m.mountPath}, which hides the acquisition files mounted beneath it (${hidden}); mount each file by subPath at ${ACQUIS_DIR}/<file>.yaml instead, as agent.extraVolumeMounts {name, mountPath: ${ACQUIS_DIR}/<key>, subPath: <key>}.`,
      a.resource.urn,
    );
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const configMaps = plainResources(args.resources, (t) => kindOf(t) === "ConfigMap");
  const owned = ownedAcquisitions(configMaps, cfg.crowdsecNamespace, gaps);
  const agents = agentViews(plainProperty(args.resources, "agent"), gaps).filter(
    (a) => a.namespace === cfg.crowdsecNamespace,
  );
  for (const a of agents) checkHiding(a, report);
  for (const acq of owned) {
    const where = `ConfigMap ${cfg.crowdsecNamespace}/${acq.configMap} key ${acq.key}`;
    if (agents.length === 0) {
      if (gaps.pending) continue;
      report(
        `${where} is a CrowdSec acquisition, but the stack reads no CrowdSec agent, so nothing proves any agent mounts it; read the agent's DaemonSet at preview (mailserver:crowdsec.agent, published as the CrowdSecAcquisition output "agent"), then ${fixFor(acq)}.`,
        acq.resource.urn,
      );
      continue;
    }
    const missing = agents.filter((x) => !mounts(x, acq));
    if (missing.length > 0) {
      report(
        `${where} is a CrowdSec acquisition that ${whoMisses(missing)} not mount as a file in ${ACQUIS_DIR}, so CrowdSec never reads it; ${fixFor(acq)}.`,
        acq.resource.urn,
      );
    }
  }
  gaps.settle();
  if (owned.length === 0 && agents.length === 0) {
    args.notApplicable("no CrowdSec acquisition and no CrowdSec agent in this stack");
  }
}

export const crowdsecAgentMountsAcquisition: StackValidationPolicy = {
  name: "crowdsec-agent-mounts-acquisition",
  description:
    "The live CrowdSec agent mounts each acquisition of the stack by subPath in /etc/crowdsec/acquis.d, and no directory mount hides acquis.d.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
