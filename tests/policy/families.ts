/**
 * Every generative family, and how the pack runs them: plain-text-public refuses any plain text
 * not listed, so the families that vary ConfigMaps and env freely run with it off, and its own
 * family runs with the good stack's public text listed.
 */
import type { PackConfig } from "../../tools/analyzer/client";
import { FAMILIES, type Family } from "./generative";
import { agentNodeFamily } from "./generative-agent-node";
import { closedWorldFamily } from "./generative-closed-world";
import { crowdsecLoadsFamily } from "./generative-crowdsec-loads";
import { dkimSigningFamily } from "./generative-dkim-signing";
import { dkimTagsFamily } from "./generative-dkim-tags";
import { dmsProvisionerFamily } from "./generative-dms-provisioner";
import { dmsReleaseFamily } from "./generative-dms-release";
import { kubeProxyFamily } from "./generative-kube-proxy";
import { mtaStsWorkerFamily } from "./generative-mta-sts-worker";
import { namespaceFamily } from "./generative-namespace";
import { addressClashFamily, nodePortClashFamily } from "./generative-stack-clash";
import { GOOD_STACK_PACK_CONFIG } from "./fixtures";
import { plainTextFamily } from "./generative-plain-text";
import { WAIVER_PACK_CONFIG, waiversFamily } from "./generative-waivers";
import { DMS_START_PACK_CONFIG, dmsStartFamily } from "./generative-dms-start";
import { PREFLIGHT_FAMILIES } from "./generative-preflight";
import { SECRET_REF_FAMILIES } from "./generative-secret-refs";
import { SEAM_FAMILIES } from "./generative-seams";

export const RUNS_WITH: { config: PackConfig; families: Family[] }[] = [
  {
    config: { "plain-text-public": "disabled" },
    families: [
      ...FAMILIES,
      ...SEAM_FAMILIES,
      ...PREFLIGHT_FAMILIES,
      closedWorldFamily,
      crowdsecLoadsFamily,
      kubeProxyFamily,
      dkimTagsFamily,
      dmsReleaseFamily,
      dmsProvisionerFamily,
      agentNodeFamily,
      namespaceFamily,
      addressClashFamily,
      nodePortClashFamily,
      dkimSigningFamily,
      mtaStsWorkerFamily,
      ...SECRET_REF_FAMILIES,
    ],
  },
  { config: GOOD_STACK_PACK_CONFIG, families: [plainTextFamily] },
  { config: WAIVER_PACK_CONFIG, families: [waiversFamily] },
  { config: DMS_START_PACK_CONFIG, families: [dmsStartFamily] },
];
