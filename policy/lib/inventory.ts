/**
 * The cluster inventory the program read at preview (the ClusterPreflight component's output
 * `inventory`: lib/cluster-inventory.ts in the program), as the preflight policies judge it, and
 * MetalLB's and the kube-proxy's own rules for addresses and ports.
 */
import { BlockList, isIP } from "node:net";
import { at, isObject, list, str, Unknown, type Plain } from "./plain";
import type { ReportViolation, StackValidationArgs } from "@pulumi/policy";
import { kindOf } from "./k8s";
import { PreviewGaps } from "./plain";
import { plainResources, type StackResource } from "./stack";

export const PREFLIGHT_TYPE = "mailserver:preflight:ClusterPreflight";

export interface HeldService {
  namespace: string;
  name: string;
  type: string;
  addresses: string[];
  sharingKey?: string;
  nodePorts: number[];
}

export interface Pool {
  name: string;
  addresses: string[];
}

export interface SecretSeen {
  namespace: string;
  name: string;
  present: boolean;
  type?: string;
  dnsNames?: string[];
  notAfter?: string;
}

export interface Inventory {
  source: string;
  services: HeldService[];
  pools: Pool[];
  secrets: SecretSeen[];
}

const strings = (v: Plain | undefined): string[] =>
  list(v).flatMap((x) => (typeof x === "string" ? [x] : []));

/** The inventory a ClusterPreflight published; Unknown during a preview that has not read it yet. */
export function readInventory(r: StackResource): Inventory | Unknown | undefined {
  const inv = at(r.props, "inventory");
  if (inv instanceof Unknown) return inv;
  if (!isObject(inv)) return undefined;
  return {
    source: str(at(inv, "source")) ?? "(unknown source)",
    services: list(at(inv, "services"))
      .filter(isObject)
      .map((s) => ({
        namespace: str(at(s, "namespace")) ?? "",
        name: str(at(s, "name")) ?? "",
        type: str(at(s, "type")) ?? "ClusterIP",
        addresses: strings(at(s, "addresses")),
        ...(str(at(s, "sharingKey")) ? { sharingKey: str(at(s, "sharingKey")) } : {}),
        nodePorts: list(at(s, "nodePorts")).filter((p): p is number => typeof p === "number"),
      })),
    pools: list(at(inv, "pools"))
      .filter(isObject)
      .map((p) => ({
        name: str(at(p, "name")) ?? "",
        addresses: strings(at(p, "addresses")),
      })),
    secrets: list(at(inv, "secrets"))
      .filter(isObject)
      .map((s) => ({
        namespace: str(at(s, "namespace")) ?? "",
        name: str(at(s, "name")) ?? "",
        present: at(s, "present") === true,
        ...(str(at(s, "type")) ? { type: str(at(s, "type")) } : {}),
        ...(Array.isArray(at(s, "dnsNames")) ? { dnsNames: strings(at(s, "dnsNames")) } : {}),
        ...(str(at(s, "notAfter")) ? { notAfter: str(at(s, "notAfter")) } : {}),
      })),
  };
}

/**
 * A MetalLB pool's `addresses` entries: CIDRs (`10.0.20.0/24`) or ranges (`10.0.20.200-10.0.20.220`)
 * (metallb.universe.tf/configuration, IPAddressPool). Node's BlockList does the address arithmetic.
 */
export function poolContains(pool: Pool, address: string): boolean {
  const family = isIP(address) === 6 ? "ipv6" : "ipv4";
  const blocks = new BlockList();
  for (const entry of pool.addresses) {
    const [from, to] = entry.split("-").map((s) => s.trim());
    if (to && isIP(from) && isIP(to)) blocks.addRange(from, to, isIP(from) === 6 ? "ipv6" : "ipv4");
    else if (from.includes("/")) {
      const [net, bits] = from.split("/");
      if (isIP(net)) blocks.addSubnet(net, Number(bits), isIP(net) === 6 ? "ipv6" : "ipv4");
    } else if (isIP(from)) blocks.addAddress(from, isIP(from) === 6 ? "ipv6" : "ipv4");
  }
  return isIP(address) !== 0 && blocks.check(address, family);
}

/** `ns/name` of a Service. */
export const serviceId = (s: { namespace: string; name: string }): string =>
  `${s.namespace}/${s.name}`;

/**
 * The inventory the stack read, or undefined: an unknown one (preview) is noted in `gaps`, so a
 * policy neither passes nor refuses on it before the engine fills it in.
 */
export function stackInventory(
  resources: readonly StackResource[],
  gaps: { note(v: Unknown, where?: string): void },
): Inventory | undefined {
  let found: Inventory | undefined;
  for (const r of resources.filter((x) => x.type === PREFLIGHT_TYPE)) {
    const inv = readInventory(r);
    if (inv instanceof Unknown) gaps.note(inv, "ClusterPreflight inventory");
    else found ??= inv;
  }
  return found;
}

/** What a Service of the stack asks the cluster for, as one preflight policy reads it. */
export interface ServiceRequest {
  resource: StackResource;
  id: string;
}

/**
 * The skeleton the Service preflight policies share: read each planned Service's request, then
 * judge every request against the inventory, or refuse it as "cannot verify" when the stack read
 * none (an inventory still unknown at preview is left to the advisory).
 */
export function judgeServiceRequests<R extends ServiceRequest>(
  args: StackValidationArgs,
  report: ReportViolation,
  spec: {
    request: (r: StackResource, gaps: PreviewGaps) => R | undefined;
    none: string;
    unverified: (r: R) => string;
    judge: (r: R, inv: Inventory, report: ReportViolation) => void;
    /** A request another Service of the same stack also makes (both fail, whatever the cluster). */
    clash: (r: R, other: R) => string | undefined;
  },
): void {
  const gaps = new PreviewGaps();
  const services = plainResources(args.resources, (t) => kindOf(t) === "Service");
  const wants = services.flatMap((r) => spec.request(r, gaps) ?? []);
  if (wants.length === 0) {
    gaps.settle();
    args.notApplicable(spec.none);
    return;
  }
  // One finding per Service that clashes with earlier ones, naming the first: a value many
  // copies ask for gives one finding each, not one per pair.
  wants.forEach((w, i) => {
    const whys = wants.slice(0, i).flatMap((earlier) => spec.clash(earlier, w) ?? []);
    if (whys.length === 0) return;
    const more = whys.length > 1 ? ` (and ${whys.length - 1} more Services of this stack)` : "";
    report(`${whys[0]}${more}; give one of them another.`, w.resource.urn);
  });
  const inv = stackInventory(
    plainResources(args.resources, (t) => t === PREFLIGHT_TYPE),
    gaps,
  );
  if (inv) for (const w of wants) spec.judge(w, inv, report);
  else if (!gaps.pending) {
    for (const w of wants) {
      report(
        `cannot verify: ${spec.unverified(w)}, but the stack read no cluster inventory; publish it with a ClusterPreflight component (index.ts does).`,
        w.resource.urn,
      );
    }
  }
  gaps.settle();
}
