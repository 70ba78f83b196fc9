/**
 * image-pinned: every container image names a tag other than latest, or a digest.
 *
 * Why: an untagged or :latest image changes under us on any pod restart: docker-mailserver's
 * env, ports and config semantics are version-specific (the pack's env checks assume 15.0.0),
 * and a silent upgrade can break mail or reopen decisions such as Fail2ban's.
 *
 * Fix: pin the image, e.g. docker.io/mailserver/docker-mailserver:15.0.0, or by @sha256 digest.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { containersOf, isWorkload, podSpecOf } from "../lib/k8s";
import { PreviewGaps, str, toPlain } from "../lib/plain";

/** Why `image` is not pinned, or undefined when it is. */
export function unpinnedReason(image: string): string | undefined {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  if (image.includes("@")) return "has a malformed digest";
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  if (colon < 0) return "has no tag (means :latest)";
  const tag = lastSegment.slice(colon + 1);
  if (tag === "" || tag === "latest") return "uses :latest";
  return undefined;
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  if (!isWorkload(args.type)) return;
  const gaps = new PreviewGaps();
  for (const c of containersOf(podSpecOf(args.type, toPlain(args.props)))) {
    if (gaps.check(c.container.image, c.name)) continue;
    const image = str(c.container.image) ?? "";
    const reason = image === "" ? "has no image" : unpinnedReason(image);
    if (reason) {
      report(
        `container ${c.name} image "${image}" ${reason}; pin a version tag or an @sha256 digest.`,
      );
    }
  }
  gaps.settle();
}

export const imagePinned: ResourceValidationPolicy = {
  name: "image-pinned",
  description:
    "Workload images are pinned to a version tag or digest (no missing tag, no :latest).",
  enforcementLevel: "mandatory",
  validateResource,
};
