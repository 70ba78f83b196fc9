/**
 * A second family of mail-service-etp-local, drawn from what kube-proxy and MetalLB do with the
 * rest of the mail Service: kube-proxy enforces `loadBalancerSourceRanges` on LoadBalancer
 * traffic (kubernetes/kubernetes#88698) and accepts `externalIPs` on every node (core/v1
 * ServiceSpec); MetalLB refuses an address of another family than the Service's, two addresses
 * of one family, and anything that is not an address (metallb controller/service.go allocateIPs,
 * internal/allocator/allocator.go Assign). Legitimate: the families spelled out as they are.
 */
import fc from "fast-check";
import { mailService } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "mail-service-etp-local";
const IP = "10.0.20.202";
const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");
const cidr = fc.constantFrom("0.0.0.0/1", "10.0.0.0/8", "192.0.2.0/24", "203.0.113.7/32");
const outsideIp = fc.constantFrom("192.0.2.10", "10.0.20.210", "198.51.100.4");

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
  ),
  legit: fc.oneof(
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
