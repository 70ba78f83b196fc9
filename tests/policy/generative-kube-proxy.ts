/**
 * A second family of mail-service-etp-local, drawn from what kube-proxy and MetalLB do with the
 * rest of the mail Service: kube-proxy enforces `loadBalancerSourceRanges` on LoadBalancer
 * traffic (kubernetes/kubernetes#88698) and accepts `externalIPs` on every node (core/v1
 * ServiceSpec); MetalLB refuses an address of another family than the Service's, two addresses
 * of one family, and anything that is not an address (metallb controller/service.go allocateIPs,
 * internal/allocator/allocator.go Assign); the endpoints controller resolves a named targetPort
 * to the port of that name in the pods the Service selects (pkg/api/v1/pod/util.go findPort), so
 * a second LoadBalancer on a name that is a mail port of the mail pod is a mail Service.
 * Legitimate: the families spelled out as they are, and a name that is not a mail port.
 */
import fc from "fast-check";
import { dmsContainer, extraLoadBalancer, mailDeployment, mailService } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "mail-service-etp-local";
const IP = "10.0.20.202";
const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");
const cidr = fc.constantFrom("0.0.0.0/1", "10.0.0.0/8", "192.0.2.0/24", "203.0.113.7/32");
const outsideIp = fc.constantFrom("192.0.2.10", "10.0.20.210", "198.51.100.4");

/** The mail pod with its mail ports also under `name`, and a second exposed Service on it. */
function namedTarget(name: string, containerPort: number) {
  const ports = [
    ...[25, 465, 587, 993].map((p) => ({ containerPort: p })),
    { containerPort: 9900, name: "dovecot-metrics" },
  ];
  return replace([
    mailDeployment([dmsContainer({ ports: [...ports, { containerPort, name }] })]),
    extraLoadBalancer(name),
  ]);
}

export const kubeProxyFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    fc
      .array(cidr, { minLength: 1, maxLength: 3 })
      .map((ranges) =>
        bad(
          `loadBalancerSourceRanges ${ranges.join(",")}`,
          replace([mailService({ loadBalancerSourceRanges: ranges })]),
        ),
      ),
    outsideIp.map((ip) => bad(`externalIPs ${ip}`, replace([mailService({ externalIPs: [ip] })]))),
    fc
      .constantFrom(
        { ipFamilies: ["IPv6"] },
        { ipFamilies: ["IPv6"], ipFamilyPolicy: "SingleStack" },
        { ipFamilyPolicy: "RequireDualStack" },
        { ipFamilies: ["IPv6", "IPv4"], ipFamilyPolicy: "RequireDualStack" },
      )
      .map((spec) => bad(`IP family ${JSON.stringify(spec)}`, replace([mailService(spec)]))),
    fc
      .constantFrom(`${IP},10.0.20.203`, `${IP}, 10.0.20.202`, `${IP},mail.viktorbarzin.me`)
      .map((value) =>
        bad(
          `MetalLB annotation ${value}`,
          replace([mailService({}, { "metallb.io/loadBalancerIPs": value })]),
        ),
      ),
    fc
      .constantFrom(["mx-in", 25], ["smtps-in", 465], ["subm", 587], ["imap-tls", 993])
      .map(([name, port]) =>
        bad(`second LoadBalancer on targetPort "${name}" (${port})`, namedTarget(`${name}`, +port)),
      ),
  ),
  legit: fc.oneof(
    fc
      .constantFrom(["web", 8080], ["admin", 8443])
      .map(([name, port]) =>
        good(
          `second LoadBalancer on targetPort "${name}" (${port})`,
          namedTarget(`${name}`, +port),
        ),
      ),
    fc
      .constantFrom(
        { ipFamilies: ["IPv4"] },
        { ipFamilies: ["IPv4"], ipFamilyPolicy: "SingleStack" },
        { ipFamilyPolicy: "SingleStack" },
        { ipFamilyPolicy: "PreferDualStack" },
        { loadBalancerSourceRanges: [] },
        { externalIPs: [] },
      )
      .map((spec) => good(`spelled out ${JSON.stringify(spec)}`, replace([mailService(spec)]))),
    fc
      .constantFrom(IP, ` ${IP} `)
      .map((value) =>
        good(
          `annotation spelling "${value}"`,
          replace([mailService({}, { "metallb.io/loadBalancerIPs": value })]),
        ),
      ),
  ),
};
