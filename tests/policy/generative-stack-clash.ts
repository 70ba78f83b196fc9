/**
 * Families of the Service preflight policies drawn from how the cluster allocates: MetalLB gives
 * an address to one Service unless every holder carries the same allow-shared-ip key
 * (metallb.universe.tf/usage), and the API server allocates each NodePort once. Two Services of
 * the same stack asking for the same thing therefore fail as surely as one the cluster holds.
 */
import fc from "fast-check";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { mailService, T } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const NS = "mailserver";

export function service(
  name: string,
  spec: Record<string, unknown>,
  annotations: Record<string, string> = {},
): AnalyzerResource {
  return {
    type: T.service,
    name,
    properties: {
      metadata: { name, namespace: NS, annotations },
      spec: { selector: { app: name }, ...spec },
    },
  };
}

export const addressClashFamily: Family = {
  policy: "mail-address-free",
  violating: fc
    .constantFrom("10.0.20.202", "10.0.20.210")
    .map((ip) =>
      variant("mail-address-free", "violation")(
        `two Services of the stack on ${ip}`,
        replace([
          service(
            "web-a",
            { type: "LoadBalancer", ports: [{ port: 80 }] },
            { "metallb.io/loadBalancerIPs": ip },
          ),
          service(
            "web-b",
            { type: "LoadBalancer", ports: [{ port: 443 }] },
            { "metallb.io/loadBalancerIPs": ip },
          ),
        ]),
      ),
    ),
  legit: fc
    .constantFrom("web", "mail")
    .map((key) =>
      variant("mail-address-free", "clean")(
        `two Services of the stack share 10.0.20.210 with the key ${key}`,
        replace([
          service(
            "web-a",
            { type: "LoadBalancer", ports: [{ port: 80 }] },
            { "metallb.io/loadBalancerIPs": "10.0.20.210", "metallb.io/allow-shared-ip": key },
          ),
          service(
            "web-b",
            { type: "LoadBalancer", ports: [{ port: 443 }] },
            { "metallb.io/loadBalancerIPs": "10.0.20.210", "metallb.io/allow-shared-ip": key },
          ),
        ]),
      ),
    ),
};

export const nodePortClashFamily: Family = {
  policy: "mail-nodeports-free",
  violating: fc
    .constantFrom(30500, 31999)
    .map((nodePort) =>
      variant("mail-nodeports-free", "violation")(
        `two Services of the stack on NodePort ${nodePort}`,
        replace([
          service("tool-a", { type: "NodePort", ports: [{ port: 80, nodePort }] }),
          service("tool-b", { type: "NodePort", ports: [{ port: 81, nodePort }] }),
        ]),
      ),
    ),
  legit: fc
    .constantFrom(30500, 31999)
    .map((nodePort) =>
      variant("mail-nodeports-free", "clean")(
        `two Services of the stack on NodePorts ${nodePort} and ${nodePort + 1}`,
        replace([
          service("tool-a", { type: "NodePort", ports: [{ port: 80, nodePort }] }),
          service("tool-b", { type: "NodePort", ports: [{ port: 81, nodePort: nodePort + 1 }] }),
          mailService(),
        ]),
      ),
    ),
};
