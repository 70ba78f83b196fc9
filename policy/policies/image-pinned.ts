/**
 * image-pinned: every container image names a tag other than latest, or a digest.
 *
 * Why: an untagged or :latest image changes under us on any pod restart: docker-mailserver's
 * env, ports and config semantics are version-specific (dms-env-known ties the tag to its env
 * table), and a silent upgrade can break mail or reopen decisions such as Fail2ban's.
 *
 * Invariant (effective state): every container that can run in the cluster (containers,
 * initContainers, ephemeralContainers of every workload kind) names an image that cannot change:
 * an @sha256 digest, or a tag with a full major.minor.patch version. Paths: the image reference
 * of each container, parsed by the runtime's grammar (lib/image-ref.ts: registry host with port,
 * library/ names, tag, digest; a reference the kubelet refuses is a violation); tags that float
 * while looking pinned (:15.0, :15, :v15, :15-alpine, :stable, :edge, :latest-alpine) are moving.
 * Tags that are neither (e.g. a date or a commit id) are accepted: they are conventionally
 * immutable, which the registry cannot confirm offline.
 *
 * Which release a docker-mailserver image names, and whether the pack knows that release's env,
 * is dms-env-known's to judge: this policy only asks whether the reference can move.
 *
 * Fix: pin the image, e.g. docker.io/mailserver/docker-mailserver:15.0.0, or by @sha256 digest.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { parseImageRef } from "../lib/image-ref";
import { containersOf, isWorkload, podSpecOf } from "../lib/k8s";
import { PreviewGaps, str, toPlain } from "../lib/plain";

/** Channel names that registries move on every release, alone or before a variant suffix. */
const FLOATING_WORD =
  /^(latest|edge|stable|main|master|nightly|dev|develop|unstable|testing|next|current|lts|mainline|rolling)([-_.].*)?$/i;
/** A major or major.minor version (optionally v-prefixed, optionally with a variant suffix). */
const SHORT_VERSION = /^v?\d+(\.\d+)?(-[A-Za-z].*)?$/;

/** Why `image` is not pinned, or undefined when it is. */
export function unpinnedReason(image: string): string | undefined {
  const ref = parseImageRef(image);
  if ("error" in ref)
    return `is not a valid image reference (${ref.error}), so the kubelet refuses it`;
  if (ref.digest) return undefined;
  const tag = ref.tag;
  if (tag === undefined) return "has no tag (means :latest)";
  if (tag === "latest") return "uses :latest";
  if (FLOATING_WORD.test(tag)) return `uses the moving tag :${tag}`;
  if (SHORT_VERSION.test(tag)) {
    return `uses :${tag}, which moves to every new patch release under that version (pin major.minor.patch, e.g. :15.0.0)`;
  }
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
