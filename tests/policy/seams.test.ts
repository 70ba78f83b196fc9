/** Edge cases of the seam policies: tls-secret-owned (and mounted-secrets-present) and mta-sts-served. */
import * as assert from "node:assert/strict";
import { UNKNOWN, type Diagnostic } from "../../tools/analyzer/client";
import {
  clusterInventory,
  mtaStsId,
  mtaStsPolicy,
  mtaStsWorker,
  record,
  roundcube,
  tlsSecret,
  txt,
  webmailIngress,
  withResource,
} from "./fixtures";
import { summary, usePack } from "./harness";

const D = "viktorbarzin.me";
type K8s = Record<string, unknown>;
const only = (ds: Diagnostic[], policy: string) => ds.filter((d) => d.policyName === policy);

describe("seam policies", () => {
  const pack = usePack();
  const stackFindings = async (rs: ReturnType<typeof withResource>, policy: string) =>
    only((await pack().analyzeStack(rs)).diagnostics, policy);

  it("mta-sts-served accepts a wildcard mx that covers the MX host", async () => {
    const policy = mtaStsPolicy([`*.${D}`]);
    const rs = withResource(
      txt("mta-sts", `_mta-sts.${D}`, `v=STSv1; id=${mtaStsId(policy)}`),
      withResource(mtaStsWorker(policy)),
    );
    assert.deepEqual(await stackFindings(rs, "mta-sts-served"), []);
  });

  it("mta-sts-served reports every MX host the policy leaves out", async () => {
    const rs = withResource(
      record("mx2", { name: D, type: "MX", content: "mx2.example.net", priority: 10 }),
    );
    const ds = await stackFindings(rs, "mta-sts-served");
    assert.equal(ds.length, 1, summary(ds));
    assert.match(ds[0]?.message ?? "", /MX host mx2\.example\.net is not covered/);
  });

  it("mta-sts-served refuses a served file that is not an RFC 8461 policy", async () => {
    const text = "mode: enforce\r\nmx: mail.viktorbarzin.me\r\n";
    const rs = withResource(
      txt("mta-sts", `_mta-sts.${D}`, `v=STSv1; id=${mtaStsId(text)}`),
      withResource(mtaStsWorker(text)),
    );
    const text2 = summary(await stackFindings(rs, "mta-sts-served"));
    assert.match(text2, /first line must be "version: STSv1"/);
    assert.match(text2, /max_age null must be/);
  });

  it("tls-secret-owned refuses an Ingress serving an Opaque Secret of the stack", async () => {
    const rs = withResource(webmailIngress("roundcubemail-db"), [
      ...withResource(tlsSecret()),
      tlsSecret("roundcubemail-db", "Opaque"),
    ]);
    const ds = await stackFindings(rs, "tls-secret-owned");
    assert.equal(ds.length, 1, summary(ds));
    assert.match(ds[0]?.message ?? "", /of type "Opaque"; Traefik needs a kubernetes\.io\/tls/);
  });

  it("tls-secret-owned judges a v1beta1 Ingress and a roundcube env Secret nobody owns", async () => {
    const legacy = webmailIngress("letsencrypt-mail");
    legacy.type = "kubernetes:networking.k8s.io/v1beta1:Ingress";
    const rc = roundcube();
    const env = (rc.properties as { spec: { template: { spec: { containers: K8s[] } } } }).spec
      .template.spec.containers[0].env as K8s[];
    env[4] = {
      name: "ROUNDCUBEMAIL_DB_PASSWORD",
      valueFrom: { secretKeyRef: { name: "dbaas-roundcube", key: "password", optional: true } },
    };
    const ds = await stackFindings(withResource(rc, withResource(legacy)), "tls-secret-owned");
    assert.equal(ds.length, 2, summary(ds));
    assert.match(
      summary(ds),
      /Ingress mailserver\/roundcubemail uses Secret "letsencrypt-mail" \(spec\.tls\[0\]\)/,
    );
    assert.match(
      summary(ds),
      /Deployment mailserver\/roundcubemail uses Secret "dbaas-roundcube" \(container roundcubemail \(containers\[0\]\) env ROUNDCUBEMAIL_DB_PASSWORD\), which no resource of this stack creates and the cluster does not provide: in a fresh namespace its pods start without the Secret's data \(optional: true\)/,
    );
  });

  it("mounted-secrets-present refuses an imagePullSecret the cluster does not have", async () => {
    const rc = roundcube();
    const spec = (rc.properties as { spec: { template: { spec: K8s } } }).spec.template.spec;
    spec.imagePullSecrets = [{ name: "ghcr-pull" }];
    const inventory = clusterInventory((i) =>
      i.secrets.push({ namespace: "mailserver", name: "ghcr-pull", present: false }),
    );
    const ds = await stackFindings(
      withResource(rc, withResource(inventory)),
      "mounted-secrets-present",
    );
    assert.equal(ds.length, 1, summary(ds));
    assert.match(
      ds[0]?.message ?? "",
      /Deployment roundcubemail uses Secret mailserver\/ghcr-pull, which does not exist in the cluster \(read from fixture; used at imagePullSecrets\[0\]\): the kubelet has no pull credentials from it/,
    );
  });

  it("both turn unknowns into a preview advisory instead of passing or failing", async () => {
    const rs = withResource(
      webmailIngress(UNKNOWN.string),
      withResource(mtaStsWorker(UNKNOWN.string)),
    );
    const ds = (await pack().analyzeStack(rs)).diagnostics;
    for (const policy of ["tls-secret-owned", "mta-sts-served"]) {
      const mine = only(ds, policy);
      assert.equal(mine.length, 1, `${policy}: ${summary(ds)}`);
      assert.equal(mine[0]?.enforcementLevel, "advisory");
      assert.match(mine[0]?.message ?? "", /during preview/);
    }
  });
});
