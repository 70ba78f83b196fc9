/**
 * One owner per DNS rule: every rule about a DNS config value is enforced by the config schema with
 * the limits and predicates of lib/dns-text.ts, the module the record builders use. Each value
 * below once passed lib/config.ts and then failed in DnsRecords or a builder, after other
 * components had registered resources. Now the whole program stops in parseConfig, with every
 * problem in one message, and what the schema accepts at the edge the records accept too.
 */
import { strict as assert } from "node:assert";
import { ConfigError } from "../../lib/config";
import { SPF_MAX_LOOKUPS } from "../../lib/dns-text";
import type { CapturedResource } from "../../tools/offline/mock-program";
import { flatConfig, problemsOf, prodRaw, set } from "../helpers/config";
import { at, find, runProgram } from "../helpers/program";

/** `n` distinct include domains, spf.brevo.com first. */
function includes(n: number): string[] {
  return ["spf.brevo.com", ...Array.from({ length: n - 1 }, (_, i) => `spf${i}.example.net`)];
}

/** [what, key, value, the problem line it must produce]; keys are distinct, so all fit one config. */
const CROSS_LAYER: [string, string, unknown, string][] = [
  [
    "a Brevo DKIM selector with a capital",
    "dns.brevoDkim.0.selector",
    "Brevo1",
    'mailserver:dns.brevoDkim.0.selector = "Brevo1": expected a DKIM selector of lower-case DNS labels',
  ],
  [
    "eleven SPF includes",
    "dns.spf.includes",
    includes(SPF_MAX_LOOKUPS + 1),
    `mailserver:dns.spf.includes = ${JSON.stringify(includes(11))}: expected at most 10 includes`,
  ],
  [
    "DMARC pct 0 (the policy applies to no mail)",
    "dns.dmarc.pct",
    0,
    "mailserver:dns.dmarc.pct = 0:",
  ],
  [
    "an MTA-STS max_age over RFC 8461's year",
    "dns.mtaSts.maxAgeSeconds",
    31557601,
    "mailserver:dns.mtaSts.maxAgeSeconds = 31557601: expected at most 31557600 seconds",
  ],
  [
    "a legacy DKIM selector that is the mail server's",
    "dns.legacyDkimSelector",
    "mail",
    'mailserver:dns.legacyDkimSelector = "mail": expected a DKIM selector not used by another key',
  ],
  [
    "a Brevo selector that is the mail server's",
    "dns.brevoDkim.1.selector",
    "mail",
    'mailserver:dns.brevoDkim.1.selector = "mail": expected a DKIM selector not used by another key',
  ],
  [
    "an MX host outside the zone",
    "mailserver.hostname",
    "mx.example.net",
    'mailserver:mailserver.hostname = "mx.example.net": expected a host inside the domain viktorbarzin.me',
  ],
  [
    "a Brevo CNAME target with a capital",
    "dns.brevoDkim.0.target",
    "B1.viktorbarzin-me.dkim.brevo.com",
    'mailserver:dns.brevoDkim.0.target = "B1.viktorbarzin-me.dkim.brevo.com": expected a lower-case DNS name',
  ],
  [
    "a TLS-RPT mailbox whose domain is not a DNS name",
    "dns.tlsRptRua",
    "postmaster@Viktorbarzin.ME",
    'mailserver:dns.tlsRptRua = "postmaster@Viktorbarzin.ME": expected a plain local@domain address',
  ],
  [
    "a legacy selector that is not a DNS label",
    "dns.legacyDkimSelector",
    "-s1",
    'mailserver:dns.legacyDkimSelector = "-s1": expected a DKIM selector of lower-case DNS labels',
  ],
];

/** The same key may appear twice in CROSS_LAYER; the combined config takes the first of each. */
function combined(): { raw: Record<string, unknown>; expected: string[] } {
  const raw = prodRaw();
  const seen = new Set<string>();
  const expected: string[] = [];
  for (const [, key, value, message] of CROSS_LAYER) {
    if (seen.has(key)) continue;
    seen.add(key);
    set(raw, key, value);
    expected.push(message);
  }
  return { raw, expected };
}

describe("DNS rules are config rules, checked before anything exists", () => {
  for (const [what, key, value, message] of CROSS_LAYER) {
    it(`parseConfig refuses ${what}`, () => {
      const raw = prodRaw();
      set(raw, key, value);
      const problems = problemsOf(raw);
      assert.ok(
        problems.some((p) => p.startsWith(message)),
        `no problem starts with ${message}:\n${problems.join("\n")}`,
      );
    });
  }

  it("reports a cross-key rule together with a bad value elsewhere", () => {
    const raw = prodRaw();
    set(raw, "dns.legacyDkimSelector", "mail");
    set(raw, "mailserver.loadBalancerIp", "10.0.20");
    const problems = problemsOf(raw);
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.ok(problems.some((p) => p.startsWith("mailserver:dns.legacyDkimSelector")));
    assert.ok(problems.some((p) => p.startsWith("mailserver:mailserver.loadBalancerIp")));
  });

  it("stops the program in parseConfig with every problem in one message, nothing registered", async () => {
    const { raw, expected } = combined();
    const record: CapturedResource[] = [];
    const error = await runProgram({ config: flatConfig(raw), record }).then(
      () => assert.fail("expected the program to fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    for (const message of expected) {
      assert.ok(
        error.problems.some((p) => p.startsWith(message)),
        `missing ${message} in:\n${error.message}`,
      );
    }
    assert.equal(error.problems.length, expected.length, error.message);
    assert.deepEqual(
      record.filter((r) => r.type !== "pulumi:pulumi:Stack"),
      [],
      "only the stack itself may exist when the config is refused",
    );
  });

  it("what the schema accepts at its limits, the records accept", async () => {
    const raw = prodRaw();
    set(raw, "dns.spf.includes", includes(SPF_MAX_LOOKUPS));
    set(raw, "dns.dmarc.pct", 1);
    set(raw, "dns.mtaSts.maxAgeSeconds", 31557600);
    set(raw, "dns.brevoDkim.0.selector", "brevo-1.k");
    set(raw, "dns.legacyDkimSelector", "s1-legacy");
    const run = await runProgram({ config: flatConfig(raw) });
    const records = run.resources.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
    // The TXT value without Cloudflare's quoting into 255-byte strings.
    const content = (name: string) =>
      at<string>(find(run, records[0].type, name), "content").replace(/^"|"$|" "/g, "");
    assert.equal(
      content("dns-spf"),
      `v=spf1 ${includes(10)
        .map((d) => `include:${d}`)
        .join(" ")} ~all`,
    );
    assert.match(content("dns-dmarc"), /pct=1;/);
    assert.ok(records.some((r) => r.inputs.name === "brevo-1.k._domainkey.viktorbarzin.me"));
    assert.ok(records.some((r) => r.inputs.name === "s1-legacy._domainkey.viktorbarzin.me"));
    assert.match(String(run.outputs.mtaStsPolicy), /max_age: 31557600\r\n$/);
  });
});
