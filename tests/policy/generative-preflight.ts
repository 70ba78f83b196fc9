/**
 * Generative families for the preflight policies, drawn from the consumers' rules: MetalLB takes an
 * address only from a pool and only when no other Service holds it (by either annotation, by
 * spec.loadBalancerIP or by assignment in status), unless both share an allow-shared-ip key; the
 * API server allocates a NodePort once per cluster; a TLS client accepts a certificate whose name
 * matches exactly or by a wildcard standing for one label (RFC 6125 6.4.3).
 */
import fc from "fast-check";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { clusterInventory, T, type InventoryFixture } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const MAIL_IP = "10.0.20.202";

const withInventory = (edit: (i: InventoryFixture) => void, add: AnalyzerResource[] = []) =>
  replace([clusterInventory(edit), ...add]);

const holder = (addresses: string[], sharingKey?: string) => ({
  namespace: "kms",
  name: "windows-kms",
  type: "LoadBalancer",
  addresses,
  nodePorts: [],
  ...(sharingKey ? { sharingKey } : {}),
});

const ADDRESS = "mail-address-free";
const addressFree: Family = {
  policy: ADDRESS,
  violating: fc
    .tuple(
      fc.constantFrom(
        "held by another Service",
        "held under another sharing key",
        "outside a range pool",
        "outside a CIDR pool",
        "no inventory",
      ),
      fc.constantFrom("10.0.20.100-10.0.20.201", "10.0.20.203-10.0.20.220", "10.0.21.0/24"),
    )
    .map(([how, pool]) => {
      const v = variant(ADDRESS, "violation");
      switch (how) {
        case "held by another Service":
          return v(
            how,
            withInventory((i) => (i.services[0] = holder([MAIL_IP]))),
          );
        case "held under another sharing key":
          return v(
            how,
            withInventory((i) => (i.services[0] = holder([MAIL_IP], "kms"))),
          );
        case "outside a range pool":
        case "outside a CIDR pool":
          return v(
            `${how} ${pool}`,
            withInventory((i) => (i.pools = [{ name: "p", addresses: [pool] }])),
          );
        default:
          return v(how, replace([], ["preflight"]));
      }
    }),
  legit: fc
    .constantFrom(
      "pool as range",
      "pool as CIDR",
      "pool as single address",
      "second pool",
      "holder elsewhere in the pool",
      "the mail Service itself already holds it",
    )
    .map((how) => {
      const v = variant(ADDRESS, "clean");
      switch (how) {
        case "pool as CIDR":
          return v(
            how,
            withInventory((i) => (i.pools = [{ name: "p", addresses: ["10.0.20.192/27"] }])),
          );
        case "pool as single address":
          return v(
            how,
            withInventory((i) => (i.pools = [{ name: "p", addresses: [`${MAIL_IP}-${MAIL_IP}`] }])),
          );
        case "second pool":
          return v(
            how,
            withInventory((i) => i.pools.push({ name: "mail", addresses: [`${MAIL_IP}/32`] })),
          );
        case "holder elsewhere in the pool":
          return v(
            how,
            withInventory((i) => (i.services[0] = holder(["10.0.20.210"]))),
          );
        case "the mail Service itself already holds it":
          return v(
            how,
            withInventory((i) =>
              i.services.push({
                namespace: "mailserver",
                name: "mailserver",
                type: "LoadBalancer",
                addresses: [MAIL_IP],
                nodePorts: [],
              }),
            ),
          );
        default:
          return v(how, replace([]));
      }
    }),
};

const NODEPORTS = "mail-nodeports-free";
const helper = (nodePort: number, name = "debug"): AnalyzerResource => ({
  type: T.service,
  name,
  properties: {
    metadata: { name, namespace: "mailserver" },
    spec: { type: "NodePort", ports: [{ port: 8080, targetPort: 8080, nodePort }] },
  },
});
const nodePortsFree: Family = {
  policy: NODEPORTS,
  violating: fc
    .tuple(fc.constantFrom(30125, 30126, 30127, 30128), fc.constantFrom("mailserver", "other"))
    .map(([port, ns]) =>
      variant(NODEPORTS, "violation")(
        `NodePort ${port} held by ${ns}`,
        withInventory(
          (i) =>
            (i.services = [
              { namespace: ns, name: "holder", type: "NodePort", addresses: [], nodePorts: [port] },
            ]),
          [helper(port)],
        ),
      ),
    ),
  legit: fc.constantFrom(30200, 30300, 32000).map((port) =>
    variant(NODEPORTS, "clean")(
      `free NodePort ${port}`,
      withInventory(() => {}, [helper(port)]),
    ),
  ),
};

const SECRETS = "mounted-secrets-present";
const tlsCert = (dnsNames: string[], notAfterDays?: number) => ({
  namespace: "mailserver",
  name: "tls-secret",
  present: true,
  type: "kubernetes.io/tls",
  dnsNames,
  ...(notAfterDays === undefined
    ? {}
    : { notAfter: new Date(Date.now() + notAfterDays * 86_400_000).toISOString() }),
});
/** The good stack whose mail Deployment mounts the cluster's tls-secret (as the program does). */
function mounting(edit: (i: InventoryFixture) => void): AnalyzerResource[] {
  return withInventory(edit).map((r) => {
    if (r.type !== T.deployment || r.name !== "mailserver") return r;
    const d = structuredClone(r);
    const spec = (
      d.properties as { spec: { template: { spec: { volumes: Record<string, unknown>[] } } } }
    ).spec;
    spec.template.spec.volumes = spec.template.spec.volumes.map((vol) =>
      vol.name === "tls" ? { ...vol, secret: { secretName: "tls-secret" } } : vol,
    );
    return d;
  });
}
const secretsPresent: Family = {
  policy: SECRETS,
  violating: fc
    .constantFrom(
      "absent",
      "not read",
      "wildcard one label too short",
      "wildcard for another zone",
      "apex only",
      "expires in 3 days",
      "expires in 13 days",
    )
    .map((how) => {
      const v = variant(SECRETS, "violation");
      const set = (s: Record<string, unknown>[]) => mounting((i) => (i.secrets = s));
      switch (how) {
        case "absent":
          return v(how, set([{ namespace: "mailserver", name: "tls-secret", present: false }]));
        case "not read":
          return v(how, set([]));
        case "wildcard one label too short":
          return v(how, set([tlsCert(["*.me"])]));
        case "wildcard for another zone":
          return v(how, set([tlsCert(["*.viktorbarzin.com"])]));
        case "apex only":
          return v(how, set([tlsCert(["viktorbarzin.me"])]));
        case "expires in 3 days":
          return v(how, set([tlsCert(["*.viktorbarzin.me"], 3)]));
        default:
          return v(how, set([tlsCert(["*.viktorbarzin.me"], 13)]));
      }
    }),
  legit: fc
    .constantFrom("wildcard", "exact name", "upper-case wildcard", "valid for 60 days")
    .map((how) => {
      const v = variant(SECRETS, "clean");
      const set = (s: Record<string, unknown>[]) => mounting((i) => (i.secrets = s));
      switch (how) {
        case "exact name":
          return v(how, set([tlsCert(["mail.viktorbarzin.me"])]));
        case "upper-case wildcard":
          return v(how, set([tlsCert(["*.VIKTORBARZIN.ME"])]));
        case "valid for 60 days":
          return v(how, set([tlsCert(["*.viktorbarzin.me"], 60)]));
        default:
          return v(how, set([tlsCert(["*.viktorbarzin.me"])]));
      }
    }),
};

export const PREFLIGHT_FAMILIES: Family[] = [addressFree, nodePortsFree, secretsPresent];
