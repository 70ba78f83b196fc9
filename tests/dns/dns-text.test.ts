import * as assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import {
  brevoVerificationRecord,
  dkimRecord,
  dmarcRecord,
  mtaStsPolicy,
  mtaStsPolicyId,
  mtaStsRecord,
  spfRecord,
  tlsRptRecord,
  txtContent,
  unquoteTxt,
  type DmarcArgs,
  type MtaStsPolicyArgs,
} from "../../lib/dns-text";
import { loadWorld } from "../../tools/world/load";

// The DMARC record parser a receiver runs (mailauth ships no types for this module).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseDmarcRecord } = require("mailauth/lib/dmarc/get-dmarc-record") as {
  parseDmarcRecord: (txt: string, opts?: { strict?: boolean }) => Record<string, unknown> | null;
};

/** Splits Cloudflare TXT content back into its character-strings (test inputs have no escapes). */
function strings(content: string): string[] {
  assert.match(content, /^"[^"]*"( "[^"]*")*$/);
  return content.slice(1, -1).split('" "');
}

function rsaPublicKey(bits: number): { pem: string; der: string } {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return {
    pem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    der: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
  };
}

describe("txtContent", () => {
  it("quotes short content as one string", () => {
    assert.equal(txtContent("v=spf1 ~all"), '"v=spf1 ~all"');
  });

  it("keeps exactly 255 bytes in one string", () => {
    const value = "a".repeat(255);
    assert.deepEqual(strings(txtContent(value)), [value]);
  });

  it("splits at byte 255: 256 bytes become 255 + 1", () => {
    const value = "a".repeat(255) + "b";
    assert.equal(txtContent(value), `"${"a".repeat(255)}" "b"`);
  });

  it("splits 600 bytes into 255 + 255 + 90, joining back to the value", () => {
    const value = Array.from({ length: 600 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(
      "",
    );
    const parts = strings(txtContent(value));
    assert.deepEqual(
      parts.map((p) => p.length),
      [255, 255, 90],
    );
    assert.equal(parts.join(""), value);
  });

  it("escapes quotes and backslashes after splitting, so each string still holds 255 bytes", () => {
    const value = '"' + "a".repeat(254) + "\\";
    assert.equal(txtContent(value), `"\\"${"a".repeat(254)}" "\\\\"`);
  });

  it("refuses empty and non-ASCII values", () => {
    assert.throws(() => txtContent(""), /empty/);
    assert.throws(() => txtContent("caf\u00e9"), /printable ASCII/);
    assert.throws(() => txtContent("a\nb"), /printable ASCII/);
  });
});

describe("dkimRecord", () => {
  const key2048 = rsaPublicKey(2048);

  it("builds v=DKIM1; k=rsa; p=<SPKI> from PEM", () => {
    assert.equal(dkimRecord(key2048.pem), `v=DKIM1; k=rsa; p=${key2048.der}`);
  });

  it("accepts base64 DER, with whitespace, and a DKIM record value carrying p=", () => {
    const expected = `v=DKIM1; k=rsa; p=${key2048.der}`;
    assert.equal(dkimRecord(key2048.der), expected);
    assert.equal(dkimRecord(key2048.der.replace(/(.{64})/g, "$1\n")), expected);
    assert.equal(dkimRecord(`k=rsa; p=${key2048.der}`), expected);
  });

  it("a 2048-bit key becomes 2 TXT strings (255 + rest) that join back to the record", () => {
    const record = dkimRecord(key2048.pem);
    const parts = strings(txtContent(record));
    assert.equal(parts.length, 2);
    assert.equal(parts[0].length, 255);
    assert.equal(parts.join(""), record);
    const p = parts.join("").split("p=")[1];
    const key = createPublicKey({ key: Buffer.from(p, "base64"), format: "der", type: "spki" });
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  });

  it("a 1024-bit key fits one TXT string", () => {
    assert.equal(strings(txtContent(dkimRecord(rsaPublicKey(1024).pem))).length, 1);
  });

  it("refuses RSA keys under 1024 bits", () => {
    assert.throws(() => dkimRecord(rsaPublicKey(768).pem), /768-bit RSA key: RFC 8301/);
  });

  it("refuses non-RSA keys", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    assert.throws(() => dkimRecord(pem), /ed25519 key: expected RSA/);
  });

  it("refuses a private key without echoing it", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    assert.throws(
      () => dkimRecord(pem),
      (e: Error) => /private key/.test(e.message) && !e.message.includes(pem.slice(40, 80)),
    );
  });

  it("refuses garbage and truncated keys", () => {
    assert.throws(() => dkimRecord("not a key!"), /neither PEM nor base64/);
    assert.throws(() => dkimRecord(key2048.der.slice(0, 100)), /not a DER SubjectPublicKeyInfo/);
  });
});

