/**
 * mail-service-etp-local: the Service exposing SMTP (port 25) of the mail pods is a MetalLB
 * LoadBalancer with externalTrafficPolicy Local on the dedicated IP.
 *
 * Why: with ETP Cluster kube-proxy SNATs connections to node IPs, so Postfix rate limits,
 * Rspamd and CrowdSec all see 10.0.20.x instead of the attacker and CrowdSec cannot ban anyone.
 * pfSense forwards port 25 to exactly one address (10.0.20.202); a different or floating IP
 * breaks inbound mail. MetalLB rejects spec.loadBalancerIP together with the annotation, and
 * Kubernetes deprecated that field.
 *
 * Invariant (effective state): every Service in the mail namespace that is reachable from
 * outside the cluster (LoadBalancer, NodePort, externalIPs, or asking MetalLB for an IP) and
 * routes a mail port (25, 465, 587, 143, 993, 110, 995, 4190, as port or targetPort, by number
 * or by the conventional name) keeps client IPs (ETP Local) and sits on the one IP pfSense
 * forwards to. MetalLB reads metallb.io/loadBalancerIPs, then metallb.universe.tf/loadBalancerIPs,
 * and spec.loadBalancerIP (../shared/reference/metallb-annotations.tsv). A second Service is
 * judged like the first; an internal ClusterIP or headless Service is not exposed. A named
 * targetPort outside the conventional names is resolved in the pods the Service selects, as the
 * endpoints controller resolves it (lib/k8s.ts#namedPorts): a mail port there makes it a mail
 * Service; without a selector, or selecting nothing of the stack, it is refused "cannot verify".
 *
 * The one other way a real client IP reaches the daemons is PROXY protocol: pfSense HAProxy's
 * PROXY-v2 path to a NodePort Service (ETP Cluster), whose every mail port targets a listener
 * that requires the PROXY header (`proxyPorts`: Postfix 2525/4465/5587 and Dovecot 10993 as
 * rendered by components/mailserver.ts), or is one of HAProxy's health-check NodePorts
 * (`healthCheckNodePorts`, which HAProxy alone reaches). Known gap: the pack takes `proxyPorts`
 * from its config; that the daemons really require PROXY there is proven by the daemon tests
 * (tests/daemons/cutover-parity.test.ts), not by the pack.
 *
 * Fix: type: LoadBalancer, externalTrafficPolicy: Local, annotation
 * metallb.io/loadBalancerIPs: <loadBalancerIP>, and no spec.loadBalancerIP; or, for the HAProxy
 * path, a NodePort Service whose mail ports all target PROXY listeners.
 */
import { isIPv4, isIPv6 } from "node:net";
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig, SPEC } from "../lib/config";
import {
  isWorkload,
  kindOf,
  nameOf,
  namedPorts,
  namespaceOf,
  podLabelsOf,
  podSpecOf,
} from "../lib/k8s";
import {
  at,
  isObject,
  list,
  PreviewGaps,
  str,
  toPlain,
  Unknown,
  type Plain,
  type PlainObject,
} from "../lib/plain";
import { plainResources, type StackResource } from "../lib/stack";

export const IP_ANNOTATIONS = ["metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs"];

const configSchema: PolicyConfigSchema = {
  properties: {
    namespace: { type: "string", default: SPEC.mailNamespace, description: "Mail namespace" },
    loadBalancerIP: {
      type: "string",
      default: SPEC.loadBalancerIP,
      description: "Dedicated MetalLB IP that pfSense forwards port 25 to",
    },
    proxyPorts: {
      type: "array",
      items: { type: "number" },
      default: [2525, 4465, 5587, 10993],
      description:
        "Container ports whose listeners require the PROXY v2 header (pfSense HAProxy path)",
    },
    healthCheckNodePorts: {
      type: "array",
      items: { type: "number" },
      default: [30145, 30146, 30147],
      description: "NodePorts only pfSense HAProxy's health checks reach (no PROXY header)",
    },
  },
};

interface Config {
  namespace: string;
  loadBalancerIP: string;
  proxyPorts: number[];
  healthCheckNodePorts: number[];
}

/**
 * The HAProxy path: a NodePort Service (no externalIPs, no MetalLB address) whose every port
 * targets a PROXY listener or is a health-check NodePort. Unknown ports are not accepted, and
 * neither is a stock listener listed in `proxyPorts`: docker-mailserver 15.0.0's own smtp,
 * submission(s) and Dovecot listeners take no PROXY header (target/postfix/master.cf:13-31,
 * target/dovecot/10-master.conf), so a client's address would be lost there.
 */
