/**
 * The preflight policies on the program's planned resources, through the Analyzer protocol, with
 * the cluster the world records changed the way MetalLB, the API server and TLS clients judge it:
 * an address is taken whichever way another Service holds it, a pool is a range or a CIDR, a
 * wildcard name covers exactly one label, and a stack without an inventory cannot be verified.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { analyze } from "../../tools/analyzer/analysis";
import type { PackConfig } from "../../tools/analyzer/client";
import { itemsFromRun } from "../../tools/offline/run-items";
import type { Violation } from "../../tools/report/model";
import type { Fact, World } from "../../tools/world/load";
import { loadStackConfig, readyWorld, runProgram } from "../helpers/program";
import { PACK_DIR, usePack } from "./harness";

const PREFLIGHT = ["mail-address-free", "mail-nodeports-free", "mounted-secrets-present"];

/** The ready world with facts of kubernetes.yaml changed by `edit`. */
function worldWith(edit: (facts: Fact[]) => void): World {
  const w = structuredClone(readyWorld());
  edit(w.files.kubernetes?.facts ?? []);
  return w;
}

const factOf = (facts: Fact[], id: string) => {
  const f = facts.find((x) => x.id === id);
  if (!f) throw new Error(`no ${id} in world/today/kubernetes.yaml`);
  return f.value as Record<string, Record<string, unknown>>;
};

const SOURCE = [{ doc: "test", url: "https://metallb.universe.tf/usage/" }];
const lbService = (
  name: string,
  annotations: Record<string, string>,
  ingressIp?: string,
): Fact => ({
  id: `kubernetes:core/v1:Service other/${name}`,
  source: SOURCE,
  value: {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace: "other", name, annotations },
    spec: { type: "LoadBalancer", ports: [{ port: 53 }] },
    ...(ingressIp ? { status: { loadBalancer: { ingress: [{ ip: ingressIp }] } } } : {}),
  },
});

describe("preflight policies: the pack judges the cluster the program read", function () {
  this.timeout(180_000);
  const prodConfig = JSON.parse(
    readFileSync(path.join(PACK_DIR, "config.prod.json"), "utf8"),
  ) as PackConfig;
  const pack = usePack(prodConfig);

  async function verdicts(world: World, drop?: string): Promise<Violation[]> {
    const run = await runProgram({ config: loadStackConfig("prod"), world });
    const items = itemsFromRun(run).filter((i) => !drop || i.type !== drop);
    const vs = await analyze(pack(), items, run.stackUrn);
    return vs.filter((v) => v.level === "mandatory" && PREFLIGHT.includes(v.policy));
  }

  it("the ready world passes: .202 free in pool 10.0.20.200-10.0.20.220, tls-secret covers mail", async () => {
    assert.deepEqual(await verdicts(readyWorld()), []);
  });

  it("refuses an address held through the legacy metallb.universe.tf annotation", async () => {
    const w = worldWith((f) =>
      f.push(lbService("dns", { "metallb.universe.tf/loadBalancerIPs": "10.0.20.202" })),
    );
    const vs = await verdicts(w);
    assert.equal(vs.length, 1, JSON.stringify(vs));
    assert.match(
      vs[0]?.message ?? "",
      /10\.0\.20\.202, but LoadBalancer Service other\/dns holds it/,
    );
  });

  it("refuses an address another Service holds only in its status (assigned, not asked for)", async () => {
    const w = worldWith((f) => f.push(lbService("dyn", {}, "10.0.20.202")));
    const vs = await verdicts(w);
    assert.match(vs[0]?.message ?? "", /other\/dyn holds it/);
  });

  it("refuses an address sharing a key the mail Service does not carry", async () => {
    const w = worldWith((f) =>
      f.push(
        lbService("shared", {
          "metallb.io/loadBalancerIPs": "10.0.20.202",
          "metallb.io/allow-shared-ip": "mail",
        }),
      ),
    );
    assert.equal((await verdicts(w)).length, 1);
  });

  it("refuses an address outside every pool, and accepts the pool written as a CIDR", async () => {
    const pool = "metallb.io/v1beta1:IPAddressPool metallb-system/default";
    const narrow = worldWith((f) => {
      factOf(f, pool).spec = { addresses: ["10.0.20.200-10.0.20.201"] };
    });
    const vs = await verdicts(narrow);
    assert.match(vs[0]?.message ?? "", /10\.0\.20\.202, which is in no MetalLB address pool/);
    const cidr = worldWith((f) => {
      factOf(f, pool).spec = { addresses: ["10.0.20.192/27"] };
    });
    assert.deepEqual(await verdicts(cidr), []);
  });

  it("refuses a tls-secret that is missing from the mail namespace", async () => {
    const w = worldWith((f) => {
      const i = f.findIndex((x) => x.id === "kubernetes:core/v1:Secret mailserver/tls-secret");
      f.splice(i, 1);
    });
    const vs = await verdicts(w);
    assert.ok(vs.length >= 1);
    assert.ok(vs.every((v) => /mailserver\/tls-secret, which does not exist/.test(v.message)));
  });

  it("refuses a certificate whose wildcard is one label too short for the host", async () => {
    const w = worldWith((f) => {
      factOf(f, "kubernetes:core/v1:Secret mailserver/tls-secret").certificate = {
        dnsNames: ["viktorbarzin.me", "*.me"],
      };
    });
    const vs = await verdicts(w);
    assert.ok(
      vs.some((v) =>
        /serves mail\.viktorbarzin\.me with Secret mailserver\/tls-secret, whose certificate covers only viktorbarzin\.me, \*\.me/.test(
          v.message,
        ),
      ),
      JSON.stringify(vs),
    );
  });

  it("refuses a certificate expiring in 10 days and accepts one valid for 30", async () => {
    const expiring = (days: number) =>
      worldWith((f) => {
        const cert = factOf(f, "kubernetes:core/v1:Secret mailserver/tls-secret").certificate;
        cert.notAfter = new Date(Date.now() + days * 86_400_000).toISOString();
      });
    const vs = await verdicts(expiring(10));
    assert.ok(vs.some((v) => /expires on .* \(\d+ days\), within 14 days/.test(v.message)));
    assert.deepEqual(await verdicts(expiring(30)), []);
  });

  it("cannot verify a stack that read no inventory: refused, not passed", async () => {
    const vs = await verdicts(readyWorld(), "mailserver:preflight:ClusterPreflight");
    assert.ok(vs.length >= 2, JSON.stringify(vs));
    assert.ok(
      vs.every((v) => v.message.split("\n").pop()?.startsWith("cannot verify:")),
      JSON.stringify(vs.map((v) => v.message)),
    );
  });
});