describe("spfRecord", () => {
  it("builds the stack's record", () => {
    assert.equal(
      spfRecord({ includes: ["spf.brevo.com"], all: "~all" }),
      "v=spf1 include:spf.brevo.com ~all",
    );
    assert.equal(spfRecord({ includes: [], all: "-all" }), "v=spf1 -all");
  });

  for (const all of ["+all", "?all", "all"]) {
    it(`refuses ${all}`, () => {
      assert.throws(
        () => spfRecord({ includes: ["spf.brevo.com"], all: all as "-all" }),
        (e: Error) => e.message.startsWith(`spf.all "${all}": expected "-all" or "~all"`),
      );
    });
  }

  it("refuses more than 10 includes and non-domain includes", () => {
    const includes = Array.from({ length: 11 }, (_, i) => `spf${i}.example.com`);
    assert.throws(() => spfRecord({ includes, all: "-all" }), /11 entries/);
    assert.throws(() => spfRecord({ includes: ["spf brevo"], all: "-all" }), /spf.includes/);
  });
});

describe("dmarcRecord", () => {
  const domain = "viktorbarzin.me";
  const args: DmarcArgs = {
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
  };
  // The owner's live record, unquoted: world/today/cloudflare.yaml `record TXT _dmarc.viktorbarzin.me`.
  const live = (): string => {
    const fact = loadWorld("today").files.cloudflare.facts.find(
      (f) => f.id === "record TXT _dmarc.viktorbarzin.me",
    );
    return unquoteTxt(String((fact?.value as { content: string }).content));
  };

  it("builds the owner's live record from the stack's tags", () => {
    assert.equal(dmarcRecord(domain, args), live());
  });

  it("a receiver's parser (mailauth, strict RFC tag-list rules) reads every tag back", () => {
    const parsed = parseDmarcRecord(dmarcRecord(domain, args), { strict: true });
    assert.deepEqual(
      { ...parsed, rr: undefined },
      {
        v: "DMARC1",
        p: "quarantine",
        pct: 100,
        fo: "1",
        ri: 3600,
        sp: "quarantine",
        adkim: "r",
        aspf: "r",
        rua: "mailto:dmarc@viktorbarzin.me,mailto:adb84997@inbox.ondmarc.com",
        ruf: "mailto:dmarc@viktorbarzin.me,mailto:adb84997@inbox.ondmarc.com,mailto:postmaster@viktorbarzin.me",
        rr: undefined,
      },
    );
  });

  it("leaves out the optional tags that are not set", () => {
    assert.equal(
      dmarcRecord(domain, { policy: "reject", pct: 100, rua: ["d@reports.viktorbarzin.me"] }),
      "v=DMARC1; p=reject; pct=100; rua=mailto:d@reports.viktorbarzin.me;",
    );
  });

  it("refuses an unlisted outside mailbox, naming the authorisation record it would need", () => {
    assert.throws(
      () => dmarcRecord(domain, { ...args, rua: ["e21c0ff8@dmarc.mailgun.org"] }),
      /dmarc\.rua\[0\] .*viktorbarzin\.me\._report\._dmarc\.dmarc\.mailgun\.org/,
    );
    assert.throws(
      () => dmarcRecord(domain, { ...args, externalDestinations: [] }),
      /dmarc\.rua\[1\] "adb84997@inbox\.ondmarc\.com": outside .*; dmarc\.ruf\[1\]/,
    );
    // A look-alike suffix is not inside the domain.
    assert.throws(
      () => dmarcRecord(domain, { ...args, ruf: ["d@evilviktorbarzin.me"] }),
      /dmarc\.ruf\[0\] "d@evilviktorbarzin\.me": outside viktorbarzin\.me/,
    );
  });

  it("refuses values outside RFC 7489's grammar, every one at once", () => {
    const bad: DmarcArgs = {
      ...args,
      policy: "strict" as "none",
      pct: 101,
      fo: "2",
      ri: 1.5,
      adkim: "x" as "r",
      rua: ["mailto:d@x.me"],
    };
    assert.throws(
      () => dmarcRecord(domain, bad),
      new RegExp(
        [
          'dmarc\\.policy "strict"',
          "dmarc\\.pct 101",
          'dmarc\\.fo "2"',
          "dmarc\\.ri 1\\.5",
          'dmarc\\.adkim "x"',
          'dmarc\\.rua\\[0\\] "mailto:d@x\\.me"',
        ].join(".*"),
      ),
    );
    assert.throws(() => dmarcRecord(domain, { ...args, rua: [] }), /dmarc\.rua is empty/);
  });
});

