import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { isIPv4, isIPv6 } from "node:net";
import { adoptNothing, TYPES, type Adopt } from "../lib/adopt";
import {
  brevoVerificationRecord,
  DKIM_SELECTOR,
  dkimRecord,
  dmarcRecord,
  isHostname,
  isWithinDomain,
  mtaStsPolicy,
  mtaStsPolicyId,
  mtaStsRecord,
  spfRecord,
  tlsRptRecord,
  txtContent,
  type DmarcArgs,
  type MtaStsMode,
  type SpfArgs,
} from "../lib/dns-text";

/** An inbound mail host: one MX record, plus DNS-only A/AAAA records when addresses are given. */
export interface MxHost {
  /** Fully qualified host name, e.g. "mail.viktorbarzin.me". */
  hostname: string;
  /** MX preference: lower is tried first. */
  priority: number;
  /** Published as an A record; only for hosts inside the zone. */
  ipv4?: string;
  /** Published as an AAAA record; only for hosts inside the zone. */
  ipv6?: string;
}

/** A DKIM key published as TXT at `<selector>._domainkey.<domain>`. */
export interface DkimKey {
  selector: string;
  /**
   * RSA public key (>= 1024 bits) as PEM, base64 DER SubjectPublicKeyInfo, or a DKIM record value
   * carrying it in `p=`. May be a secret Output: it is published in DNS, so the record is not.
   */
  publicKey: pulumi.Input<string>;
}

/** A DKIM selector delegated to a provider by CNAME (e.g. Brevo). */
export interface DkimCname {
  selector: string;
  /** Fully qualified target, e.g. "b1.viktorbarzin-me.dkim.brevo.com". */
  target: string;
}

export interface DnsRecordsArgs {
  /** Zone apex, e.g. "viktorbarzin.me"; the Cloudflare zone is looked up by this name. */
  domain: string;
  /** Inbound mail hosts; each becomes an MX record and an `mx:` line of the MTA-STS policy. */
  mxHosts: MxHost[];
  /** SPF at the apex. `+all`/`?all` are refused. */
  spf: SpfArgs;
  /** Self-published DKIM keys (Rspamd `mail`, legacy Mailgun `s1`). */
  dkimKeys: DkimKey[];
  /** Delegated DKIM selectors (Brevo `brevo1`/`brevo2`). */
  dkimCnames: DkimCname[];
  /** Brevo domain-verification code, without the `brevo-code:` prefix. May be a secret Output. */
  brevoVerificationCode: pulumi.Input<string>;
  /** DMARC at `_dmarc`; `rua` must be inside `domain` (see `dmarcRecord`). */
  dmarc: DmarcArgs;
  /** MTA-STS policy settings; the `mx:` lines come from `mxHosts`. */
  mtaSts: { mode: MtaStsMode; maxAgeSeconds: number };
  /** TLS-RPT report mailbox (plain address), e.g. "postmaster@viktorbarzin.me". */
  tlsRptRua: string;
  /** Import options for records that already exist in the zone at cutover (lib/adopt.ts). */
  adopt?: Adopt;
}

interface RecordSpec {
  key: string;
  type: "A" | "AAAA" | "CNAME" | "MX" | "TXT";
  name: string;
  content: pulumi.Input<string>;
  priority?: number;
}

const COMMENT = "Managed by the Pulumi mailserver stack (mailserver:dns:DnsRecords)";

/** Automatic TTL in Cloudflare. */
const TTL_AUTO = 1;

/**
 * The mail DNS records of one Cloudflare zone: MX and mail-host A/AAAA (always DNS-only), SPF,
 * DKIM (TXT and delegated CNAMEs), Brevo verification, DMARC, the `_mta-sts` TXT and TLS-RPT.
 *
 * It also owns the MTA-STS policy text (`mtaStsPolicy`), whose hash is the `_mta-sts` id; MtaStsSite
 * (components/mta-sts.ts) serves exactly that text at `mtaStsPolicyUrl`.
 */
