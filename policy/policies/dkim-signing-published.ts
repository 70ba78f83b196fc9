/**
 * dkim-signing-published: every signature Rspamd makes in a docker-mailserver container verifies
 * against the stack's DNS: each selector its dkim_signing.conf signs the mail domain with has a
 * DKIM TXT at `<selector>._domainkey.<domain>`, the key file the conf names is a file the pod
 * mounts (volume -> Secret -> key, as the kubelet projects it) that Rspamd can read, and the
 * public key of that private key is the TXT's `p=`.
 *
 * Why: a receiver verifies a DKIM signature with the key at `s=`._domainkey.`d=` (RFC 6376
 * §3.6.2); a selector without its TXT, or a private key that is not the published one, makes every
 * signature fail, and DMARC then depends on the relay's signature alone. A key path no mount
 * provides (or one Rspamd, running as _rspamd, cannot read) leaves mail unsigned.
 *
 * How the pack reads the conf: docker-mailserver 15.0.0 copies `<config>/rspamd/override.d/*` to
 * /etc/rspamd/override.d (target/scripts/startup/setup.d/security/rspamd.sh:79-82), and its
 * `custom-commands.conf` can rewrite dkim_signing.conf (helpers/rspamd.sh); the file is parsed as
 * the UCL subset of lib/ucl.ts and judged as lib/rspamd-dkim.ts models Rspamd. Anything else is
 * refused as "cannot verify": another place for the file, a local.d file (merged, not modelled),
 * a source the pack cannot read, UCL outside the subset, options that choose keys another way.
 *
 * Fix: mount the program's dkim_signing.conf (components/mailserver.ts#dkimSigningConf) and the
 * Secret `mailserver-dkim` key `dkim.private.txt` at the path it names (dkimKeyPath), and publish
 * the key's TXT (DnsRecords dkimKeys, derived with lib/secrets.ts#dkimPublicKeyOf).
 */
import { createHash, type KeyObject } from "node:crypto";
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DMS_IMAGE_PROPERTY, readConfig, SPEC } from "../lib/config";
import { parseDkim, publishedKey } from "../lib/dkim";
import { isDnsRecord, stackRecords, type DnsRecordView } from "../lib/dns";
import { hasKind, podSpecOf } from "../lib/k8s";
import { fileAt, type MountedFile } from "../lib/mounts";
import { PreviewGaps, Unknown, type Plain } from "../lib/plain";
import {
  publicKeyOfKeyFile,
  rawEd25519,
  signingEntries,
  type SigningEntry,
} from "../lib/rspamd-dkim";
import {
  dmsContainers,
  effectiveEnv,
  plainResources,
  type DmsContainer,
  type StackResource,
} from "../lib/stack";
import { parseUcl, type UclObject } from "../lib/ucl";

const configSchema: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain Rspamd signs for" },
    ...DMS_IMAGE_PROPERTY,
  },
};

interface Config {
  domain: string;
  dmsImage: string;
}

const DMS_OVERRIDE = "/tmp/docker-mailserver/rspamd/override.d/dkim_signing.conf";
const ETC_OVERRIDE = "/etc/rspamd/override.d/dkim_signing.conf";
const ETC_LOCAL = "/etc/rspamd/local.d/dkim_signing.conf";
const CUSTOM_COMMANDS = "/tmp/docker-mailserver/rspamd/custom-commands.conf";
/** A mount here replaces Rspamd's own config, which the model's defaults come from. */
const RSPAMD_MODULE = "/etc/rspamd/modules.d/dkim_signing.conf";

/** One docker-mailserver container under judgement, and where its findings go. */
interface Ctx {
  resources: readonly StackResource[];
  records: DnsRecordView[];
  c: DmsContainer;
  cfg: Config;
  gaps: PreviewGaps;
  report: (message: string) => void;
  who: string;
}

function file(ctx: Ctx, path: string): MountedFile {
  const spec = podSpecOf(ctx.c.workload.type, ctx.c.workload.props) as Plain;
  return fileAt(ctx.resources, ctx.c.namespace, spec, ctx.c.container.container, path);
}

/** Reports what the pack cannot verify; null is the readers' "cannot tell". */
function refuse(ctx: Ctx, what: string): null {
  ctx.report(
    `cannot verify: ${ctx.who}: ${what}; sign with the program's dkim_signing.conf (components/mailserver.ts#dkimSigningConf) mounted from a ConfigMap of the stack, or judge the signing yourself and change the pack.`,
  );
  return null;
}

