/**
 * mail-nodeports-free: every NodePort a Service of the stack asks for is free in the cluster.
 *
 * Why: NodePorts are cluster-wide; the API server refuses a Service whose `nodePort` another
 * Service already allocated ("provided port is already allocated", Kubernetes Service
 * allocation). Today the Terraform mail stack's PROXY-v2 Service holds 30125-30128 for pfSense's
 * HAProxy (ViktorBarzin/infra stacks/mailserver/modules/mailserver/main.tf), so a second Service
 * on the same ports fails the update halfway through the cutover.
 *
 * How the pack knows: from the cluster inventory the program reads at preview (ClusterPreflight
 * output `inventory`); without it the request cannot be verified and is refused.
 *
 * Fix: take the old Service down in the runbook step before, or ask for other NodePorts and point
 * HAProxy's backends at them once they are proven (docs/cutover.md).
 */
import type { ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { nameOf, namespaceOf } from "../lib/k8s";
import { judgeServiceRequests, serviceId, type Inventory } from "../lib/inventory";
import { at, list, PreviewGaps } from "../lib/plain";
import type { StackResource } from "../lib/stack";

interface Wanted {
  resource: StackResource;
  id: string;
  nodePorts: number[];
}

function wanted(r: StackResource, gaps: PreviewGaps): Wanted | undefined {
  const name = nameOf(r.props, r.name);
  const ns = namespaceOf(r.props);
  const ports = at(r.props, "spec", "ports");
  if (gaps.check(name, r.name) || gaps.check(ns, r.name) || gaps.check(ports, r.name)) {
    return undefined;
  }
  const nodePorts = list(ports).flatMap((p) => {
    const n = at(p, "nodePort");
    if (gaps.check(n, r.name)) return [];
    return typeof n === "number" ? [n] : [];
  });
  return nodePorts.length > 0 ? { resource: r, id: `${ns}/${name}`, nodePorts } : undefined;
}

function judge(w: Wanted, inv: Inventory, report: ReportViolation): void {
  for (const port of w.nodePorts) {
    for (const h of inv.services.filter(
      (s) => serviceId(s) !== w.id && s.nodePorts.includes(port),
    )) {
      report(
        `Service ${w.id} asks for NodePort ${port}, but Service ${serviceId(h)} holds it (read from ${inv.source}); the API server refuses the second allocation. Remove ${serviceId(h)} in the runbook step before this one, or choose another NodePort and point pfSense HAProxy at it.`,
        w.resource.urn,
      );
    }
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  judgeServiceRequests(args, report, {
    request: wanted,
    none: "no Service of the stack asks for a NodePort",
    unverified: (w) => `Service ${w.id} asks for NodePorts ${w.nodePorts.join(", ")}`,
    judge,
    clash: (a, b) => {
      const both = a.nodePorts.filter((p) => b.nodePorts.includes(p));
      return both.length > 0
        ? `Services ${a.id} and ${b.id} of this stack both ask for NodePort ${both.join(", ")}, and the API server allocates each once`
        : undefined;
    },
  });
}

export const mailNodePortsFree: StackValidationPolicy = {
  name: "mail-nodeports-free",
  description: "Every NodePort a Service of the stack asks for is free in the cluster.",
  enforcementLevel: "mandatory",
  validateStack,
};
