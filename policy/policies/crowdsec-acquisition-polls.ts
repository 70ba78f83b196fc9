/**
 * crowdsec-acquisition-polls: every file datasource of the stack's CrowdSec acquisitions sets
 * `poll_without_inotify: true`.
 *
 * Why: since CrowdSec 1.5 the file datasource follows files by inotify unless
 * `poll_without_inotify` is true (crowdsecurity/crowdsec pkg/acquisition/modules/file, the agent
 * runs v1.7.8). Pod logs under /var/log/containers are symlinks to the container's current log,
 * and on a symlink inotify cannot see rotation (CrowdSec's own warning: "Crowdsec will not be able
 * to detect rotation"): once the kubelet rotates or a restart replaces the log, the agent goes
 * blind to it, silently, and Fail2ban is off.
 *
 * Fix: add `poll_without_inotify: true` to each `source: file` datasource (keep `force_inotify:
 * true`, which watches the directory for new pods' files).
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { ownedAcquisitions } from "../lib/agent";
import { kindOf } from "../lib/k8s";
import { PreviewGaps, toPlain } from "../lib/plain";

const configSchema: PolicyConfigSchema = {
  properties: {
    crowdsecNamespace: {
      type: "string",
      default: SPEC.crowdsecNamespace,
      description: "Namespace of the CrowdSec acquisition ConfigMaps",
    },
  },
};

interface Config {
  crowdsecNamespace: string;
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  if (kindOf(args.type) !== "ConfigMap") return;
  const gaps = new PreviewGaps();
  const resource = {
    type: args.type,
    name: args.name,
    urn: args.urn,
    props: toPlain(args.props),
    protect: args.opts.protect,
  };
  for (const acq of ownedAcquisitions([resource], cfg.crowdsecNamespace, gaps)) {
    acq.sources.forEach((ds, i) => {
      if (ds.source !== "file" || ds.polls) return;
      report(
        `ConfigMap ${cfg.crowdsecNamespace}/${acq.configMap} key ${acq.key}, datasource ${i + 1} (${ds.filenames.join(", ")}, program ${ds.program ?? "-"}) follows its files by inotify, which loses pod logs (symlinks) on rotation; add poll_without_inotify: true to it.`,
      );
    });
  }
  gaps.settle();
}

export const crowdsecAcquisitionPolls: ResourceValidationPolicy = {
  name: "crowdsec-acquisition-polls",
  description:
    "Each file datasource of the stack's CrowdSec acquisitions polls (poll_without_inotify: true).",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
};
