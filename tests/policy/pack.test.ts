import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { PackConfig } from "../../tools/analyzer/client";
import { goodStack } from "./fixtures";
import { analyzeAll, mandatory, PACK_DIR, summary, usePack } from "./harness";

const EXPECTED_LEVELS: Record<string, string> = {
  "fail2ban-disabled": "mandatory",
  "mail-service-etp-local": "mandatory",
  "spf-includes-brevo": "mandatory",
  "spf-valid": "mandatory",
  "spf-unresolved": "advisory",
  "dmarc-enforcing": "mandatory",
  "dmarc-report-destination": "advisory",
  "mta-sts-valid": "mandatory",
  "tls-rpt-valid": "mandatory",
  "dkim-key-strength": "mandatory",
  "dkim-legacy-key": "advisory",
  "mail-dns-only": "mandatory",
  "image-pinned": "mandatory",
  "mail-no-net-caps": "mandatory",
  "mail-data-protected": "mandatory",
  "no-literal-secrets": "mandatory",
  "dms-env-known": "mandatory",
  "dms-start-known": "mandatory",
  "crowdsec-covers-mail": "mandatory",
  "crowdsec-agent-mounts-acquisition": "mandatory",
  "crowdsec-agent-on-mail-node": "mandatory",
  "crowdsec-single-acquisition": "mandatory",
  "crowdsec-acquisition-polls": "mandatory",
  "probe-within-mailgun-quota": "mandatory",
  "tls-secret-owned": "mandatory",
  "mta-sts-served": "mandatory",
  "mta-sts-worker-known": "mandatory",
  "dkim-signing-published": "mandatory",
  "prometheus-reads-monitoring": "mandatory",
  "mail-address-free": "mandatory",
  "mail-nodeports-free": "mandatory",
  "mounted-secrets-present": "mandatory",
  "plain-text-public": "mandatory",
  "crowdsec-acquisition-loads": "mandatory",
  "closed-world": "mandatory",
  "closed-world-waivers": "advisory",
};

const prodConfig = JSON.parse(
  readFileSync(path.join(PACK_DIR, "config.prod.json"), "utf8"),
) as PackConfig;

describe("policy pack mailserver-invariants", () => {
  const pack = usePack(prodConfig);

  it("serves every policy with its enforcement level", async () => {
    const info = await pack().getAnalyzerInfo();
    assert.equal(info.name, "mailserver-invariants");
    assert.match(info.version, /^\d+\.\d+\.\d+$/);
    const levels = Object.fromEntries(info.policies.map((p) => [p.name, p.enforcementLevel]));
    assert.deepEqual(levels, EXPECTED_LEVELS);
  });

  it("declares spec defaults in each config schema, and config.prod.json agrees", async () => {
    const info = await pack().getAnalyzerInfo();
    const schema = (name: string) => info.policies.find((p) => p.name === name)?.configSchema;
    assert.equal(
      schema("mail-service-etp-local")?.properties.loadBalancerIP?.default,
      "10.0.20.202",
    );
    assert.equal(schema("spf-includes-brevo")?.properties.relayInclude?.default, "spf.brevo.com");
    for (const [policy, props] of Object.entries(prodConfig)) {
      for (const [key, value] of Object.entries(props as Record<string, unknown>)) {
        assert.deepEqual(value, schema(policy)?.properties[key]?.default, `${policy}.${key}`);
      }
    }
  });

  it("sets alike, in config.prod.json, the config two policies share", () => {
    const shared: [string, string, string[]][] = [
      ["closed-world", "closed-world-waivers", ["waivers"]],
      [
        "dkim-key-strength",
        "dkim-legacy-key",
        ["domain", "minBits", "legacySelectors", "delegatedSelectors"],
      ],
    ];
    const props = (name: string) => (prodConfig[name] ?? {}) as Record<string, unknown>;
    for (const [a, b, keys] of shared) {
      for (const key of keys) assert.deepEqual(props(a)[key], props(b)[key], `${a}/${b}.${key}`);
    }
  });

  it("passes the realistic good stack with no mandatory violation", async () => {
    const ds = await analyzeAll(pack(), goodStack());
    assert.deepEqual(mandatory(ds), [], summary(ds));
    // The only advisories are the deliberate, loud exceptions: Mailgun's 1024-bit s1 key and
    // Brevo's two CNAME selectors, whose keys the pack cannot read.
    assert.deepEqual(
      ds.map((d) => [d.policyName, d.enforcementLevel]),
      [
        ["dkim-legacy-key", "advisory"],
        ["dkim-legacy-key", "advisory"],
        ["dkim-legacy-key", "advisory"],
      ],
      summary(ds),
    );
    const messages = ds.map((d) => d.message).sort();
    assert.match(
      messages[0] ?? "",
      /\nDKIM brevo1\._domainkey\.viktorbarzin\.me is a CNAME to b1\./,
    );
    assert.match(
      messages[1] ?? "",
      /\nDKIM brevo2\._domainkey\.viktorbarzin\.me is a CNAME to b2\./,
    );
    assert.match(messages[2] ?? "", /s1\._domainkey\.viktorbarzin\.me is a 1024-bit RSA key/);
  });

  it("rejects config for policies it does not have", async () => {
    await assert.rejects(pack().configure({ "no-such-policy": "mandatory" }), /unknown policies/);
  });
});