function isProxyPath(props: Plain, cfg: Config): boolean {
  const ports = list(at(props, "spec", "ports"));
  const annotated = IP_ANNOTATIONS.some(
    (a) => at(props, "metadata", "annotations", a) !== undefined,
  );
  return (
    at(props, "spec", "type") === "NodePort" &&
    list(at(props, "spec", "externalIPs")).length === 0 &&
    !annotated &&
    cfg.proxyPorts.length > 0 &&
    ports.length > 0 &&
    ports.every((p) => {
      const target = at(p, "targetPort");
      const nodePort = at(p, "nodePort");
      return (
        (typeof target === "number" &&
          cfg.proxyPorts.includes(target) &&
          !MAIL_PORTS.has(target)) ||
        (typeof nodePort === "number" && cfg.healthCheckNodePorts.includes(nodePort))
      );
    })
  );
}

/** docker-mailserver 15.0.0's listening ports and their conventional port names. */
const MAIL_PORTS = new Set([25, 465, 587, 143, 993, 110, 995, 4190]);
const MAIL_PORT_NAMES =
  /^(smtp|smtps|submission|submissions|imap|imaps|pop3|pop3s|managesieve|sieve)$/i;

/** Does the Service route a mail port (as port or targetPort, by number or name)? */
function exposesMail(props: Plain, gaps: PreviewGaps): boolean {
  const ports = at(props, "spec", "ports");
  if (gaps.check(ports)) return false;
  return list(ports).some((p) => {
    const port = at(p, "port");
    const target = at(p, "targetPort");
    if (port instanceof Unknown || target instanceof Unknown) {
      gaps.check(port instanceof Unknown ? port : target);
      return false;
    }
    const isMail = (v: Plain | undefined) =>
      (typeof v === "number" && MAIL_PORTS.has(v)) ||
      (typeof v === "string" && MAIL_PORT_NAMES.test(v));
    return isMail(port) || isMail(target);
  });
}

/**
 * Reachable from outside the cluster: a LoadBalancer or NodePort, externalIPs, or a MetalLB IP
 * request (the Service means to be the load balancer). A ClusterIP or headless Service is not.
 */
function isExposed(props: Plain, gaps: PreviewGaps): boolean {
  const type = at(props, "spec", "type");
  const externalIPs = at(props, "spec", "externalIPs");
  const annotated = IP_ANNOTATIONS.some(
    (a) => at(props, "metadata", "annotations", a) !== undefined,
  );
  if (gaps.check(type) || gaps.check(externalIPs)) return annotated;
  return (
    type === "LoadBalancer" || type === "NodePort" || list(externalIPs).length > 0 || annotated
  );
}

function checkAnnotations(
  props: Plain,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const values = IP_ANNOTATIONS.map((a) => at(props, "metadata", "annotations", a));
  const unknown = values.find((v) => v instanceof Unknown);
  if (unknown instanceof Unknown) {
    gaps.note(unknown);
    return;
  }
  const set = values.map((v) => str(v)).filter((v): v is string => v !== undefined);
  const fix = `set metallb.io/loadBalancerIPs: "${cfg.loadBalancerIP}"`;
  // MetalLB reads the current annotation first, the deprecated one as a fallback.
  const requested = set[0]?.split(",").map((a) => a.trim());
  if (requested) checkFamilies(requested, props, report, gaps);
  if (set.length === 0) {
    report(
      `the SMTP Service has no MetalLB IP annotation, so its IP may change under pfSense's NAT rule; ${fix}.`,
    );
  } else if (
    set.some(
      (v) =>
        !v
          .split(",")
          .map((s) => s.trim())
          .includes(cfg.loadBalancerIP),
    )
  ) {
    report(
      `the SMTP Service asks MetalLB for ${set.join(" / ")}, but pfSense forwards port 25 to ${cfg.loadBalancerIP}; ${fix}.`,
    );
  }
  const legacy = at(props, "spec", "loadBalancerIP");
  if (gaps.check(legacy) || legacy === undefined || legacy === null || legacy === "") return;
  report(
    `spec.loadBalancerIP is set (${JSON.stringify(legacy)}): deprecated in Kubernetes and an error for MetalLB next to the annotation; remove it and ${fix}.`,
  );
}

