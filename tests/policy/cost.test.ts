/**
 * What keeps the pack's per-resource cost small must not change a verdict: parses and compiled
 * globs are shared between calls (lib/memo.ts), resource policies skip types they do not judge,
 * and each stack policy copies only the types it reads (lib/stack.ts#plainResources).
 */
import * as assert from "node:assert/strict";
import { UNKNOWN, type AnalyzerResource, type Diagnostic } from "../../tools/analyzer/client";
import { parseAcquisition } from "../../policy/lib/crowdsec";
import { goGlobMatches } from "../../policy/lib/go-glob";
import { parseDkim } from "../../policy/lib/dkim";
import { kindOf } from "../../policy/lib/k8s";
import { memoize, once } from "../../policy/lib/memo";
import { OWNER_VALUES } from "../../tools/world/crowdsec-agent";
import {
  acquisitionDoc,
  agentValuesWithMail,
  configMap,
  crowdsecAgent,
  dmsContainer,
  mailDeployment,
  mailEnv,
  mtaStsWorker,
  rsaPublicKey,
  rulesConfigMap,
  T,
  txt,
  withResource,
} from "./fixtures";
import { replace } from "./generative";
import { service } from "./generative-stack-clash";
import { summary, usePack } from "./harness";

const D = "viktorbarzin.me";

/** The mail Deployment with its TLS volume's Secret name replaced. */
function mailWithTlsVolume(secretName: unknown): AnalyzerResource {
  const dep = mailDeployment();
  const pod = (dep.properties.spec as { template: { spec: { volumes: unknown[] } } }).template;
  pod.spec.volumes = [{ name: "tls", secret: { secretName } }];
  return dep;
}

/** The mail Deployment with one pod spec field set to `value`. */
function mailWithPodField(field: string, value: unknown): AnalyzerResource {
  const dep = mailDeployment();
  const pod = (dep.properties.spec as { template: { spec: Record<string, unknown> } }).template;
  pod.spec[field] = value;
  return dep;
}

const only = (ds: Diagnostic[], policy: string) => ds.filter((d) => d.policyName === policy);

describe("pack cost: shared parses", () => {
  it("memoize recomputes what its bound evicted and remembers undefined results; once runs once", () => {
    const calls: string[] = [];
    const upper = memoize((s: string) => {
      calls.push(s);
      return s === "none" ? undefined : s.toUpperCase();
    }, 2);
    assert.equal(upper("a"), "A");
    assert.equal(upper("none"), undefined);
    assert.equal(upper("none"), undefined);
    assert.equal(upper("b"), "B"); // evicts "a", the oldest
    assert.equal(upper("a"), "A");
    assert.deepEqual(calls, ["a", "none", "b", "a"]);
    let runs = 0;
    const first = once(() => ++runs);
    assert.deepEqual([first(), first()], [1, 1]);
  });

  it("matches one glob against different paths, and similar globs apart", () => {
    const glob = "/var/log/containers/mailserver-*_mailserver_docker-mailserver-*.log";
    const mail = "/var/log/containers/mailserver-0_mailserver_docker-mailserver-0a1b.log";
    const other = "/var/log/containers/crowdsec-0_crowdsec_agent-0a1b.log";
    for (let i = 0; i < 3; i++) {
      assert.ok(goGlobMatches(glob, mail));
      assert.ok(!goGlobMatches(glob, other));
    }
    assert.ok(goGlobMatches("/var/log/*/x.log", "/var/log/a/x.log"));
    assert.ok(!goGlobMatches("/var/log/*/x.log", "/var/log/a/b/x.log"));
    // Go's filepath.Match: `**` is two `*`, each within one path segment.
    assert.ok(!goGlobMatches("/var/log/**/x.log", "/var/log/a/b/x.log"));
    assert.ok(goGlobMatches("/var/log/**/x.log", "/var/log/a/x.log"));
  });

  it("parses two acquisition texts apart and shares one frozen result per text", () => {
    const postfix = acquisitionDoc("postfix/submission/smtpd");
    const dovecot = acquisitionDoc("dovecot", "containerd", ["/var/log/x.log"], false);
    const a = parseAcquisition(postfix);
    const b = parseAcquisition(dovecot);
    assert.equal(a.sources[0]?.program, "postfix/submission/smtpd");
    assert.equal(a.sources[0]?.polls, true);
    assert.deepEqual(b.sources[0]?.filenames, ["/var/log/x.log"]);
    assert.equal(b.sources[0]?.program, "dovecot");
    assert.equal(b.sources[0]?.polls, false);
    assert.equal(parseAcquisition(postfix), a);
    // A caller that changed the shared result would change it for every later caller.
    assert.throws(() => (a.sources as unknown[]).push({}), TypeError);
    assert.throws(() => (a.sources[0]?.filenames as string[]).push("/x"), TypeError);
    assert.match(parseAcquisition("source: [file").errors.join(), /./);
  });

  it("parses two DKIM keys apart and recognises type tokens one by one", () => {
    const strong = parseDkim(`v=DKIM1; k=rsa; p=${rsaPublicKey(2048)}`);
    const weak = parseDkim(`v=DKIM1; k=rsa; p=${rsaPublicKey(1024)}`);
    assert.deepEqual(
      [strong, weak],
      [
        { ok: true, keyType: "rsa", bits: 2048 },
        { ok: true, keyType: "rsa", bits: 1024 },
      ],
    );
    assert.equal(kindOf(T.deployment), "Deployment");
    assert.equal(kindOf(T.dnsRecord), undefined);
    assert.equal(kindOf(T.configMap), "ConfigMap");
  });
});

