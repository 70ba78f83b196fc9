/** Unit checks of the parsers behind the policies (no pack process needed). */
import * as assert from "node:assert/strict";
import { busiestDayRuns } from "../../policy/lib/cron";
import { feedsParser, parseAcquisition } from "../../policy/lib/crowdsec";
import { goGlob, goGlobMatches } from "../../policy/lib/go-glob";
import { parseDkim } from "../../policy/lib/dkim";
import { fqdn, joinTxt } from "../../policy/lib/dns";
import { imageRepository } from "../../policy/lib/k8s";
import { secretReason } from "../../policy/lib/secrets";
import { lookupCount, parseSpf } from "../../policy/lib/spf";
import { unpinnedReason } from "../../policy/policies/image-pinned";
import { rsaPublicKey } from "./fixtures";

describe("policy lib", () => {
  it("normalises Cloudflare record names", () => {
    for (const name of ["@", "", "viktorbarzin.me", "viktorbarzin.me.", "VIKTORBARZIN.ME"]) {
      assert.equal(fqdn(name, "viktorbarzin.me"), "viktorbarzin.me");
    }
    assert.equal(fqdn("_dmarc", "viktorbarzin.me"), "_dmarc.viktorbarzin.me");
    assert.equal(fqdn("_dmarc.viktorbarzin.me", "viktorbarzin.me"), "_dmarc.viktorbarzin.me");
  });

  it("joins quoted TXT strings and leaves bare text alone", () => {
    assert.equal(joinTxt('"v=DKIM1; p=AB" "CD"'), "v=DKIM1; p=ABCD");
    assert.equal(joinTxt('"say \\"hi\\""'), 'say "hi"');
    assert.equal(joinTxt("v=spf1 ~all"), "v=spf1 ~all");
  });

  it("counts SPF lookups: direct terms, redirect without all, known include costs", () => {
    assert.equal(
      lookupCount(parseSpf("v=spf1 include:a.example a mx ptr exists:x.example ~all"), {}),
      5,
    );
    assert.equal(lookupCount(parseSpf("v=spf1 ip4:192.0.2.0/24 redirect=_spf.example"), {}), 1);
    assert.equal(lookupCount(parseSpf("v=spf1 include:mailgun.org ~all"), { "mailgun.org": 3 }), 4);
    assert.deepEqual(parseSpf("v=spf1 ip6:2001:db8::/32 -all").errors, []);
  });

  it("measures DKIM RSA keys from SPKI", () => {
    assert.deepEqual(parseDkim(`v=DKIM1; k=rsa; p=${rsaPublicKey(2048)}`), {
      ok: true,
      keyType: "rsa",
      bits: 2048,
    });
    assert.deepEqual(parseDkim("v=DKIM1; p="), { ok: true, keyType: "revoked" });
    assert.equal(parseDkim("k=rsa; v=DKIM1; p=AAAA").ok, false);
  });

  it("counts cron runs on the busiest day", () => {
    assert.deepEqual(busiestDayRuns("*/20 * * * *"), { ok: true, runs: 72 });
    assert.deepEqual(busiestDayRuns("*/10 * * * *"), { ok: true, runs: 144 });
    assert.deepEqual(busiestDayRuns("@hourly"), { ok: true, runs: 24 });
    assert.deepEqual(busiestDayRuns("0 * * * 1"), { ok: true, runs: 24 });
    assert.equal(busiestDayRuns("0 */20 * * * *").ok, false);
  });

  it("matches acquisition globs and parser program filters", () => {
    const log = "/var/log/containers/mailserver-5d8f-x7k2p_mailserver_docker-mailserver-0a1b.log";
    assert.ok(
      goGlobMatches("/var/log/containers/mailserver-*_mailserver_docker-mailserver-*.log", log),
    );
    assert.ok(!goGlobMatches("/var/log/containers/*_crowdsec_*.log", log));
    const [ds] = parseAcquisition(
      "source: file\nfilenames: [a]\nlabels: {type: containerd, program: postfix}",
    ).sources;
    assert.ok(ds && !feedsParser(ds, "postfix-logs") && !feedsParser(ds, "dovecot-logs"));
  });

  it("tells pinned images and secrets apart", () => {
    assert.equal(
      imageRepository("docker.io/mailserver/docker-mailserver:15.0.0"),
      "mailserver/docker-mailserver",
    );
    assert.equal(imageRepository("localhost:5000/dms"), "dms");
    assert.equal(unpinnedReason("registry:5000/app"), "has no tag (means :latest)");
    assert.equal(unpinnedReason("registry:5000/app:1.2.3"), undefined);
    assert.match(unpinnedReason("registry:5000/app:1.2") ?? "", /moves to every new patch release/);
    assert.equal(secretReason("SSL_KEY_PATH", "/etc/ssl/key.pem"), undefined);
    assert.equal(secretReason("ENABLE_TOKEN_AUTH", "1"), undefined);
    assert.match(secretReason("NOTE", `key-${"0f".repeat(16)}`) ?? "", /Mailgun/);
  });
});

describe("lib/go-glob: Go's filepath.Match", () => {
  // Expected values from the pattern grammar of golang/go src/path/filepath/match.go.
  const cases: [string, string, boolean][] = [
    ["*", "..data", true],
    ["*", "..2026_12_06_21_22_00.1234567890", true],
    ["*.yml", "..data", false],
    ["**", "abc", true],
    ["**/*.yml", "rules.yml", false],
    ["*/*.yml", "x/rules.yml", true],
    ["a*b", "a/b", false],
    ["a?b", "a/b", false],
    ["[^/]", "/", false],
    ["[!a]", "!", true],
    ["[!a]", "b", false],
    ["[a-c]x", "bx", true],
    ["[^a-c]x", "bx", false],
    ["\\*", "*", true],
    ["\\*", "a", false],
    ["[\\]]", "]", true],
    ["a.b", "axb", false],
    ["{a,b}", "a", false],
    ["{a,b}", "{a,b}", true],
  ];
  for (const [pattern, name, want] of cases) {
    it(`${JSON.stringify(pattern)} ${want ? "matches" : "does not match"} ${JSON.stringify(name)}`, () => {
      assert.equal(goGlobMatches(pattern, name), want);
    });
  }
  for (const bad of ["a[", "[]a]", "[a-]", "[^]", "x\\"]) {
    it(`${JSON.stringify(bad)} is a bad pattern and matches nothing`, () => {
      assert.equal(goGlob(bad), "bad pattern");
      assert.equal(goGlobMatches(bad, bad), false);
    });
  }
});