/** Leaves an unknown to the preview advisory (lib/plain.ts#PreviewGaps). */
function defer(ctx: Ctx, value: Unknown, where: string): null {
  ctx.gaps.note(value, `${ctx.who} ${where}`);
  return null;
}

/** Text of a file the conf depends on, undefined when absent; refused or noted otherwise. */
function knownText(ctx: Ctx, path: string): string | undefined | null {
  const f = file(ctx, path);
  if (f.kind === "absent") return undefined;
  if (f.kind === "unknown") return defer(ctx, f.value, path);
  if (f.kind === "opaque") return refuse(ctx, `${path} comes from ${f.why}`);
  if (f.content instanceof Unknown) return defer(ctx, f.content, path);
  return f.content;
}

/** The override file's settings (undefined: none), or null when the pack cannot tell. */
function overrideConf(ctx: Ctx): { conf?: UclObject; origin: string } | null {
  for (const path of [ETC_LOCAL, RSPAMD_MODULE]) {
    if (file(ctx, path).kind !== "absent") {
      return refuse(ctx, `${path} is mounted, which the pack does not model`);
    }
  }
  const commands = knownText(ctx, CUSTOM_COMMANDS);
  if (commands === null) return null;
  if (commands?.includes("dkim_signing")) {
    return refuse(ctx, `${CUSTOM_COMMANDS} changes dkim_signing, which the pack does not model`);
  }
  const dms = knownText(ctx, DMS_OVERRIDE);
  const etc = knownText(ctx, ETC_OVERRIDE);
  if (dms === null || etc === null) return null;
  if (dms !== undefined && etc !== undefined) {
    return refuse(ctx, `both ${DMS_OVERRIDE} and ${ETC_OVERRIDE} are mounted`);
  }
  const text = dms ?? etc;
  const origin = dms !== undefined ? DMS_OVERRIDE : ETC_OVERRIDE;
  if (text === undefined) return { origin: "Rspamd's defaults (no dkim_signing.conf)" };
  const parsed = parseUcl(text);
  if (!parsed.ok) return refuse(ctx, `${origin}: ${parsed.error} (lib/ucl.ts)`);
  return { conf: parsed.value, origin };
}

type Published = { record: DnsRecordView; text: string };

/** The DKIM TXTs at the selector's name, or null when the pack cannot tell. */
function publishedKeys(ctx: Ctx, e: SigningEntry, origin: string): Published[] | null {
  const fqdn = `${e.selector}._domainkey.${ctx.cfg.domain}`;
  const out: Published[] = [];
  for (const r of ctx.records) {
    if (ctx.gaps.check(r.fqdn, r.resource) || r.fqdn !== fqdn) continue;
    if (ctx.gaps.check(r.type, r.resource) || ctx.gaps.check(r.content, r.resource)) return null;
    if (r.type === "TXT") out.push({ record: r, text: r.content ?? "" });
    else if (r.type === "CNAME") {
      return refuse(
        ctx,
        `${fqdn} is a CNAME (${r.resource}): the key it delegates to is outside the stack`,
      );
    }
  }
  if (out.length === 0 && !ctx.gaps.pending) {
    ctx.report(
      `${ctx.who} signs ${ctx.cfg.domain} with selector "${e.selector}" (${origin} ${e.from}), but the stack publishes no TXT at ${fqdn}: receivers fail every such signature (RFC 6376 §3.6.2). Publish that key's TXT (DnsRecords dkimKeys) or sign with a published selector.`,
    );
  }
  return out.length > 0 ? out : null;
}

/** The key file's text, or null when absent (reported), unreadable or unknown. */
function keyFile(ctx: Ctx, e: SigningEntry, origin: string): { text: string; from: string } | null {
  if (e.path.includes("$")) {
    return refuse(
      ctx,
      `selector "${e.selector}" uses key path ${e.path}, a template the pack does not expand`,
    );
  }
  const f = file(ctx, e.path);
  const fix = `Mount the Secret's key at ${e.path} (a secret volume with subPath, mode 0444).`;
  if (f.kind === "unknown") return defer(ctx, f.value, e.path);
  if (f.kind === "opaque") return refuse(ctx, `key file ${e.path} comes from ${f.why}`);
  if (f.kind === "absent") {
    ctx.report(
      `${ctx.who} signs with selector "${e.selector}" and key file ${e.path} (${origin} ${e.from}), but the pod does not mount it (${f.why}): Rspamd cannot load the key and the mail goes unsigned. ${fix}`,
    );
    return null;
  }
  if ((f.mode & 0o004) === 0) {
    ctx.report(
      `${ctx.who}: key file ${e.path} (${f.origin}) has mode 0${f.mode.toString(8)}; Rspamd runs as _rspamd and cannot read a file other users may not read, so the mail goes unsigned. Set the volume's defaultMode (or the item's mode) to 0444.`,
    );
  }
  if (f.content instanceof Unknown) return defer(ctx, f.content, f.origin);
  return { text: f.content, from: f.origin };
}

