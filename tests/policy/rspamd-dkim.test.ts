/**
 * The pack's readers behind dkim-signing-published, against the consumers' rules written out:
 * the UCL subset (libucl README), Rspamd 3.11.1's key selection (lua_dkim_tools.lua
 * prepare_dkim_signing) and key loading (dkim.c rspamd_dkim_sign_key_load), and the kubelet's
 * projection of a Secret into a container (core/v1 types: items, subPath, defaultMode).
 */
import * as assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { fileAt } from "../../policy/lib/mounts";
import { publicKeyOfKeyFile, signingEntries } from "../../policy/lib/rspamd-dkim";
import { parseUcl } from "../../policy/lib/ucl";
import type { StackResource } from "../../policy/lib/stack";

const D = "viktorbarzin.me";

describe("UCL subset (policy/lib/ucl.ts)", () => {
  it("reads the spellings libucl gives one meaning", () => {
    const text = [
      "# comment",
      'enabled = true; selector: "mail"',
      "use_esld = 1;",
      "domain {",
      `  ${D} { path = "/k"; selectors [ { selector = "a", path = "/a" }, { selector = "b"; }, ] }`,
      "}",
      "sign_local = off",
      "",
    ].join("\n");
    const parsed = parseUcl(text);
    assert.deepEqual(parsed, {
      ok: true,
      value: {
        enabled: true,
        selector: "mail",
        use_esld: 1,
        domain: {
          [D]: { path: "/k", selectors: [{ selector: "a", path: "/a" }, { selector: "b" }] },
        },
        sign_local: false,
      },
    });
  });

  for (const [text, error] of [
    ['.include "x.conf"', "line 1: macros (.include, .priority, ...) are outside the subset"],
    [
      'selector = "a";\nselector = "b";',
      "line 2: key selector appears twice (libucl makes an implicit array)",
    ],
    ['path = "$DBDIR/k";', 'line 1: "$DBDIR/k" holds "$", which libucl expands as a variable'],
    ["selector = mail;", "line 1: unquoted value mail is outside the subset: quote strings"],
    ['selector = "a\\"b";', "line 1: escapes in strings are outside the subset"],
    ["selector = 'a';", "line 1: single-quoted strings are outside the subset"],
    ["/* c */ enabled = true;", "line 1: block comments are outside the subset"],
    ['domain "x" { }', 'line 1: expected "=", ":", "{" or "[" after domain'],
    ['Selector = "a";', 'line 1: expected a lower-case key, found "S"'],
    ["timeout = 10s;", "line 1: unquoted value 10s is outside the subset: quote strings"],
    ['a = "x" b = "y"', 'line 1: expected ";" or a line end, found "b"'],
    ["{ enabled = true; }", 'line 1: expected a lower-case key, found "{"'],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseUcl(text), { ok: false, error });
    });
  }
});

describe("Rspamd 3.11.1 key selection (policy/lib/rspamd-dkim.ts#signingEntries)", () => {
  const conf = (text: string) => {
    const r = parseUcl(text);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };

  it("signs with the domain entry's pair, then each of its selectors", () => {
    const c = conf(
      `domain { ${D} { selector = "a"; path = "/a"; selectors [ { selector = "b"; path = "/b"; } ] } }`,
    );
    assert.deepEqual(signingEntries(c, D), {
      ok: true,
      entries: [
        { selector: "a", path: "/a", from: `domain.${D}` },
        { selector: "b", path: "/b", from: `domain.${D}.selectors[0]` },
      ],
    });
  });

  it("fills a missing selector or path from the top level, and falls back without an entry", () => {
    assert.deepEqual(signingEntries(conf(`selector = "t"; domain { ${D} { path = "/a"; } }`), D), {
      ok: true,
      entries: [{ selector: "t", path: "/a", from: `domain.${D}` }],
    });
    assert.deepEqual(signingEntries(conf('selector = "t"; path = "/t";'), D), {
      ok: true,
      entries: [{ selector: "t", path: "/t", from: "the top level" }],
    });
    // Rspamd's default selector is "dkim" (modules.d/dkim_signing.conf).
    assert.deepEqual(signingEntries(conf('path = "/t";'), D), {
      ok: true,
      entries: [{ selector: "dkim", path: "/t", from: "the top level" }],
    });
  });

  it("signs nothing when disabled or without an entry and try_fallback = false", () => {
    assert.deepEqual(signingEntries(conf("enabled = false;"), D), {
      ok: true,
      entries: [],
      why: "enabled = false",
    });
    assert.deepEqual(signingEntries(conf('try_fallback = false; path = "/t";'), D), {
      ok: true,
      entries: [],
      why: `no domain.${D} entry and try_fallback = false`,
    });
  });

  it("refuses what chooses keys another way", () => {
    const refused = (text: string) => {
      const r = signingEntries(conf(text), D);
      return r.ok ? [] : r.refused;
    };
    assert.deepEqual(refused("use_redis = true;"), [
      "dkim_signing.conf use_redis loads keys from Redis, which the pack cannot see",
    ]);
    assert.deepEqual(refused('selector_map = "/m";'), [
      "dkim_signing.conf selector_map is an option the pack does not model (it may choose another key)",
    ]);
    assert.deepEqual(refused('use_domain = "example.org";'), [
      "dkim_signing.conf use_domain signs as example.org, a domain whose records the pack does not hold",
    ]);
    assert.deepEqual(refused('domain { example.org { selector = "x"; } }'), [
      "dkim_signing.conf domain.example.org signs for a domain whose records the pack does not hold",
    ]);
  });
});

