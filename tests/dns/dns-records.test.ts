import * as assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { DnsRecords, type DnsRecordsArgs } from "../../components/dns-records";

const ZONE_ID = "0123456789abcdef0123456789abcdef";
const RECORD_TYPE = "cloudflare:index/dnsRecord:DnsRecord";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const registered: Registered[] = [];
const zoneLookups: unknown[] = [];
const mxLookups: unknown[] = [];

/** The zone's MX records as the test's Cloudflare answers them: the primary and another stack's backup. */
let zoneMx = [
  { type: "MX", name: "viktorbarzin.me", content: "mail.viktorbarzin.me", priority: 1 },
  { type: "MX", name: "viktorbarzin.me", content: "mx2.viktorbarzin.me", priority: 20 },
];

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Public half of a fresh RSA key, base64 DER; the private half never leaves this process. */
function publicKeyDer(bits: number): string {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return publicKey.export({ type: "spki", format: "der" }).toString("base64");
}

const mailKey = publicKeyDer(2048);
const mailgunKey = publicKeyDer(1024);
const mailKeyPem = `-----BEGIN PUBLIC KEY-----\n${mailKey.replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`;
const brevoCode = "a6ef1dd90123456789abcdef01234567"; // made-up test value

function stackArgs(): DnsRecordsArgs {
  return {
    domain: "viktorbarzin.me",
    mxHosts: [
      {
        hostname: "mail.viktorbarzin.me",
        priority: 1,
        ipv4: "176.12.22.76",
        ipv6: "2001:470:6e:43d::2",
      },
    ],
    otherMxHosts: ["mx2.viktorbarzin.me"],
    spf: { includes: ["spf.brevo.com"], all: "~all" },
    // Secret inputs, as the stack passes values read from Vault.
    dkimKeys: [
      { selector: "mail", publicKey: pulumi.secret(mailKeyPem) },
      { selector: "s1", publicKey: pulumi.secret(`k=rsa; p=${mailgunKey}`) },
    ],
    dkimCnames: [
      { selector: "brevo1", target: "b1.viktorbarzin-me.dkim.brevo.com" },
      { selector: "brevo2", target: "b2.viktorbarzin-me.dkim.brevo.com" },
    ],
    brevoVerificationCode: brevoCode,
    dmarc: {
      policy: "quarantine",
      subdomainPolicy: "quarantine",
      pct: 100,
      fo: "1",
      ri: 3600,
      adkim: "r",
      aspf: "r",
      rua: ["dmarc@viktorbarzin.me", "adb84997@inbox.ondmarc.com"],
      ruf: ["dmarc@viktorbarzin.me", "adb84997@inbox.ondmarc.com", "postmaster@viktorbarzin.me"],
      externalDestinations: [{ domain: "inbox.ondmarc.com", evidence: "test" }],
    },
    mtaSts: { mode: "enforce", maxAgeSeconds: 604800 },
    tlsRptRua: "postmaster@viktorbarzin.me",
  };
}

/** Builds a component and waits until every child record is registered with the mock engine. */
async function build(name: string, args: DnsRecordsArgs): Promise<DnsRecords> {
  const component = new DnsRecords(name, args);
  await Promise.all(Object.values(component.records).map((r) => promiseOf(r.urn)));
  return component;
}