export class DnsRecords extends pulumi.ComponentResource {
  public readonly zoneId: pulumi.Output<string>;
  /** Cloudflare account of the zone, for account-level resources such as Workers. */
  public readonly accountId: pulumi.Output<string>;
  /** Every record created, by key (e.g. "mx-mail.viktorbarzin.me", "spf", "dkim-mail"). */
  public readonly records: Readonly<Record<string, cloudflare.DnsRecord>>;
  /** FQDNs that carry a record, in creation order, without duplicates. */
  public readonly recordNames: string[];
  /** The MTA-STS policy file (CRLF line endings). */
  public readonly mtaStsPolicy: string;
  /** The policy's id as published in `_mta-sts`. */
  public readonly mtaStsPolicyId: string;
  public readonly mtaStsPolicyUrl: string;

  constructor(name: string, args: DnsRecordsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mailserver:dns:DnsRecords", name, {}, opts);
    const invalid = (message: string) => new Error(`DnsRecords "${name}": ${message}`);
    const { domain } = args;

    const specs = guard(invalid, () => {
      validate(args);
      return recordSpecs(args, invalid);
    });
    this.mtaStsPolicy = guard(invalid, () =>
      mtaStsPolicy({ ...args.mtaSts, mx: args.mxHosts.map((h) => h.hostname) }),
    );
    this.mtaStsPolicyId = mtaStsPolicyId(this.mtaStsPolicy);
    this.mtaStsPolicyUrl = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
    specs.push({
      key: "mta-sts",
      type: "TXT",
      name: `_mta-sts.${domain}`,
      content: txtContent(mtaStsRecord(this.mtaStsPolicyId)),
    });

    // The provider fills `zoneId` on filter lookups; its `id` is not guaranteed to be the zone id.
    const zone = cloudflare.getZoneOutput({ filter: { name: domain } }, { parent: this });
    this.zoneId = zone.zoneId;
    this.accountId = zone.account.id;

    const records: Record<string, cloudflare.DnsRecord> = {};
    for (const spec of specs) {
      records[spec.key] = new cloudflare.DnsRecord(
        `${name}-${spec.key}`,
        {
          zoneId: this.zoneId,
          name: spec.name,
          type: spec.type,
          content: spec.content,
          priority: spec.priority,
          // Cloudflare cannot proxy SMTP, and a proxied DKIM CNAME would hide its TXT target.
          proxied: spec.type === "MX" || spec.type === "TXT" ? undefined : false,
          ttl: TTL_AUTO,
          comment: COMMENT,
        },
        {
          parent: this,
          ...(args.adopt ?? adoptNothing)(
            "mailserver:dns:DnsRecords",
            TYPES.dnsRecord,
            `${name}-${spec.key}`,
          ),
        },
      );
    }
    this.records = records;
    this.recordNames = [...new Set(specs.map((s) => s.name))];

    this.registerOutputs({
      zoneId: this.zoneId,
      recordNames: this.recordNames,
      mtaStsPolicy: this.mtaStsPolicy,
      mtaStsPolicyId: this.mtaStsPolicyId,
      mtaStsPolicyUrl: this.mtaStsPolicyUrl,
    });
  }
}

/** Runs `build`, prefixing any error with the component's name. */
function guard<T>(invalid: (message: string) => Error, build: () => T): T {
  try {
    return build();
  } catch (e) {
    throw invalid(e instanceof Error ? e.message : String(e));
  }
}

/**
 * The component's guard on its own Args, for callers other than index.ts. Each rule is a predicate
 * or limit of lib/dns-text.ts, which the config schema applies to the stack's values first, so the
 * stack's config never gets this far with a value refused here (tests/program/dns-config.test.ts).
 */
function validate({ domain, mxHosts, dkimKeys, dkimCnames }: DnsRecordsArgs): void {
  if (!isHostname(domain)) {
    throw new Error(`domain "${domain}": expected a lower-case domain name such as example.com`);
  }
  if (mxHosts.length === 0) {
    throw new Error("mxHosts is empty: expected at least one inbound mail host");
  }
  mxHosts.forEach((host, i) => validateMxHost(host, `mxHosts[${i}]`, domain));
  if (new Set(mxHosts.map((h) => h.hostname)).size !== mxHosts.length) {
    throw new Error("mxHosts lists a hostname twice");
  }
  dkimCnames.forEach(({ target }, i) => {
    if (!isHostname(target)) {
      throw new Error(`dkimCnames[${i}].target "${target}": expected a fully qualified host name`);
    }
  });
  const selectors = [...dkimKeys, ...dkimCnames].map((d) => d.selector);
  for (const selector of selectors) {
    if (!DKIM_SELECTOR.test(selector)) {
      throw new Error(`DKIM selector "${selector}": expected lower-case DNS labels such as mail`);
    }
  }
  // A name cannot hold both a CNAME and a TXT, nor two keys for one selector.
  const duplicate = selectors.find((s, i) => selectors.indexOf(s) !== i);
  if (duplicate !== undefined) {
    throw new Error(`DKIM selector "${duplicate}" appears twice in dkimKeys/dkimCnames`);
  }
}

