/**
 * mail-no-net-caps: the mail pod adds no NET_ADMIN/NET_RAW and runs unprivileged.
 *
 * Why: docker-mailserver's Kubernetes docs add NET_ADMIN and NET_RAW only for Fail2ban, which is
 * off here (CrowdSec bans at the firewall). The capabilities would let a compromised Postfix
 * or Dovecot rewrite the pod's network rules or sniff traffic, for no benefit.
 *
 * Invariant (effective state): no container of a pod that runs docker-mailserver is granted
 * NET_ADMIN/NET_RAW/ALL or privileged, and none holds NET_RAW, which the runtime grants by
 * default unless dropped: the containers of a pod share its network namespace, so a sidecar's
 * raw socket sees and forges the mail traffic as the mail container's would. Paths: each
 * container's securityContext.capabilities.add and .drop (any case, with or without CAP_) and
 * .privileged, for containers, initContainers and ephemeralContainers of every workload kind; the
 * pod-level securityContext has no capabilities field.
 *
 * Fix: remove them from securityContext.capabilities.add, drop NET_RAW (or ALL) in every
 * container of the mail pod, and do not set privileged: true. allowPrivilegeEscalation stays true
 * in the docker-mailserver container: postdrop is SGID.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { DMS_IMAGE_PROPERTY, readConfig } from "../lib/config";
import { containersOf, isDmsContainer, isWorkload, podSpecOf, type ContainerRef } from "../lib/k8s";
import { at, list, PreviewGaps, str, toPlain, type Unknown } from "../lib/plain";

const FORBIDDEN = new Set(["NET_ADMIN", "NET_RAW", "ALL"]);

const configSchema: PolicyConfigSchema = { properties: { ...DMS_IMAGE_PROPERTY } };

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

/**
 * Does the runtime drop NET_RAW for this container? containerd (pkg/cri WithCapabilities) clears
 * every capability only for the exact string "ALL" and uppercases single names after prefixing
 * "CAP_", so "all" and "CAP_NET_RAW" drop nothing; NET_RAW is in its default set (pkg/oci
 * defaultUnixCaps). Only spellings every runtime honours count.
 */
function dropsNetRaw(c: ContainerRef, gaps: PreviewGaps): boolean {
  const dropped = at(c.container, "securityContext", "capabilities", "drop");
  if (gaps.check(dropped, c.name)) return true;
  return list(dropped).some(
    (d) => d === "ALL" || (typeof d === "string" && d.toUpperCase() === "NET_RAW"),
  );
}

function keepsNetRaw(c: ContainerRef, dms: boolean | Unknown): string {
  const who =
    dms === true
      ? `container ${c.name} (docker-mailserver)`
      : `container ${c.name} of the mail pod (its network namespace is the mail container's)`;
  return `${who} keeps the runtime's default NET_RAW because securityContext.capabilities.drop does not list "NET_RAW" or "ALL" (exact spelling; "all" and "CAP_NET_RAW" drop nothing in containerd); add drop: ["NET_RAW"].`;
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
  if (isMailPod) {
    for (const c of containers) {
      checkContainer(c, report, gaps);
      if (!dropsNetRaw(c, gaps)) report(keepsNetRaw(c, isDmsContainer(c.container, dmsImage)));
    }
  }
  gaps.settle();
}

export const mailNoNetCaps: ResourceValidationPolicy = {
  name: "mail-no-net-caps",
  description:
    "No container of the mail pod holds NET_ADMIN or NET_RAW (added, or NET_RAW kept from the runtime default) or is privileged (Fail2ban is off).",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
};