describe("DnsRecords component", function () {
  let component: DnsRecords;
  let records: Registered[];

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const inputs = args.inputs as Record<string, unknown>;
          registered.push({ type: args.type, name: args.name, inputs });
          return { id: `${args.name}-id`, state: inputs };
        },
        call: (args) => {
          if (args.token === "cloudflare:index/getDnsRecords:getDnsRecords") {
            mxLookups.push(args.inputs);
            return { ...(args.inputs as Record<string, unknown>), results: zoneMx };
          }
          if (args.token !== "cloudflare:index/getZone:getZone") {
            throw new Error(`unexpected invoke ${args.token}`);
          }
          zoneLookups.push(args.inputs);
          // `id` deliberately differs: the component must use `zoneId`.
          return { id: "not-the-zone-id", zoneId: ZONE_ID, name: "viktorbarzin.me" };
        },
      },
      "mailserver",
      "test",
      false,
    );
    component = await build("mail-dns", stackArgs());
    records = registered.filter((r) => r.name.startsWith("mail-dns-"));
  });

  function record(type: string, name: string): Registered[] {
    return records.filter((r) => r.inputs.type === type && r.inputs.name === name);
  }

  function only(type: string, name: string): Record<string, unknown> {
    const found = record(type, name);
    assert.equal(found.length, 1, `expected one ${type} at ${name}, found ${found.length}`);
    return found[0].inputs;
  }

  it("looks the zone up by name", () => {
    assert.deepEqual(zoneLookups[0], { filter: { name: "viktorbarzin.me" } });
  });

  it("creates exactly the 12 records of the spec's DNS table, all as DnsRecord", () => {
    assert.equal(records.length, 12);
    for (const r of records) {
      assert.equal(r.type, RECORD_TYPE);
    }
  });

  it("every record: zone id from the lookup, ttl auto, FQDN name, managed-by comment", () => {
    for (const { inputs } of records) {
      assert.equal(inputs.zoneId, ZONE_ID);
      assert.equal(inputs.ttl, 1);
      assert.match(String(inputs.name), /(^|\.)viktorbarzin\.me$/);
      assert.match(String(inputs.comment), /Managed by the Pulumi mailserver stack/);
    }
  });

  it("every record is a child of the component", async () => {
    const urns = await Promise.all(Object.values(component.records).map((r) => promiseOf(r.urn)));
    assert.equal(urns.length, 12);
    for (const urn of urns) {
      assert.match(urn, /::mailserver:dns:DnsRecords\$cloudflare:index\/dnsRecord:DnsRecord::/);
    }
  });

  it("MX at the apex points to the mail host with priority 1", () => {
    const mx = only("MX", "viktorbarzin.me");
    assert.equal(mx.content, "mail.viktorbarzin.me");
    assert.equal(mx.priority, 1);
  });

  it("A and AAAA of the mail host are DNS-only", () => {
    const a = only("A", "mail.viktorbarzin.me");
    const aaaa = only("AAAA", "mail.viktorbarzin.me");
    assert.equal(a.content, "176.12.22.76");
    assert.equal(aaaa.content, "2001:470:6e:43d::2");
    assert.equal(a.proxied, false);
    assert.equal(aaaa.proxied, false);
  });

  it("apex TXT: SPF with Brevo and ~all, and the Brevo verification code", () => {
    const contents = record("TXT", "viktorbarzin.me").map((r) => r.inputs.content);
    assert.deepEqual(contents.sort(), [
      '"brevo-code:a6ef1dd90123456789abcdef01234567"',
      '"v=spf1 include:spf.brevo.com ~all"',
    ]);
  });

  it("mail._domainkey: the 2048-bit key as two quoted strings", () => {
    const content = String(only("TXT", "mail._domainkey.viktorbarzin.me").content);
    const value = `v=DKIM1; k=rsa; p=${mailKey}`;
    assert.equal(content, `"${value.slice(0, 255)}" "${value.slice(255)}"`);
  });

  it("s1._domainkey: the 1024-bit Mailgun key as one string", () => {
    const content = only("TXT", "s1._domainkey.viktorbarzin.me").content;
    assert.equal(content, `"v=DKIM1; k=rsa; p=${mailgunKey}"`);
  });

  it("DNS-published values read from Vault are not kept secret", async () => {
    for (const key of ["dkim-mail", "dkim-s1", "brevo-verification"]) {
      assert.equal(await pulumi.isSecret(component.records[key].content), false, key);
    }
  });

  it("Brevo DKIM CNAMEs, DNS-only", () => {
    for (const n of [1, 2]) {
      const cname = only("CNAME", `brevo${n}._domainkey.viktorbarzin.me`);
      assert.equal(cname.content, `b${n}.viktorbarzin-me.dkim.brevo.com`);
      assert.equal(cname.proxied, false);
    }
  });

  it("DMARC: the owner's live record, OnDMARC destinations included", () => {
    assert.equal(
      only("TXT", "_dmarc.viktorbarzin.me").content,
      '"v=DMARC1; p=quarantine; pct=100; fo=1; ri=3600; sp=quarantine; adkim=r; aspf=r; ' +
        "rua=mailto:dmarc@viktorbarzin.me,mailto:adb84997@inbox.ondmarc.com; " +
        'ruf=mailto:dmarc@viktorbarzin.me,mailto:adb84997@inbox.ondmarc.com,mailto:postmaster@viktorbarzin.me;"',
    );
  });

  it("MTA-STS: the policy lists the backup MX, and the TXT carries its hash", () => {
    assert.equal(
      component.mtaStsPolicy,
      "version: STSv1\r\nmode: enforce\r\nmx: mail.viktorbarzin.me\r\nmx: mx2.viktorbarzin.me\r\nmax_age: 604800\r\n",
    );
    // sha256sum of those bytes, first 20 hex digits (computed with coreutils, written out).
    assert.equal(component.mtaStsPolicyId, "90d64a1e4cf4e46ff28b");
    assert.equal(
      only("TXT", "_mta-sts.viktorbarzin.me").content,
      '"v=STSv1; id=90d64a1e4cf4e46ff28b"',
    );
  });

  it("reads the zone's apex MX records at preview", () => {
    assert.deepEqual(mxLookups[0], {
      zoneId: ZONE_ID,
      type: "MX",
      name: { exact: "viktorbarzin.me" },
    });
  });

  it("no MX is created for another stack's host", () => {
    assert.deepEqual(
      records.filter((r) => r.inputs.type === "MX").map((r) => r.inputs.content),
      ["mail.viktorbarzin.me"],
    );
  });

  it("an MX in the zone that the policy does not list refuses the _mta-sts record", async () => {
    const saved = zoneMx;
    zoneMx = [
      ...saved,
      { type: "MX", name: "viktorbarzin.me", content: "mx3.example.net", priority: 30 },
    ];
    try {
      const dns = new DnsRecords("unlisted", stackArgs());
      const failure = await new Promise<unknown>((resolve) => {
        process.once("unhandledRejection", resolve);
        dns.records["mta-sts"].urn.apply(() => resolve(undefined));
      });
      assert.ok(failure instanceof Error, "expected the _mta-sts record to fail");
      assert.match(
        failure.message,
        /"unlisted": the zone publishes MX 30 mx3\.example\.net, .* add the host to mailserver:dns\.otherMxHosts/,
      );
    } finally {
      zoneMx = saved;
    }
  });

  it("TLS-RPT to postmaster", () => {
    assert.equal(
      only("TXT", "_smtp._tls.viktorbarzin.me").content,
      '"v=TLSRPTv1; rua=mailto:postmaster@viktorbarzin.me"',
    );
  });

  it("outputs the zone id and the record names", async () => {
    assert.equal(await promiseOf(component.zoneId), ZONE_ID);
    assert.deepEqual(component.recordNames, [
      "viktorbarzin.me",
      "mail.viktorbarzin.me",
      "mail._domainkey.viktorbarzin.me",
      "s1._domainkey.viktorbarzin.me",
      "brevo1._domainkey.viktorbarzin.me",
      "brevo2._domainkey.viktorbarzin.me",
      "_dmarc.viktorbarzin.me",
      "_smtp._tls.viktorbarzin.me",
      "_mta-sts.viktorbarzin.me",
    ]);
  });

  it("a private key given as a DKIM public key fails the run, naming the field, not the key", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const args = stackArgs();
    args.dkimKeys[0].publicKey = pulumi.secret(pem);
    // The check runs inside an apply; Pulumi's program runner turns the rejection into a failure.
    const failure = new Promise<unknown>((resolve) => process.once("unhandledRejection", resolve));
    new DnsRecords("bad-key", args);
    const errors = [await failure];
    const messages = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    assert.ok(messages.length > 0, "expected the run to fail");
    for (const message of messages) {
      assert.match(
        message,
        /"bad-key": dkimKeys\[0\]\.publicKey \(selector mail\) is a private key/,
      );
      assert.ok(!message.includes(pem.split("\n")[1]), "the error must not echo the key");
    }
  });

  describe("refuses at construction", () => {
    const cases: [string, (a: DnsRecordsArgs) => void, RegExp][] = [
      ["+all", (a) => (a.spf.all = "+all" as "-all"), /"bad": spf.all "\+all"/],
      ["?all", (a) => (a.spf.all = "?all" as "-all"), /spf.all "\?all"/],
      [
        "a rua outside the domain and not listed as authorised",
        (a) => (a.dmarc.rua = ["e21c0ff8@dmarc.mailgun.org"]),
        /dmarc\.rua\[0\] "e21c0ff8@dmarc\.mailgun\.org": outside viktorbarzin\.me: .* at viktorbarzin\.me\._report\._dmarc\.dmarc\.mailgun\.org/,
      ],
      [
        "the backup MX listed twice",
        (a) => (a.otherMxHosts = ["mail.viktorbarzin.me"]),
        /MX host "mail\.viktorbarzin\.me" is listed twice/,
      ],
      [
        "a non-FQDN mail host",
        (a) => (a.mxHosts[0].hostname = "mail"),
        /mxHosts\[0\]\.hostname "mail": expected a fully qualified/,
      ],
      [
        "a trailing dot",
        (a) => (a.mxHosts[0].hostname = "mail.viktorbarzin.me."),
        /mxHosts\[0\]\.hostname/,
      ],
      ["a bad IPv4", (a) => (a.mxHosts[0].ipv4 = "176.12.22"), /mxHosts\[0\]\.ipv4 "176.12.22"/],
      [
        "addresses for a host outside the zone",
        (a) => (a.mxHosts[0].hostname = "mx.example.net"),
        /outside zone viktorbarzin\.me/,
      ],
      ["no MX host", (a) => (a.mxHosts = []), /mxHosts is empty/],
      ["an MX priority out of range", (a) => (a.mxHosts[0].priority = -1), /priority -1/],
      [
        "a selector used twice",
        (a) => (a.dkimCnames[0].selector = "mail"),
        /selector "mail" appears twice/,
      ],
      [
        "a relative CNAME target",
        (a) => (a.dkimCnames[0].target = "b1"),
        /dkimCnames\[0\]\.target "b1"/,
      ],
      ["a max_age over a year", (a) => (a.mtaSts.maxAgeSeconds = 31557601), /maxAgeSeconds/],
      ["a non-address TLS-RPT rua", (a) => (a.tlsRptRua = "postmaster"), /tlsRptRua/],
    ];
    for (const [what, mutate, message] of cases) {
      it(what, () => {
        const args = stackArgs();
        mutate(args);
        assert.throws(() => new DnsRecords("bad", args), message);
      });
    }
  });
});
