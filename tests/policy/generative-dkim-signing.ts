/**
 * Generative family of dkim-signing-published, drawn from the consumers: a receiver verifies the
 * signature with the TXT at `s=`._domainkey.`d=` (RFC 6376 §3.6.2) and its key (RFC 6376 §3.6.1,
 * k=ed25519 per RFC 8463 §4.2); Rspamd 3.11.1 signs with the domain entry's selector(s) or the
 * top-level pair and loads the key file they name (PEM as RSA, a base64 32-byte seed as ed25519);
 * the kubelet puts a Secret key at a path only through a volumeMount, its subPath and the
 * volume's items; Rspamd runs as _rspamd, so the file must be world-readable.
 * Violating: a selector without TXT, the TXT under another selector, another keypair's private
 * key (or a revoked TXT), a path no mount provides, a subPath or items remap that moves the key,
 * an unreadable mode, and conf the pack cannot read (refused). Legitimate: two selectors both
 * published (RSA and ed25519), an ed25519 key alone, TXTs with other valid tags, other UCL
 * spellings of the same conf, a directory mount whose items name the file, other modes that
 * let others read.
 */
import { createPrivateKey } from "node:crypto";
import fc from "fast-check";
import { UNKNOWN, type AnalyzerResource } from "../../tools/analyzer/client";
import {
  configMap,
  DKIM_CONF_PATH,
  DKIM_KEY_PATH,
  DKIM_MOUNTS,
  DKIM_VOLUMES,
  dkimSecret,
  dkimSigningConf,
  dmsContainer,
  ed25519Key,
  mailConfig,
  mailDeployment,
  rsaPrivateKeyPem,
  rsaPublicKey,
  txt,
} from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "dkim-signing-published";
const D = "viktorbarzin.me";
const KEY_DIR = "/tmp/docker-mailserver/rspamd/dkim";
const ED_PATH = `${KEY_DIR}/ed25519-ed-${D}.private.txt`;

type Mount = Record<string, unknown>;
type Volume = Record<string, unknown>;

/** The mail Deployment with the DMS container's mounts and the pod's volumes replaced. */
function mailWith(mounts: Mount[], volumes: Volume[]): AnalyzerResource {
  const d = mailDeployment([dmsContainer({ volumeMounts: mounts })]);
  const spec = d.properties.spec as { template: { spec: { volumes: Volume[] } } };
  spec.template.spec.volumes = [
    ...volumes,
    { name: "data", persistentVolumeClaim: { claimName: "mailserver-data-proxmox" } },
  ];
  return d;
}

/** TXT content as Cloudflare takes long records: quoted strings of at most 255 bytes. */
const quoted = (text: string) => (text.match(/.{1,255}/g) ?? []).map((c) => `"${c}"`).join(" ");
const rsaTxt = (tags = "v=DKIM1; k=rsa") => quoted(`${tags}; p=${rsaPublicKey(2048)}`);

const ed25519 = ed25519Key;
const edTxt = (name = "ed") =>
  txt(`dkim-${name}`, `${name}._domainkey.${D}`, `v=DKIM1; k=ed25519; p=${ed25519().publicKey}`);

/** The mail Secret with a second key (the ed25519 seed) and both mounted by subPath. */
function withEdKey(conf: string, records: AnalyzerResource[]): AnalyzerResource[] {
  const secret = dkimSecret();
  (secret.properties.stringData as Record<string, string>)["ed.private.txt"] =
    `${ed25519().seed}\n`;
  const edMount = { name: "dkim", mountPath: ED_PATH, subPath: "ed.private.txt", readOnly: true };
  return replace([
    mailConfig(conf),
    secret,
    mailWith([...DKIM_MOUNTS, edMount], DKIM_VOLUMES),
    ...records,
  ]);
}

const selector = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,12}$/)
  .filter((s) => !["mail", "s1", "brevo1", "brevo2"].includes(s));
const otherPath = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,12}$/)
  .map((f) => `${KEY_DIR}/${f}.private.txt`);

/** One domain entry signing with both keys (lua_dkim_tools: every `selectors` entry signs). */
const TWO_SELECTORS = [
  'use_domain = "header";',
  "domain {",
  `  ${D} {`,
  "    selectors [",
  `      { selector = "mail"; path = "${DKIM_KEY_PATH}"; },`,
  `      { selector = "ed"; path = "${ED_PATH}"; },`,
  "    ]",
  "  }",
  "}",
  "",
].join("\n");

