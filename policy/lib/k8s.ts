/** Kubernetes resource shapes as the @pulumi/kubernetes provider sends them (inputs/outputs). */
import { parseImageRef } from "./image-ref";
import { memoize } from "./memo";
import { at, isObject, list, str, Unknown, type Plain, type PlainObject } from "./plain";

const TYPE_RE = /^kubernetes:([a-z0-9.-]+)\/(v[0-9a-z]+):([A-Za-z]+)$/;

/**
 * Kind of a Kubernetes resource type token ("kubernetes:apps/v1:Deployment" -> "Deployment").
 * Every policy asks for every resource, and a stack has few distinct tokens: matched once each.
 */
export const kindOf: (type: string) => string | undefined = memoize(
  (type) => TYPE_RE.exec(type)?.[3],
);

/**
 * A Kubernetes type whose kind `kindOf` parses. Stack views that look for pod specs read all of
 * these: `podSpecOf` finds one in any kind that keeps it at spec.template.spec.
 */
export function hasKind(type: string): boolean {
  return kindOf(type) !== undefined;
}

/**
 * Every kind that runs containers under the tokens of @pulumi/kubernetes 4.34.2, across the
 * apps/v1beta1, apps/v1beta2, extensions/v1beta1 and batch/v1beta1 aliases (kindOf ignores the
 * group/version). PodTemplate is not run by anything itself; the others are.
 */
export const WORKLOAD_KINDS = [
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "ReplicationController",
  "Job",
  "CronJob",
  "Pod",
] as const;

export function isWorkload(type: string): boolean {
  return (WORKLOAD_KINDS as readonly string[]).includes(kindOf(type) ?? "");
}

/** The pod spec of a workload, wherever its kind keeps it. */
export function podSpecOf(type: string, props: Plain): Plain | undefined {
  switch (kindOf(type)) {
    case "Pod":
      return at(props, "spec");
    case "CronJob":
      return at(props, "spec", "jobTemplate", "spec", "template", "spec");
    default:
      return at(props, "spec", "template", "spec");
  }
}

export interface ContainerRef {
  container: PlainObject;
  /** e.g. "spec.containers[0]" relative to the pod spec, for messages. */
  where: string;
  name: string;
}

/** Regular, init and ephemeral containers of a pod spec. */
export function containersOf(podSpec: Plain | undefined): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const field of ["initContainers", "containers", "ephemeralContainers"]) {
    list(at(podSpec, field)).forEach((c, i) => {
      if (isObject(c)) out.push({ container: c, where: `${field}[${i}]`, name: str(c.name) ?? "" });
    });
  }
  return out;
}

/** metadata.name, or the Pulumi resource name when the provider auto-names it. */
export function nameOf(props: Plain, resourceName: string): string | Unknown {
  const name = at(props, "metadata", "name");
  if (name instanceof Unknown) return name;
  return str(name) ?? resourceName;
}

/** metadata.namespace; the provider's default namespace when unset. */
export function namespaceOf(props: Plain): string | Unknown {
  const ns = at(props, "metadata", "namespace");
  if (ns instanceof Unknown) return ns;
  return str(ns) ?? "default";
}

/**
 * Repository path of an image reference without registry host, tag or digest, as the runtime
 * parses it (lib/image-ref.ts). A reference it refuses is cut lexically instead, so that the
 * docker-mailserver checks still judge a container whose image is malformed.
 */
export function imageRepository(image: string): string {
  const ref = parseImageRef(image);
  if (!("error" in ref)) return ref.path;
  const noDigest = image.split("@")[0] ?? image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  const noTag = colon > slash ? noDigest.slice(0, colon) : noDigest;
  const parts = noTag.split("/");
  const first = parts[0] ?? "";
  // A first segment with a dot, a colon or "localhost" is a registry host, not a path.
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    parts.shift();
  }
  return parts.join("/");
}

/** Is this container docker-mailserver? Matched on the image's repository name. */
export function isDmsContainer(c: PlainObject, repoName: string): boolean | Unknown {
  if (c.image instanceof Unknown) return c.image;
  const image = str(c.image);
  if (!image) return false;
  const repo = imageRepository(image);
  return repo === repoName || repo.endsWith(`/${repoName}`);
}

/** The labels of the pods a workload runs (its pod template's, or a Pod's own). */
export function podLabelsOf(type: string, props: Plain): Plain | undefined {
  switch (kindOf(type)) {
    case "Pod":
      return at(props, "metadata", "labels");
    case "CronJob":
      return at(props, "spec", "jobTemplate", "spec", "template", "metadata", "labels");
    default:
      return at(props, "spec", "template", "metadata", "labels");
  }
}

/**
 * The container ports a Service port's named targetPort resolves to in a pod spec, as the
 * endpoints controller resolves it (kubernetes pkg/api/v1/pod/util.go, findPort): a port of that
 * name and protocol (TCP when unset) in the pod's containers, then in init containers that run
 * beside them (restartPolicy Always).
 */
export function namedPorts(podSpec: Plain | undefined, name: string, protocol: string): Plain[] {
  const proto = (p: Plain) => str(at(p, "protocol")) ?? "TCP";
  return containersOf(podSpec)
    .filter(
      (c) =>
        c.where.startsWith("containers[") ||
        (c.where.startsWith("initContainers[") && c.container.restartPolicy === "Always"),
    )
    .flatMap((c) => list(c.container.ports))
    .filter((p) => at(p, "name") === name && proto(p) === protocol)
    .map((p) => at(p, "containerPort") ?? null);
}