describe("key files as Rspamd 3.11.1 loads them (publicKeyOfKeyFile)", () => {
  it("reads a PKCS#8 or PKCS#1 PEM RSA key, and a base64 ed25519 seed or secret key", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const spki = rsa.publicKey.export({ format: "der", type: "spki" });
    for (const type of ["pkcs8", "pkcs1"] as const) {
      const r = publicKeyOfKeyFile(rsa.privateKey.export({ format: "pem", type }).toString());
      assert.ok(r.ok && r.keyType === "rsa");
      assert.deepEqual(r.key.export({ format: "der", type: "spki" }), spki);
    }
    const ed = generateKeyPairSync("ed25519");
    const seed = ed.privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
    const raw = ed.publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    for (const file of [
      `${seed.toString("base64")}\n`,
      Buffer.concat([seed, raw]).toString("base64"),
    ]) {
      const r = publicKeyOfKeyFile(file);
      assert.ok(r.ok && r.keyType === "ed25519");
      assert.deepEqual(r.key.export({ format: "der", type: "spki" }).subarray(-32), raw);
    }
  });

  it("refuses what it cannot derive exactly", () => {
    const ed = generateKeyPairSync("ed25519");
    const pem = ed.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    assert.deepEqual(publicKeyOfKeyFile(pem), {
      ok: false,
      why: "it is a PEM ed25519 key, which Rspamd 3.11.1 signs as RSA",
    });
    assert.deepEqual(publicKeyOfKeyFile("not a key"), {
      ok: false,
      why: "it is neither PEM nor one line of base64",
    });
    assert.deepEqual(publicKeyOfKeyFile(Buffer.alloc(48, 1).toString("base64")), {
      ok: false,
      why: "it is 48 bytes of base64 (DER keys are not modelled)",
    });
  });
});

describe("the kubelet's projection of a Secret (policy/lib/mounts.ts#fileAt)", () => {
  const secret: StackResource = {
    type: "kubernetes:core/v1:Secret",
    name: "s",
    urn: "urn:s",
    protect: false,
    props: {
      metadata: { name: "k", namespace: "ns" },
      data: {
        a: Buffer.from("from data").toString("base64"),
        b: Buffer.from("B").toString("base64"),
      },
      stringData: { a: "from stringData" },
    },
  };
  const at = (volume: Record<string, unknown>, mount: Record<string, unknown>, file: string) =>
    fileAt(
      [secret],
      "ns",
      { volumes: [{ name: "v", ...volume }] },
      { volumeMounts: [{ name: "v", ...mount }] },
      file,
    );

  it("projects every key by name, stringData over data, mode 0644 by default", () => {
    assert.deepEqual(at({ secret: { secretName: "k" } }, { mountPath: "/d/" }, "/d/a"), {
      kind: "file",
      origin: "Secret ns/k key a",
      content: "from stringData",
      mode: 0o644,
    });
  });

  it("follows items and subPath, with an item's mode over defaultMode", () => {
    const volume = {
      secret: {
        secretName: "k",
        defaultMode: 0o400,
        items: [{ key: "b", path: "x/y", mode: 0o444 }],
      },
    };
    assert.deepEqual(at(volume, { mountPath: "/f", subPath: "x/y" }, "/f"), {
      kind: "file",
      origin: "Secret ns/k key b",
      content: "B",
      mode: 0o444,
    });
    assert.deepEqual(at(volume, { mountPath: "/d", subPath: "x" }, "/d/y").kind, "file");
    assert.deepEqual(at(volume, { mountPath: "/d" }, "/d/b"), {
      kind: "absent",
      why: "Secret ns/k projects no file at b (volume v)",
    });
  });

  it("names what it cannot read: another volume kind, an object outside the stack, subPathExpr", () => {
    assert.deepEqual(at({ emptyDir: {} }, { mountPath: "/d" }, "/d/a"), {
      kind: "opaque",
      why: "volume v (emptyDir) at /d",
    });
    assert.deepEqual(at({ secret: { secretName: "other" } }, { mountPath: "/d" }, "/d/a"), {
      kind: "opaque",
      why: "Secret ns/other (volume v) is not in the stack",
    });
    assert.deepEqual(
      at({ secret: { secretName: "k" } }, { mountPath: "/d", subPathExpr: "$(X)" }, "/d/a"),
      {
        kind: "opaque",
        why: "mount /d uses subPathExpr",
      },
    );
    assert.deepEqual(at({ secret: { secretName: "k" } }, { mountPath: "/e" }, "/d/a"), {
      kind: "absent",
      why: "no volumeMount covers /d/a",
    });
  });

  it("does not read a Secret whose stringData an export hid as one string as having no keys", () => {
    // `pulumi policy analyze --file` hands ciphertext to the pack as "[secret]".
    const hidden: StackResource = {
      ...secret,
      props: { metadata: { name: "k", namespace: "ns" }, stringData: "[secret]" },
    };
    const f = fileAt(
      [hidden],
      "ns",
      { volumes: [{ name: "v", secret: { secretName: "k" } }] },
      { volumeMounts: [{ name: "v", mountPath: "/d" }] },
      "/d/a",
    );
    assert.equal(f.kind, "opaque");
    assert.match((f as { why: string }).why, /^Secret ns\/k, whose stringData this snapshot hides/);
  });
});