const bad = variant(POLICY, "violation");
/** A value unknown during preview: the advisory now, the mandatory verdict on outputs. */
const preview = variant(POLICY, "violation", "advisory");
const good = variant(POLICY, "clean");

const refusedConfs: [string, string][] = [
  ["an .include macro", `.include "$LOCAL_CONFDIR/dkim.inc"\n${dkimSigningConf()}`],
  ["use_redis = true", dkimSigningConf().replace("use_redis = false;", "use_redis = true;")],
  ["a selector_map", `${dkimSigningConf()}selector_map = "/etc/rspamd/dkim_selectors.map";\n`],
  ["a $domain template path", dkimSigningConf("mail", `${KEY_DIR}/$domain.$selector.key`)],
  ["a duplicate selector key", `${dkimSigningConf()}selector = "mail";\n`],
  ["an unquoted selector", dkimSigningConf().replaceAll('selector = "mail";', "selector = mail;")],
  [
    "a second domain",
    dkimSigningConf().replace("domain {", 'domain {\n  example.org { selector = "x"; }'),
  ],
];

export const dkimSigningFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    selector.map((s) =>
      bad(`selector without TXT: ${s}`, replace([mailConfig(dkimSigningConf(s))])),
    ),
    selector.map((s) =>
      bad(
        `TXT under another selector: ${s}`,
        replace([txt("dkim-mail", `${s}._domainkey.${D}`, rsaTxt())]),
      ),
    ),
    fc
      .constantFrom(1024, 3072)
      .map((bits) =>
        bad(
          `private key of another keypair (${bits} bits)`,
          replace([dkimSecret(rsaPrivateKeyPem(bits))]),
        ),
      ),
    fc.constant(
      bad(
        "an ed25519 key in the Secret for the RSA TXT",
        replace([dkimSecret(`${ed25519().seed}\n`)]),
      ),
    ),
    fc.constant(
      bad(
        "a revoked TXT (empty p=)",
        replace([txt("dkim-mail", `mail._domainkey.${D}`, "v=DKIM1; k=rsa; p=")]),
      ),
    ),
    otherPath.map((p) =>
      bad(`key path no volume mounts: ${p}`, replace([mailConfig(dkimSigningConf("mail", p))])),
    ),
    otherPath.map((p) =>
      bad(
        `key mounted elsewhere: ${p}`,
        replace([
          mailWith([DKIM_MOUNTS[0] as Mount, { ...DKIM_MOUNTS[1], mountPath: p }], DKIM_VOLUMES),
        ]),
      ),
    ),
    fc
      .constantFrom("private.txt", "dkim.key", "tls.key")
      .map((sub) =>
        bad(
          `subPath remap to ${sub}`,
          replace([
            mailWith([DKIM_MOUNTS[0] as Mount, { ...DKIM_MOUNTS[1], subPath: sub }], DKIM_VOLUMES),
          ]),
        ),
      ),
    fc.constantFrom("other.txt", "keys/dkim.private.txt").map((to) =>
      bad(
        `items remap of the key to ${to}`,
        replace([
          mailWith(DKIM_MOUNTS, [
            DKIM_VOLUMES[0] as Volume,
            {
              name: "dkim",
              secret: {
                secretName: "mailserver-dkim",
                items: [{ key: "dkim.private.txt", path: to }],
              },
            },
          ]),
        ]),
      ),
    ),
    fc
      .constantFrom(0o400, 0o600, 0o440, 0o640)
      .map((mode) =>
        bad(
          `unreadable key mode 0${mode.toString(8)}`,
          replace([
            mailWith(DKIM_MOUNTS, [
              DKIM_VOLUMES[0] as Volume,
              { name: "dkim", secret: { secretName: "mailserver-dkim", defaultMode: mode } },
            ]),
          ]),
        ),
      ),
    fc
      .constantFrom(...refusedConfs)
      .map(([what, conf]) =>
        bad(`conf the pack cannot read: ${what}`, replace([mailConfig(conf)])),
      ),
    fc.constant(
      bad(
        "custom-commands.conf that changes dkim_signing",
        replace([
          configMap("mailserver-config", "mailserver", {
            "dkim_signing.conf": dkimSigningConf(),
            "custom-commands.conf": "set-option-for-module dkim_signing selector other\n",
          }),
          mailWith(
            [
              ...DKIM_MOUNTS,
              {
                name: "config",
                mountPath: "/tmp/docker-mailserver/rspamd/custom-commands.conf",
                subPath: "custom-commands.conf",
              },
            ],
            DKIM_VOLUMES,
          ),
        ]),
      ),
    ),
    fc.constant(bad("selectors list with one unpublished", withEdKey(TWO_SELECTORS, []))),
    fc.constant(preview("key unknown at preview (Vault)", replace([dkimSecret(UNKNOWN.string)]))),
    fc.constant(
      preview(
        "TXT unknown at preview (derived from Vault)",
        replace([txt("dkim-mail", `mail._domainkey.${D}`, UNKNOWN.string)]),
      ),
    ),
  ),
  legit: fc.oneof(
    fc.constant(
      good(
        "two selectors both published (RSA and ed25519, RFC 8463)",
        withEdKey(TWO_SELECTORS, [edTxt()]),
      ),
    ),
    fc.constant(good("an ed25519 key alone", withEdKey(dkimSigningConf("ed", ED_PATH), [edTxt()]))),
    fc
      .constantFrom(
        "v=DKIM1; h=sha256; k=rsa",
        "v=DKIM1; k=rsa; s=email; t=s",
        "v=DKIM1; n=rotated 2026; k=rsa",
        "k=rsa",
        "v=DKIM1;k=rsa;h=sha1:sha256;s=*",
      )
      .map((tags) =>
        good(
          `a TXT with other valid tags: ${tags}`,
          replace([txt("dkim-mail", `mail._domainkey.${D}`, rsaTxt(tags))]),
        ),
      ),
    fc
      .constantFrom(
        dkimSigningConf().replaceAll(" = ", ": ").replaceAll(";", ""),
        `# signs as ${D}\n${dkimSigningConf().replace("sign_local = true;", "sign_local = yes; # also local")}`,
        `selector = "mail";\npath = "${DKIM_KEY_PATH}";\n`,
        `domain {\n  ${D} {\n    path = "${DKIM_KEY_PATH}";\n    selector = "mail";\n  }\n}\n`,
        dkimSigningConf().replace('use_domain = "header";', `use_domain = "${D}";`),
        dkimSigningConf().replace('use_domain = "header";', 'use_domain = "envelope";'),
        `${dkimSigningConf()}allow_hdrfrom_mismatch = true;\ncheck_pubkey = true;\n`,
      )
      .map((conf) =>
        good(`another spelling of the conf: ${conf.slice(0, 30)}`, replace([mailConfig(conf)])),
      ),
    fc.constant(
      good(
        "the Secret mounted as a directory, its items naming the file",
        replace([
          mailWith(
            [DKIM_MOUNTS[0] as Mount, { name: "dkim", mountPath: KEY_DIR, readOnly: true }],
            [
              DKIM_VOLUMES[0] as Volume,
              {
                name: "dkim",
                secret: {
                  secretName: "mailserver-dkim",
                  items: [
                    {
                      key: "dkim.private.txt",
                      path: DKIM_KEY_PATH.slice(KEY_DIR.length + 1),
                      mode: 0o444,
                    },
                  ],
                },
              },
            ],
          ),
        ]),
      ),
    ),
    fc.constant(
      good(
        "the conf mounted in /etc/rspamd/override.d directly",
        replace([
          mailWith(
            [
              {
                ...DKIM_MOUNTS[0],
                mountPath: DKIM_CONF_PATH.replace("/tmp/docker-mailserver/rspamd", "/etc/rspamd"),
              },
              DKIM_MOUNTS[1] as Mount,
            ],
            DKIM_VOLUMES,
          ),
        ]),
      ),
    ),
    fc
      .constantFrom(0o444, 0o644, 0o604, 0o004)
      .map((mode) =>
        good(
          `a readable key mode 0${mode.toString(8)}`,
          replace([
            mailWith(DKIM_MOUNTS, [
              DKIM_VOLUMES[0] as Volume,
              { name: "dkim", secret: { secretName: "mailserver-dkim", defaultMode: mode } },
            ]),
          ]),
        ),
      ),
    fc.constant(
      good(
        "the private key as PKCS#1 PEM",
        replace([
          dkimSecret(
            // The same key, in the traditional "BEGIN RSA PRIVATE KEY" form PEM_read_bio_PrivateKey reads.
            pkcs1(rsaPrivateKeyPem(2048)),
          ),
        ]),
      ),
    ),
    fc.constant(
      good("signing disabled (enabled = false)", replace([mailConfig("enabled = false;\n")])),
    ),
  ),
};

function pkcs1(pkcs8: string): string {
  return createPrivateKey(pkcs8).export({ format: "pem", type: "pkcs1" }).toString();
}