/** The key a TXT must publish for the derived one, as lib/dkim.ts#publishedKey spells it. */
function expectedKey(keyType: "rsa" | "ed25519", key: KeyObject): string {
  const der = keyType === "rsa" ? key.export({ format: "der", type: "spki" }) : rawEd25519(key);
  return der.toString("base64");
}

const KEY_NAMES = { rsa: "RSA", ed25519: "Ed25519" } as const;

/** A short, public name for a public key in messages. */
const fingerprint = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 16);

function compare(
  ctx: Ctx,
  e: SigningEntry,
  key: { text: string; from: string },
  txts: Published[],
): void {
  const derived = publicKeyOfKeyFile(key.text);
  if (!derived.ok) {
    refuse(ctx, `key file ${e.path} (${key.from}): ${derived.why}`);
    return;
  }
  const want = expectedKey(derived.keyType, derived.key);
  for (const { record, text } of txts) {
    const parsed = parseDkim(text);
    // A record that does not parse, or sets a key aside for mail, is dkim-key-strength's.
    if (!parsed.ok) continue;
    const published = publishedKey(text);
    if (published?.keyType === derived.keyType && published.key === want) continue;
    const what =
      parsed.keyType === "revoked"
        ? "a revoked key (empty p=)"
        : `an ${KEY_NAMES[parsed.keyType]} key`;
    ctx.report(
      `${ctx.who} signs with selector "${e.selector}" using ${key.from} (an ${KEY_NAMES[derived.keyType]} key, public key sha256 ${fingerprint(want)}), but ${record.resource} publishes ${what} that is not its public key at ${e.selector}._domainkey.${ctx.cfg.domain}: every signature fails verification. Publish the public key of that private key (lib/secrets.ts#dkimPublicKeyOf) or mount the private key of the published one.`,
    );
  }
}

function judgeContainer(ctx: Ctx): void {
  const rspamd = effectiveEnv(ctx.resources, ctx.c, "ENABLE_RSPAMD");
  if (rspamd.kind === "unknown") return ctx.gaps.note(rspamd.value, ctx.who);
  if (rspamd.kind === "opaque") {
    refuse(ctx, "ENABLE_RSPAMD comes from a source the pack cannot read");
    return;
  }
  // DMS 15.0.0 starts Rspamd only for exactly "1" (setup.d/security/rspamd.sh:9); the default is 0.
  if (rspamd.kind !== "literal" || rspamd.value !== "1") return;
  const read = overrideConf(ctx);
  if (!read) return;
  const signing = signingEntries(read.conf, ctx.cfg.domain);
  if (!signing.ok) {
    for (const why of signing.refused) refuse(ctx, `${read.origin}: ${why}`);
    return;
  }
  for (const e of signing.entries) {
    const txts = publishedKeys(ctx, e, read.origin);
    const key = keyFile(ctx, e, read.origin);
    if (txts && key) compare(ctx, e, key, txts);
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  // Pod specs of any kind, the ConfigMaps and Secrets they mount, and the DNS records.
  const resources = plainResources(args.resources, (t) => hasKind(t) || isDnsRecord(t));
  const containers = dmsContainers(resources, cfg.dmsImage, gaps);
  const records = stackRecords(resources, cfg.domain);
  for (const c of containers) {
    const who = `Rspamd in ${c.namespace}/${c.workloadName} (container ${c.container.name})`;
    const at = c.workload.urn;
    judgeContainer({ resources, records, c, cfg, gaps, who, report: (m) => report(m, at) });
  }
  gaps.settle();
  if (containers.length === 0) args.notApplicable("no docker-mailserver container in this stack");
}

export const dkimSigningPublished: StackValidationPolicy = {
  name: "dkim-signing-published",
  description:
    "Each selector Rspamd signs the mail domain with has its DKIM TXT, its key file is mounted from the stack, and the TXT publishes that key's public half.",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