function validateMxHost(host: MxHost, field: string, domain: string): void {
  const { hostname, priority, ipv4, ipv6 } = host;
  if (!isHostname(hostname)) {
    throw new Error(
      `${field}.hostname "${hostname}": expected a fully qualified host name (no trailing dot)`,
    );
  }
  if (!Number.isInteger(priority) || priority < 0 || priority > 65535) {
    throw new Error(`${field}.priority ${priority}: expected an integer from 0 to 65535`);
  }
  if (ipv4 !== undefined && !isIPv4(ipv4)) {
    throw new Error(`${field}.ipv4 "${ipv4}": expected an IPv4 address`);
  }
  if (ipv6 !== undefined && !isIPv6(ipv6)) {
    throw new Error(`${field}.ipv6 "${ipv6}": expected an IPv6 address`);
  }
  if ((ipv4 ?? ipv6) !== undefined && !isWithinDomain(hostname, domain)) {
    throw new Error(`${field}.hostname "${hostname}" has addresses but is outside zone ${domain}`);
  }
}

function recordSpecs(args: DnsRecordsArgs, invalid: (message: string) => Error): RecordSpec[] {
  const { domain } = args;
  const specs: RecordSpec[] = [];
  for (const { hostname, priority, ipv4, ipv6 } of args.mxHosts) {
    specs.push({ key: `mx-${hostname}`, type: "MX", name: domain, content: hostname, priority });
    if (ipv4 !== undefined) {
      specs.push({ key: `a-${hostname}`, type: "A", name: hostname, content: ipv4 });
    }
    if (ipv6 !== undefined) {
      specs.push({ key: `aaaa-${hostname}`, type: "AAAA", name: hostname, content: ipv6 });
    }
  }
  specs.push({ key: "spf", type: "TXT", name: domain, content: txtContent(spfRecord(args.spf)) });
  args.dkimKeys.forEach(({ selector, publicKey }, i) => {
    const field = `dkimKeys[${i}].publicKey (selector ${selector})`;
    specs.push({
      key: `dkim-${selector}`,
      type: "TXT",
      name: `${selector}._domainkey.${domain}`,
      content: publicTxt(publicKey, dkimRecord, field, invalid),
    });
  });
  for (const { selector, target } of args.dkimCnames) {
    const name = `${selector}._domainkey.${domain}`;
    specs.push({ key: `dkim-${selector}`, type: "CNAME", name, content: target });
  }
  specs.push({
    key: "brevo-verification",
    type: "TXT",
    name: domain,
    content: publicTxt(
      args.brevoVerificationCode,
      brevoVerificationRecord,
      "brevoVerificationCode",
      invalid,
    ),
  });
  const dmarc = txtContent(dmarcRecord(domain, args.dmarc));
  specs.push({ key: "dmarc", type: "TXT", name: `_dmarc.${domain}`, content: dmarc });
  const tlsRpt = txtContent(tlsRptRecord(args.tlsRptRua));
  specs.push({ key: "tls-rpt", type: "TXT", name: `_smtp._tls.${domain}`, content: tlsRpt });
  return specs;
}

/**
 * TXT content built from a value that may arrive as a secret (read from Vault). The result is
 * published in public DNS, so it is unsecreted, but only after `build` has checked its shape: a
 * wrong field (a private key, an API key) fails here, and the error never echoes the value.
 */
function publicTxt(
  value: pulumi.Input<string>,
  build: (value: string) => string,
  field: string,
  invalid: (message: string) => Error,
): pulumi.Output<string> {
  const content = pulumi.output(value).apply((v) =>
    guard(
      (m) => invalid(`${field} ${m}`),
      () => txtContent(build(v)),
    ),
  );
  return pulumi.unsecret(content);
}
