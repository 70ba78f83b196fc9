/**
 * mail-no-net-caps: the mail pod adds no NET_ADMIN/NET_RAW and runs unprivileged.
 *
 * Why: docker-mailserver's Kubernetes docs add NET_ADMIN and NET_RAW only for Fail2ban, which is
 * off here (CrowdSec bans at the firewall). The capabilities would let a compromised Postfix
 * or Dovecot rewrite the pod's network rules or sniff traffic, for no benefit.
 *
 * Fix: remove them from securityContext.capabilities.add (keep drop: [NET_RAW]) and do not set
 * privileged: true. allowPrivilegeEscalation stays true: postdrop is SGID.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import { containersOf, isDmsContainer, isWorkload, podSpecOf, type ContainerRef } from "../lib/k8s";
import { at, list, PreviewGaps, str, toPlain } from "../lib/plain";

const FORBIDDEN = new Set(["NET_ADMIN", "NET_RAW", "ALL"]);

const configSchema = {
  properties: {
    dmsImage: {
      type: "string" as const,
      default: SPEC.dmsImage,
      description: "Image repository name that identifies docker-mailserver containers",
    },
  },
};

function checkContainer(c: ContainerRef, report: ReportViolation, gaps: PreviewGaps): void {
  const added = at(c.container, "securityContext", "capabilities", "add");
  if (gaps.check(added, c.name)) return;
  for (const cap of list(added)) {
    if (gaps.check(cap, c.name)) continue;
    const name = (str(cap) ?? "").toUpperCase().replace(/^CAP_/, "");
    if (FORBIDDEN.has(name)) {
      report(
        `container ${c.name} in the mail pod adds ${name}; Fail2ban is off (CrowdSec bans), so it is not needed: remove it from securityContext.capabilities.add.`,
      );
    }
  }
  const privileged = at(c.container, "securityContext", "privileged");
  if (!gaps.check(privileged, c.name) && privileged === true) {
    report(
      `container ${c.name} in the mail pod is privileged (all capabilities); remove privileged: true.`,
    );
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  if (!isWorkload(args.type)) return;
  const { dmsImage } = readConfig<{ dmsImage: string }>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const containers = containersOf(podSpecOf(args.type, toPlain(args.props)));
  const isMailPod = containers.some((c) => {
    const dms = isDmsContainer(c.container, dmsImage);
    return !gaps.check(dms, c.name) && dms;
  });
  if (isMailPod) for (const c of containers) checkContainer(c, report, gaps);
  gaps.settle();
}

export const mailNoNetCaps: ResourceValidationPolicy = {
  name: "mail-no-net-caps",
  description:
    "The mail pod adds no NET_ADMIN/NET_RAW capability and is not privileged (Fail2ban is off).",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
};