describe("pack cost: stack policies copy only the types they read", () => {
  const pack = usePack();
  const stack = async (rs: AnalyzerResource[]) => (await pack().analyzeStack(rs)).diagnostics;

  /** A stack with one unknown in a resource type the policy reads: never a pass, never a crash. */
  const unknownCases: [string, AnalyzerResource[]][] = [
    [
      "crowdsec-agent-mounts-acquisition",
      withResource({ ...crowdsecAgent(), properties: { agent: UNKNOWN.object } }),
    ],
    [
      "crowdsec-agent-on-mail-node",
      withResource({ ...crowdsecAgent(), properties: { agent: UNKNOWN.object } }),
    ],
    ["crowdsec-agent-on-mail-node", withResource(mailWithPodField("tolerations", UNKNOWN.object))],
    [
      "crowdsec-single-acquisition",
      withResource({ ...crowdsecAgent(), properties: { agent: UNKNOWN.object } }),
    ],
    [
      "crowdsec-covers-mail",
      withResource(mailDeployment([dmsContainer({ image: UNKNOWN.string })])),
    ],
    [
      "fail2ban-disabled",
      withResource(
        configMap("mailserver-env", "mailserver", mailEnv({ ENABLE_FAIL2BAN: UNKNOWN.string })),
      ),
    ],
    [
      "dms-env-known",
      withResource(
        mailDeployment([
          dmsContainer({
            envFrom: [
              { configMapRef: { name: "mailserver-env" } },
              { secretRef: { name: UNKNOWN.string } },
            ],
          }),
        ]),
      ),
    ],
    [
      "prometheus-reads-monitoring",
      withResource({
        ...rulesConfigMap(),
        properties: { ...rulesConfigMap().properties, data: UNKNOWN.object },
      }),
    ],
    ["tls-secret-owned", withResource(mailWithTlsVolume(UNKNOWN.string))],
    ["mta-sts-served", withResource(mtaStsWorker(UNKNOWN.string))],
    ["dmarc-enforcing", withResource(txt("dmarc", `_dmarc.${D}`, UNKNOWN.string))],
    ["mta-sts-valid", withResource(txt("mta-sts", `_mta-sts.${D}`, UNKNOWN.string))],
  ];
  for (const [policy, resources] of unknownCases) {
    it(`${policy} still turns an unknown it reads into the preview advisory`, async () => {
      const mine = only(await stack(resources), policy);
      assert.equal(mine.length, 1, summary(mine));
      assert.equal(mine[0]?.enforcementLevel, "advisory");
      assert.match(mine[0]?.message ?? "", /during preview/);
    });
  }

  it("reads the CrowdSec agent view from a resource of any type", async () => {
    const publishedBy = (values = agentValuesWithMail()) =>
      withResource({ ...crowdsecAgent(values), type: "mailserver:other:AgentReader" }).filter(
        (r) => r.type !== T.crowdsecComponent,
      );
    const policy = "crowdsec-agent-mounts-acquisition";
    assert.deepEqual(only(await stack(publishedBy()), policy), []);
    const ds = only(await stack(publishedBy(OWNER_VALUES)), policy);
    assert.match(summary(ds), /does not mount as a file in \/etc\/crowdsec\/acquis\.d/);
  });

  it("finds docker-mailserver in any kind that keeps a pod spec at spec.template.spec", async () => {
    const rollout = {
      ...mailDeployment([dmsContainer({ env: [{ name: "ENABLE_FAIL2BAN", value: "1" }] })]),
      type: "kubernetes:argoproj.io/v1alpha1:Rollout",
      name: "mailserver-rollout",
    };
    const ds = only(await stack(withResource(rollout)), "fail2ban-disabled");
    assert.match(summary(ds), /sets ENABLE_FAIL2BAN to "1" in its env/);
  });
});

describe("pack cost: findings grow with the resources, not with their pairs", () => {
  const pack = usePack();
  const stack = async (rs: AnalyzerResource[]) => (await pack().analyzeStack(rs)).diagnostics;
  // Three Services of the stack asking for one address (no shared key) and one NodePort: MetalLB
  // and the API server give it to one of them, so the other two fail, one finding each.
  const three = ["web-a", "web-b", "web-c"].map((name, i) =>
    service(
      name,
      { type: "LoadBalancer", ports: [{ port: 80 + i, nodePort: 30080 }] },
      { "metallb.io/loadBalancerIPs": "10.0.20.210" },
    ),
  );

  for (const [policy, what] of [
    ["mail-address-free", "10.0.20.210"],
    ["mail-nodeports-free", "NodePort 30080"],
  ] as const) {
    it(`${policy}: one finding per Service that clashes, naming the first and counting the rest`, async () => {
      const mine = only(await stack(replace(three)), policy).filter((d) =>
        d.message.includes("of this stack"),
      );
      assert.deepEqual(
        mine.map((d) => d.urn?.split("::").pop()),
        ["web-b", "web-c"],
        summary(mine),
      );
      assert.match(
        mine[0]?.message ?? "",
        new RegExp(`mailserver/web-a and mailserver/web-b .*${what}`),
      );
      assert.doesNotMatch(mine[0]?.message ?? "", /more Services/);
      assert.match(
        mine[1]?.message ?? "",
        /mailserver\/web-a and mailserver\/web-c .*\(and 1 more Services of this stack\); give one of them another\.$/,
      );
    });
  }
});