describe("MTA-STS", () => {
  const base: MtaStsPolicyArgs = {
    mode: "enforce",
    mx: ["mail.viktorbarzin.me"],
    maxAgeSeconds: 604800,
  };

  it("renders the policy with CRLF line endings, one mx line per host", () => {
    assert.equal(
      mtaStsPolicy({ ...base, mx: ["mail.viktorbarzin.me", "mx2.viktorbarzin.me"] }),
      "version: STSv1\r\nmode: enforce\r\nmx: mail.viktorbarzin.me\r\n" +
        "mx: mx2.viktorbarzin.me\r\nmax_age: 604800\r\n",
    );
  });

  it("same policy gives the same id", () => {
    assert.equal(mtaStsPolicyId(mtaStsPolicy(base)), mtaStsPolicyId(mtaStsPolicy({ ...base })));
  });

  it("a changed mode, max_age or mx list gives a different id", () => {
    const id = mtaStsPolicyId(mtaStsPolicy(base));
    const variants: MtaStsPolicyArgs[] = [
      { ...base, mode: "testing" },
      { ...base, maxAgeSeconds: 86400 },
      { ...base, mx: ["mx.viktorbarzin.me"] },
      { ...base, mx: ["mail.viktorbarzin.me", "mx2.viktorbarzin.me"] },
    ];
    const ids = variants.map((v) => mtaStsPolicyId(mtaStsPolicy(v)));
    assert.equal(new Set([id, ...ids]).size, 1 + variants.length);
  });

  it("the id is 20 lower-case hex digits and makes a valid record", () => {
    const id = mtaStsPolicyId(mtaStsPolicy(base));
    assert.match(id, /^[0-9a-f]{20}$/);
    assert.equal(mtaStsRecord(id), `v=STSv1; id=${id}`);
  });

  it("refuses bad ids, modes, max_age and an empty mx list", () => {
    assert.throws(() => mtaStsRecord("2026-04-12"), /1-32 letters or digits/);
    assert.throws(() => mtaStsRecord("a".repeat(33)), /1-32 letters or digits/);
    assert.throws(() => mtaStsPolicy({ ...base, mode: "on" as "none" }), /mtaSts.mode "on"/);
    assert.throws(() => mtaStsPolicy({ ...base, maxAgeSeconds: 0 }), /maxAgeSeconds 0/);
    assert.throws(() => mtaStsPolicy({ ...base, maxAgeSeconds: 31557601 }), /caps it at 31557600/);
    assert.throws(() => mtaStsPolicy({ ...base, mx: [] }), /at least one mx/);
  });
});

describe("tlsRptRecord and brevoVerificationRecord", () => {
  it("builds the TLS-RPT record", () => {
    assert.equal(
      tlsRptRecord("postmaster@viktorbarzin.me"),
      "v=TLSRPTv1; rua=mailto:postmaster@viktorbarzin.me",
    );
    assert.throws(() => tlsRptRecord("postmaster"), /tlsRptRua "postmaster"/);
  });

  it("builds the Brevo record and refuses other shapes without echoing them", () => {
    assert.equal(brevoVerificationRecord("a6ef1dd9c0ffee00"), "brevo-code:a6ef1dd9c0ffee00");
    const apiKey = "xkeysib-0123456789abcdef";
    assert.throws(
      () => brevoVerificationRecord(apiKey),
      (e: Error) => /not a Brevo verification code/.test(e.message) && !e.message.includes(apiKey),
    );
    assert.throws(() => brevoVerificationRecord("brevo-code:a6ef1dd9c0ffee00"), /prefix/);
  });
});
