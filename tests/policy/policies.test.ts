/** Edge cases per policy that the corpus does not cover: what must pass, and preview unknowns. */
import * as assert from "node:assert/strict";
import { UNKNOWN, type AnalyzerResource, type Diagnostic } from "../../tools/analyzer/client";
import {
  acquisitionDoc,
  configMap,
  crowdsecAcquisition,
  crowdsecAgent,
  dkimContent,
  dmsContainer,
  extraLoadBalancer,
  goodStack,
  mailDeployment,
  mailEnv,
  mailService,
  probeCronJob,
  pvc,
  record,
  T,
  txt,
  withResource,
} from "./fixtures";
import { analyzeAll, mandatory, summary, usePack } from "./harness";
import { OWNER_VALUES } from "../../tools/world/crowdsec-agent";

const D = "viktorbarzin.me";

function only(ds: Diagnostic[], policy: string): Diagnostic[] {
  return ds.filter((d) => d.policyName === policy);
}

describe("policies: edge cases and preview", () => {
  const pack = usePack();
  const one = async (r: AnalyzerResource, policy: string) =>
    only((await pack().analyze(r)).diagnostics, policy);
  const stack = async (rs: AnalyzerResource[], policy: string) =>
    only(await analyzeAll(pack(), rs), policy);

  describe("passing variants", () => {
    const cases: [string, string, AnalyzerResource[]][] = [
      [
        "mail-service-etp-local",
        "legacy metallb.universe.tf annotation",
        withResource(mailService({}, { "metallb.universe.tf/loadBalancerIPs": "10.0.20.202" })),
      ],
      [
        "spf-includes-brevo",
        "quoted, split SPF at '@' via cloudflare.Record",
        withResource(
          record(
            "spf",
            { name: "@", type: "TXT", content: '"v=spf1 include:spf.brevo.com" " ~all"' },
            T.legacyRecord,
          ),
          goodStack().filter((r) => r.name !== "spf"),
        ),
      ],
      [
        "crowdsec-covers-mail",
        "syslog-typed mail.log acquisition",
        withResource(
          crowdsecAcquisition([acquisitionDoc("", "syslog", ["/var/log/mail/mail.log"])]),
        ),
      ],
      [
        "probe-within-mailgun-quota",
        "probe every 20 minutes (72/day)",
        withResource(probeCronJob("*/20 * * * *")),
      ],
      [
        "image-pinned",
        "digest-pinned image",
        withResource(
          mailDeployment([
            dmsContainer({
              image: `docker.io/mailserver/docker-mailserver:15.0.0@sha256:${"a".repeat(64)}`,
            }),
          ]),
        ),
      ],
      [
        "no-literal-secrets",
        "paths and switches named like secrets",
        withResource(
          configMap(
            "mailserver-env",
            "mailserver",
            mailEnv({ SSL_KEY_PATH: "/etc/ssl/private/tls.key", SRS_SECRET: "" }),
          ),
        ),
      ],
      [
        "mail-data-protected",
        "unprotected PVC outside the mail namespace",
        [...goodStack(), pvc("grafana-data", false, "monitoring")],
      ],
    ];
    for (const [policy, title, resources] of cases) {
      it(`${policy}: ${title}`, async () => {
        const ds = await stack(resources, policy);
        assert.deepEqual(ds, [], summary(ds));
      });
    }
  });

  describe("violations the corpus does not show", () => {
    it("dmarc-report-destination flags an external rua as advisory only", async () => {
      const ds = await one(
        txt(
          "dmarc",
          `_dmarc.${D}`,
          "v=DMARC1; p=quarantine; rua=mailto:e21c0ff8@dmarc.mailgun.org",
        ),
        "dmarc-report-destination",
      );
      assert.equal(ds.length, 1);
      assert.equal(ds[0]?.enforcementLevel, "advisory");
      assert.match(ds[0]?.message ?? "", /viktorbarzin\.me\._report\._dmarc\.dmarc\.mailgun\.org/);
    });

    it("dkim-legacy-key reports the allowed s1 key loudly, dkim-key-strength lets it pass", async () => {
      const r = txt("dkim-s1", `s1._domainkey.${D}`, dkimContent(1024));
      assert.deepEqual(await one(r, "dkim-key-strength"), []);
      const legacy = await one(r, "dkim-legacy-key");
      assert.equal(legacy[0]?.enforcementLevel, "advisory");
      assert.match(legacy[0]?.message ?? "", /allowed only because legacySelectors lists "s1"/);
    });

    it("dkim-key-strength rejects a key that is not base64 SPKI", async () => {
      const ds = await one(
        txt("dkim-x", `x._domainkey.${D}`, "v=DKIM1; k=rsa; p=bm90IGEga2V5"),
        "dkim-key-strength",
      );
      assert.match(ds[0]?.message ?? "", /p= is not an RSA public key/);
      assert.equal(ds[0]?.enforcementLevel, "mandatory");
    });

    it("mail-dns-only follows MX targets missing from mailHosts", async () => {
      const rs = [
        ...goodStack(),
        record("mx2", { name: D, type: "MX", content: "mx2.viktorbarzin.me.", priority: 10 }),
        record("mx2-a", { name: "mx2", type: "A", content: "176.12.22.77", proxied: true }),
      ];
      const ds = await stack(rs, "mail-dns-only");
      assert.match(summary(ds), /A mx2\.viktorbarzin\.me \(mx2-a\) is proxied/);
    });

    it("no-literal-secrets flags a password literal in container env without echoing it", async () => {
      const password = "correct-horse-battery-staple";
      const dep = mailDeployment([
        dmsContainer({ env: [{ name: "RELAY_PASSWORD", value: password }] }),
      ]);
      const ds = await one(dep, "no-literal-secrets");
      assert.match(ds[0]?.message ?? "", /env RELAY_PASSWORD: its name says it is a secret/);
      assert.ok(!ds[0]?.message.includes(password));
    });

    it("dms-env-known checks a DMS env ConfigMap that only the stack view links to", async () => {
      const rs = withResource(
        mailDeployment([
          dmsContainer({
            envFrom: [
              { configMapRef: { name: "mailserver-env" } },
              { configMapRef: { name: "dms-extra" } },
            ],
          }),
        ]),
        [...goodStack(), configMap("dms-extra", "mailserver", { DMS_DEBUG: "1" })],
      );
      assert.match(
        summary(await stack(rs, "dms-env-known")),
        /DMS_DEBUG in ConfigMap mailserver\/dms-extra is not read/,
      );
    });

    it("fail2ban-disabled (stack) cannot verify an envFrom ConfigMap missing from the stack", async () => {
      const rs = goodStack().filter((r) => r.name !== "mailserver-env");
      const ds = await stack(rs, "fail2ban-disabled");
      assert.match(
        summary(ds),
        /takes ENABLE_FAIL2BAN from envFrom ConfigMap mailserver-env, which this stack does not hold \(cannot verify/,
      );
    });

    it("the zone's mail records are required even when the stack publishes no DNS record", async () => {
      const rs = goodStack().filter((r) => !r.type.startsWith("cloudflare:"));
      const expected: [string, RegExp][] = [
        [
          "spf-includes-brevo",
          /^no v=spf1 TXT at viktorbarzin\.me record \(the stack publishes no DNS record at all\)/m,
        ],
        ["dmarc-enforcing", /^no DMARC record \(the stack publishes no DNS record at all\)/m],
        [
          "mta-sts-valid",
          /^no _mta-sts STSv1 record \(the stack publishes no DNS record at all\)/m,
        ],
        [
          "tls-rpt-valid",
          /^no _smtp._tls TLSRPTv1 record \(the stack publishes no DNS record at all\)/m,
        ],
      ];
      for (const [policy, message] of expected) {
        const ds = await stack(rs, policy);
        assert.equal(ds.length, 1, `${policy}: ${summary(ds)}`);
        assert.equal(ds[0].enforcementLevel, "mandatory", `${policy}: ${summary(ds)}`);
        assert.match(ds[0].message, message, `${policy}: ${ds[0].message}`);
      }
    });

    it("crowdsec-agent-mounts-acquisition names every agent that misses an acquisition in one finding", async () => {
      // The owner's values mount no mail acquisition; seven readers of such agents.
      const agents = Array.from({ length: 7 }, (_, i) => {
        const r = crowdsecAgent(OWNER_VALUES);
        (r.properties.agent as { daemonSet: { name: string } }).daemonSet.name = `agent-${i}`;
        return { ...r, name: `crowdsec-${i}` };
      });
      const rs = [...goodStack().filter((r) => r.type !== T.crowdsecComponent), ...agents];
      const ds = await stack(rs, "crowdsec-agent-mounts-acquisition");
      assert.equal(ds.length, 1, summary(ds));
      assert.match(
        ds[0].message,
        /that the agents DaemonSet crowdsec\/agent-0 \(container crowdsec-agent\), DaemonSet crowdsec\/agent-1 \(container crowdsec-agent\), .*crowdsec\/agent-4 \(container crowdsec-agent\) and 2 more do not mount as a file in \/etc\/crowdsec\/acquis\.d/,
      );
    });

    describe("mail-service-etp-local resolves a named targetPort in the pods it selects", () => {
      const extra = extraLoadBalancer;
      const withPodPort = (name: string, containerPort: number) =>
        withResource(
          mailDeployment([
            dmsContainer({
              ports: [
                ...[25, 465, 587, 993].map((p) => ({ containerPort: p })),
                { containerPort, name },
              ],
            }),
          ]),
        );
      const policy = "mail-service-etp-local";

      it("a name that is container port 25 makes it a mail Service: ETP Cluster is refused", async () => {
        const ds = await stack(
          [...withPodPort("mx-in", 25), extra("mx-in", { app: "mailserver" })],
          policy,
        );
        assert.ok(ds.length > 0, "no finding");
        assert.ok(
          ds.every((d) => d.enforcementLevel === "mandatory"),
          summary(ds),
        );
        assert.match(
          summary(ds),
          /Service mailserver\/mail-extra: the SMTP Service has externalTrafficPolicy Cluster \(default\)/,
        );
      });

      it("a name that is the metrics port is not mail: the Service passes", async () => {
        const ds = await stack(
          [...goodStack(), extra("dovecot-metrics", { app: "mailserver" })],
          policy,
        );
        assert.deepEqual(ds, [], summary(ds));
      });

      it("without a selector, or selecting nothing, it cannot be judged", async () => {
        for (const [selector, why] of [
          [null, /it has no selector/],
          [{ app: "nothing" }, /its selector matches no workload of the stack/],
        ] as const) {
          const ds = await stack([...goodStack(), extra("mx-in", selector)], policy);
          assert.equal(ds.length, 1, summary(ds));
          assert.equal(ds[0].enforcementLevel, "mandatory");
          assert.match(ds[0].message, /cannot verify: Service mailserver\/mail-extra is exposed/);
          assert.match(ds[0].message, why);
        }
      });
    });

    it("probe-within-mailgun-quota counts a renamed copy that takes the Mailgun key through envFrom", async () => {
      const policy = "probe-within-mailgun-quota";
      const secret = (name: string, data: Record<string, string>) => ({
        type: T.secret,
        name,
        properties: {
          metadata: { name, namespace: "mailserver" },
          type: "Opaque",
          stringData: data,
        },
      });
      /** A copy of the probe every 20 minutes whose env comes from Secret `from` only. */
      const copy = (from: string) => {
        const r = probeCronJob("*/20 * * * *");
        const job = r.properties as {
          metadata: { name: string };
          spec: {
            jobTemplate: {
              spec: { template: { spec: { containers: Record<string, unknown>[] } } };
            };
          };
        };
        job.metadata.name = "roundtrip-copy";
        for (const c of job.spec.jobTemplate.spec.template.spec.containers) {
          c.env = [];
          c.envFrom = [{ secretRef: { name: from } }];
        }
        return { ...r, name: "roundtrip-copy" };
      };
      const keyed = [
        ...goodStack(),
        secret("copy-env", { MAILGUN_API_KEY: "x" }),
        copy("copy-env"),
      ];
      const ds = await stack(keyed, policy);
      assert.equal(ds.length, 1, summary(ds));
      assert.match(ds[0].message, /mailserver\/roundtrip-copy "\*\/20 \* \* \* \*"/);
      // A CronJob whose envFrom Secret holds no Mailgun key is not a probe.
      const unkeyed = [...goodStack(), secret("copy-env", { OTHER: "x" }), copy("copy-env")];
      assert.deepEqual(await stack(unkeyed, policy), []);
    });

    it("spf-valid reports syntax errors and a missing all", async () => {
      const ds = await one(
        txt("spf", D, "v=spf1 include:spf.brevo.com ip4:300.1.1.1 bogus"),
        "spf-valid",
      );
      const text = summary(ds);
      assert.match(text, /ip4:300\.1\.1\.1 is not an IPv4/);
      assert.match(text, /unknown term "bogus"/);
      assert.match(text, /no all term/);
    });
  });

  describe("preview: unknown values", () => {
    const previewCases: [string, AnalyzerResource, RegExp][] = [
      [
        "fail2ban-disabled",
        configMap("mailserver-env", "mailserver", mailEnv({ ENABLE_FAIL2BAN: UNKNOWN.string })),
        /\.data\.ENABLE_FAIL2BAN/,
      ],
      [
        "mail-service-etp-local",
        mailService({ externalTrafficPolicy: UNKNOWN.string }),
        /\.spec\.externalTrafficPolicy/,
      ],
      ["spf-includes-brevo", txt("spf", D, UNKNOWN.string), /\.content/],
      ["spf-valid", txt("spf", D, UNKNOWN.string), /\.content/],
      ["dmarc-enforcing", txt("dmarc", `_dmarc.${D}`, UNKNOWN.string), /\.content/],
      ["dmarc-report-destination", txt("dmarc", `_dmarc.${D}`, UNKNOWN.string), /\.content/],
      ["mta-sts-valid", txt("mta-sts", `_mta-sts.${D}`, UNKNOWN.string), /\.content/],
      ["tls-rpt-valid", txt("tls-rpt", `_smtp._tls.${D}`, UNKNOWN.string), /\.content/],
      ["dkim-key-strength", txt("dkim-mail", `mail._domainkey.${D}`, UNKNOWN.string), /\.content/],
      ["dkim-legacy-key", txt("dkim-s1", UNKNOWN.string, "v=DKIM1; p=AAAA"), /\.name/],
      [
        "mail-dns-only",
        record("mail-a", {
          name: `mail.${D}`,
          type: "A",
          content: "176.12.22.76",
          proxied: UNKNOWN.boolean as unknown as boolean,
        }),
        /\.proxied/,
      ],
      ["image-pinned", mailDeployment([dmsContainer({ image: UNKNOWN.string })]), /\.image/],
      [
        "mail-no-net-caps",
        mailDeployment([
          dmsContainer({
            securityContext: { capabilities: { add: UNKNOWN.array, drop: ["NET_RAW"] } },
          }),
        ]),
        /capabilities\.add/,
      ],
      [
        "mail-data-protected",
        {
          ...pvc("x", false),
          properties: { metadata: { name: UNKNOWN.string, namespace: "mailserver" } },
        },
        /\.metadata\.name/,
      ],
      [
        "no-literal-secrets",
        configMap("cm", "mailserver", { API_TOKEN: UNKNOWN.string }),
        /\.data\.API_TOKEN/,
      ],
      [
        "dms-env-known",
        configMap(
          "mailserver-env",
          "mailserver",
          UNKNOWN.object as unknown as Record<string, unknown>,
        ),
        /\.data/,
      ],
    ];
    for (const [policy, resource, path] of previewCases) {
      it(`${policy}: advisory "can't run during preview", naming the unknown field`, async () => {
        const ds = await one(resource, policy);
        assert.equal(ds.length, 1, summary(ds));
        assert.equal(ds[0]?.enforcementLevel, "advisory");
        assert.match(
          ds[0]?.message ?? "",
          /can't run policy '.*' from policy pack .* during preview/,
        );
        assert.match(ds[0]?.message ?? "", path);
      });
    }

    it("still reports proven violations next to the preview advisory", async () => {
      const svc = mailService({ type: "ClusterIP", externalTrafficPolicy: UNKNOWN.string });
      const ds = await one(svc, "mail-service-etp-local");
      assert.deepEqual(ds.map((d) => d.enforcementLevel).sort(), ["advisory", "mandatory"]);
    });

    it("stack policies turn unknowns into advisories instead of passing", async () => {
      const probe = probeCronJob(UNKNOWN.string);
      const acq = configMap("crowdsec-mail-acquisition", "crowdsec", {
        "acquis-mail.yaml": UNKNOWN.string,
      });
      const spf2 = txt("spf-extra", D, UNKNOWN.string);
      const rs = withResource(probe, withResource(acq, [...goodStack(), spf2]));
      const ds = (await pack().analyzeStack(rs)).diagnostics;
      for (const policy of [
        "probe-within-mailgun-quota",
        "crowdsec-covers-mail",
        "spf-includes-brevo",
      ]) {
        const mine = only(ds, policy);
        assert.equal(mine.length, 1, `${policy}: ${summary(ds)}`);
        assert.equal(mine[0]?.enforcementLevel, "advisory");
        assert.match(mine[0]?.message ?? "", /during preview/);
      }
    });
  });
});

describe("mail-service-etp-local: proxyPorts cannot exempt a stock listener", () => {
  // The owner's proxyPorts with 25 added by mistake: docker-mailserver 15.0.0's own listener on
  // 25 (target/postfix/master.cf:13, postscreen without upstream_proxy_protocol) takes no PROXY
  // header, so a NodePort with ETP Cluster there loses every client's address.
  const pack = usePack({
    "mail-service-etp-local": { proxyPorts: [25, 2525, 4465, 5587, 10993] },
  });
  const nodePort = (targetPort: number): AnalyzerResource => ({
    type: T.service,
    name: "mail-haproxy",
    properties: {
      metadata: { name: "mail-haproxy", namespace: "mailserver" },
      spec: {
        type: "NodePort",
        externalTrafficPolicy: "Cluster",
        selector: { app: "mailserver" },
        ports: [{ name: "in", port: targetPort, targetPort, nodePort: 30125 }],
      },
    },
  });
  const verdict = async (r: AnalyzerResource) =>
    only(mandatory(await analyzeAll(pack(), withResource(r))), "mail-service-etp-local");

  it("judges a NodePort to 25 as an exposed mail Service although proxyPorts lists 25", async () => {
    const ds = await verdict(nodePort(25));
    assert.match(summary(ds), /externalTrafficPolicy/);
  });

  it("still accepts the NodePort to the PROXY listener 2525 as the HAProxy path", async () => {
    assert.deepEqual(await verdict(nodePort(2525)), []);
  });
});