/**
 * What kube-proxy and MetalLB do with the rest of the Service. `loadBalancerSourceRanges` is
 * enforced by kube-proxy on LoadBalancer traffic (MetalLB leaves filtering to it, metallb#431;
 * iptables mode filters, kubernetes#88698), so every sender outside the ranges is dropped.
 * `externalIPs` makes every node accept the Service on addresses MetalLB neither assigns nor
 * announces (core/v1 ServiceSpec.externalIPs): a path pfSense's NAT and this policy do not see.
 * MetalLB refuses a requested address whose family is not the Service's ("does not match the
 * ipFamily of the service", controller/service.go allocateIPs) and two addresses of one family
 * (internal/allocator/allocator.go Assign).
 */
function checkReach(props: Plain, report: ReportViolation, gaps: PreviewGaps): void {
  const ranges = at(props, "spec", "loadBalancerSourceRanges");
  if (!gaps.check(ranges) && list(ranges).length > 0) {
    report(
      `the SMTP Service sets loadBalancerSourceRanges (${list(ranges)
        .map((r) => JSON.stringify(r))
        .join(
          ", ",
        )}): kube-proxy drops mail from every sender outside them; remove the field (CrowdSec is the filter).`,
    );
  }
  const external = at(props, "spec", "externalIPs");
  if (!gaps.check(external) && list(external).length > 0) {
    report(
      `the SMTP Service sets externalIPs (${list(external)
        .map((r) => JSON.stringify(r))
        .join(
          ", ",
        )}): every node accepts mail on addresses MetalLB does not announce, a path outside pfSense's NAT; remove them.`,
    );
  }
}

const familyOf = (ip: string): "IPv4" | "IPv6" | undefined =>
  isIPv4(ip) ? "IPv4" : isIPv6(ip) ? "IPv6" : undefined;

/** The Service's IP families when the spec decides them (the cluster's default otherwise). */
function serviceFamilies(props: Plain, gaps: PreviewGaps): string[] | undefined {
  const families = at(props, "spec", "ipFamilies");
  const policy = at(props, "spec", "ipFamilyPolicy");
  if (gaps.check(families) || gaps.check(policy)) return undefined;
  const given = list(families).filter((f): f is string => typeof f === "string");
  if (policy === "RequireDualStack") return ["IPv4", "IPv6"];
  if (policy === "PreferDualStack" || given.length === 0) return undefined;
  return policy === "SingleStack" || given.length === 1 ? given.slice(0, 1) : given;
}

function checkFamilies(
  requested: string[],
  props: Plain,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const families = requested.map(familyOf);
  const bad = requested.filter((_, i) => families[i] === undefined);
  if (bad.length > 0) {
    report(
      `MetalLB refuses the Service: ${bad.map((b) => JSON.stringify(b)).join(", ")} is not an IP address.`,
    );
    return;
  }
  if (new Set(families).size < families.length) {
    report(
      `MetalLB refuses the Service: ${requested.join(", ")} asks for two addresses of one family.`,
    );
    return;
  }
  const want = serviceFamilies(props, gaps);
  if (want && [...new Set(families)].sort().join() !== [...want].sort().join()) {
    report(
      `MetalLB refuses the Service: it asks for ${requested.join(", ")} (${families.join(", ")}) but the Service's IP families are ${want.join(", ")}; drop ipFamilies/ipFamilyPolicy or match them to the address.`,
    );
  }
}

/** The SMTP Service rules, for a Service in the mail namespace that exposes a mail port. */
function judge(props: Plain, cfg: Config, report: (m: string) => void, gaps: PreviewGaps): void {
  const type = at(props, "spec", "type");
  const etp = at(props, "spec", "externalTrafficPolicy");
  if (!gaps.check(type) && type !== "LoadBalancer") {
    report(
      `the Service exposing SMTP port 25 is type ${str(type) ?? "ClusterIP"}; make it type: LoadBalancer.`,
    );
  }
  if (!gaps.check(etp) && etp !== "Local") {
    report(
      `the SMTP Service has externalTrafficPolicy ${str(etp) ?? "Cluster (default)"}, which SNATs client IPs so CrowdSec and Postfix cannot see attackers; set externalTrafficPolicy: Local.`,
    );
  }
  checkAnnotations(props, cfg, report, gaps);
  checkReach(props, report, gaps);
}

