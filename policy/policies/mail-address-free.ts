/**
 * mail-address-free: every address a Service of the stack asks MetalLB for is in a MetalLB pool
 * and held by no other Service of the cluster.
 *
 * Why: MetalLB assigns an address only from an IPAddressPool, and "if the address is already in
 * use by another service, assignment will fail and MetalLB will log a warning event"
 * (metallb.universe.tf/usage). Sharing needs the same `metallb.io/allow-shared-ip` key on both
 * Services. The Kubernetes provider then waits for an address that never comes and fails the update
 * after 10 minutes (@pulumi/kubernetes Service await), with the old inbound path already changed.
 * Since 2026-05-10 `kms/windows-kms` holds 10.0.20.202 (ViktorBarzin/infra stacks/kms/main.tf).
 *
 * How the pack knows: the program lists the cluster's Services and pools at preview
 * (lib/cluster-inventory.ts) and publishes them as the ClusterPreflight output `inventory`. A stack
 * that asks for an address without that inventory cannot be verified and is refused.
 *
 * Fix: free the address in the stack that holds it, or ask for a free address of a pool
 * (`mailserver:mailserver.loadBalancerIp`) and point pfSense's NAT at it.
 */
import type { ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { nameOf, namespaceOf } from "../lib/k8s";
import { judgeServiceRequests, poolContains, serviceId, type Inventory } from "../lib/inventory";
import { at, PreviewGaps, str } from "../lib/plain";
import type { StackResource } from "../lib/stack";

const ANNOTATIONS = ["metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs"];
const SHARING = ["metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip"];

interface Asked {
  resource: StackResource;
  id: string;
  addresses: string[];
  sharingKey?: string;
}

/** The addresses a planned Service asks MetalLB for, as MetalLB reads them. */
function asked(r: StackResource, gaps: PreviewGaps): Asked | undefined {
  const name = nameOf(r.props, r.name);
  const ns = namespaceOf(r.props);
  if (gaps.check(name, r.name) || gaps.check(ns, r.name)) return undefined;
  const values = [
    ...ANNOTATIONS.map((a) => at(r.props, "metadata", "annotations", a)),
    at(r.props, "spec", "loadBalancerIP"),
  ];
  if (values.some((v) => gaps.check(v, r.name))) return undefined;
  const addresses = values
    .flatMap((v) => (str(v) ?? "").split(","))
    .map((a) => a.trim())
    .filter((a, i, all) => a !== "" && all.indexOf(a) === i);
  if (addresses.length === 0) return undefined;
  const sharingKey = SHARING.map((a) => str(at(r.props, "metadata", "annotations", a))).find(
    (k) => k,
  );
  return { resource: r, id: `${ns}/${name}`, addresses, ...(sharingKey ? { sharingKey } : {}) };
}

function judge(a: Asked, inv: Inventory, report: ReportViolation): void {
  for (const address of a.addresses) {
    const pools = inv.pools.filter((p) => poolContains(p, address));
    if (pools.length === 0) {
      const known = inv.pools.map((p) => `${p.name} (${p.addresses.join(", ")})`).join("; ");
      report(
        `Service ${a.id} asks MetalLB for ${address}, which is in no MetalLB address pool (${known || "none read"}), so MetalLB never assigns it; ask for an address of a pool (mailserver:mailserver.loadBalancerIp).`,
        a.resource.urn,
      );
    }
    const holders = inv.services.filter(
      (s) =>
        serviceId(s) !== a.id &&
        s.addresses.includes(address) &&
        !(a.sharingKey && s.sharingKey === a.sharingKey),
    );
    for (const h of holders) {
      report(
        `Service ${a.id} asks MetalLB for ${address}, but ${h.type} Service ${serviceId(h)} holds it (read from ${inv.source}); MetalLB will not assign it and the update times out after 10 minutes. Free ${address} in the stack that owns ${serviceId(h)}, or set mailserver:mailserver.loadBalancerIp to a free address of the pool and point pfSense's NAT at it.`,
        a.resource.urn,
      );
    }
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  judgeServiceRequests(args, report, {
    request: asked,
    none: "no Service of the stack asks MetalLB for an address",
    unverified: (a) => `Service ${a.id} asks MetalLB for ${a.addresses.join(", ")}`,
    judge,
    clash: (a, b) => {
      const both = a.addresses.filter((x) => b.addresses.includes(x));
      const shared = a.sharingKey !== undefined && a.sharingKey === b.sharingKey;
      return both.length > 0 && !shared
        ? `Services ${a.id} and ${b.id} of this stack both ask MetalLB for ${both.join(", ")} without one allow-shared-ip key, so MetalLB assigns it to one only`
        : undefined;
    },
  });
}

export const mailAddressFree: StackValidationPolicy = {
  name: "mail-address-free",
  description:
    "Every address a Service of the stack asks MetalLB for is in a MetalLB pool and held by no other Service of the cluster.",
  enforcementLevel: "mandatory",
  validateStack,
};