/** An exposed Service of the mail namespace outside the HAProxy path. */
function exposedInMailNs(props: Plain, cfg: Config, gaps: PreviewGaps): boolean {
  const ns = namespaceOf(props);
  return (
    !gaps.check(ns) && ns === cfg.namespace && isExposed(props, gaps) && !isProxyPath(props, cfg)
  );
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  if (kindOf(args.type) !== "Service") return;
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const props = toPlain(args.props);
  const gaps = new PreviewGaps();
  if (exposedInMailNs(props, cfg, gaps) && exposesMail(props, gaps)) {
    judge(props, cfg, (m) => report(m), gaps);
  }
  gaps.settle();
}

/** Ports whose targetPort is a name the conventional mail names do not cover. */
function otherNamedTargets(props: Plain): { name: string; protocol: string }[] {
  return list(at(props, "spec", "ports")).flatMap((p) => {
    const target = at(p, "targetPort");
    if (typeof target !== "string" || MAIL_PORT_NAMES.test(target)) return [];
    return [{ name: target, protocol: str(at(p, "protocol")) ?? "TCP" }];
  });
}

/** Workloads of `ns` whose pods carry every label of `selector` (Service selector semantics). */
function selected(
  workloads: readonly StackResource[],
  ns: string,
  selector: PlainObject,
  gaps: PreviewGaps,
): StackResource[] {
  return workloads.filter((w) => {
    if (namespaceOf(w.props) !== ns) return false;
    const labels = podLabelsOf(w.type, w.props);
    if (gaps.check(labels, w.urn)) return false;
    return Object.entries(selector).every(([k, v]) => at(labels, k) === v);
  });
}

/**
 * What a named targetPort resolves to, as the endpoints controller resolves it in the pods the
 * Service selects: a mail port makes the Service a mail Service; a name no selected pod has gives
 * no endpoint. A Service without a selector, or one selecting nothing of the stack, cannot be
 * judged here.
 */
function judgeNamedTargets(
  svc: StackResource,
  workloads: readonly StackResource[],
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const targets = otherNamedTargets(svc.props);
  if (targets.length === 0) return;
  const id = `Service ${cfg.namespace}/${str(nameOf(svc.props, svc.name)) ?? svc.name}`;
  const selector = at(svc.props, "spec", "selector");
  if (gaps.check(selector, svc.urn)) return;
  const names = targets.map((t) => `"${t.name}"`).join(", ");
  const refuse = (why: string) =>
    report(
      `cannot verify: ${id} is exposed outside the cluster and routes named targetPort ${names}, but ${why}, so the pack cannot tell whether it is a mail port; use a numeric targetPort, or select the mail pods.`,
      svc.urn,
    );
  if (!isObject(selector) || Object.keys(selector).length === 0) {
    refuse("it has no selector (its endpoints are set by hand)");
    return;
  }
  const pods = selected(workloads, cfg.namespace, selector, gaps);
  if (pods.length === 0) {
    if (!gaps.pending) refuse("its selector matches no workload of the stack");
    return;
  }
  const resolved = pods.flatMap((w) =>
    targets.flatMap((t) => namedPorts(podSpecOf(w.type, w.props), t.name, t.protocol)),
  );
  const unknown = resolved.find((p) => p instanceof Unknown);
  if (unknown instanceof Unknown) {
    gaps.note(unknown, svc.urn);
    return;
  }
  if (resolved.some((p) => typeof p === "number" && MAIL_PORTS.has(p))) {
    judge(svc.props, cfg, (m) => report(`${id}: ${m}`, svc.urn), gaps);
  }
}

/** Exposed Services whose mail port hides behind a named targetPort (resolved in the pods). */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const resources = plainResources(args.resources, (t) => kindOf(t) === "Service" || isWorkload(t));
  const workloads = resources.filter((r) => isWorkload(r.type));
  for (const svc of resources.filter((r) => kindOf(r.type) === "Service")) {
    if (exposedInMailNs(svc.props, cfg, gaps) && !exposesMail(svc.props, gaps)) {
      judgeNamedTargets(svc, workloads, cfg, report, gaps);
    }
  }
  gaps.settle();
}

export const mailServiceEtpLocal: ResourceValidationPolicy & StackValidationPolicy = {
  name: "mail-service-etp-local",
  description:
    "The SMTP Service is a LoadBalancer with externalTrafficPolicy Local, pinned to the dedicated MetalLB IP.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
