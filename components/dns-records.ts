import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { adoptNothing, TYPES, type Adopt } from "../lib/adopt";
import {
  planMailDns,
  plannedContent,
  type MailDnsPlanArgs,
  type PlannedRecord,
} from "../lib/dns-plan";
import { dkimRecord, txtContent } from "../lib/dns-text";
import { COMPONENT_TYPE } from "../lib/component-types";

export type { DkimCname, MxHost } from "../lib/dns-plan";

/** A DKIM key published as TXT at `<selector>._domainkey.<domain>`. */
export interface DkimKey {
  selector: string;
  /**
   * RSA public key (>= 1024 bits) as PEM, base64 DER SubjectPublicKeyInfo, or a DKIM record value
   * carrying it in `p=`. May be a secret Output: it is published in DNS, so the record is not.
   */
  publicKey: pulumi.Input<string>;
}

export interface DnsRecordsArgs extends Omit<MailDnsPlanArgs, "dkimSelectors"> {
  /** Self-published DKIM keys (Rspamd `mail`, legacy Mailgun `s1`). */
  dkimKeys: DkimKey[];
  /**
   * What serves the MTA-STS policy (MtaStsSite): the `_mta-sts` TXT waits for it, so no sender
   * reads a new id while the old policy is still served.
   */
  mtaStsServedBy?: pulumi.Input<pulumi.Resource>[];
  /** Import options for records that already exist in the zone at cutover (lib/adopt.ts). */
  adopt?: Adopt;
}

const COMMENT = "Managed by the Pulumi mailserver stack (mailserver:dns:DnsRecords)";

/** Automatic TTL in Cloudflare. */
const TTL_AUTO = 1;

/**
 * The mail DNS records of one Cloudflare zone, exactly `lib/dns-plan.ts#planMailDns`: MX and
 * mail-host A/AAAA (always DNS-only), SPF, DKIM (TXT and delegated CNAMEs), Brevo verification,
 * DMARC, the `_mta-sts` TXT and TLS-RPT.
 *
 * At preview it reads the zone's MX records: an MX the MTA-STS policy does not list (another
 * stack's backup MX) would be refused by every sender that honours `mode: enforce`, so the
 * `_mta-sts` record is refused instead, naming the host and the config key that lists it.
 */
export class DnsRecords extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.dns;
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

  constructor(name: string, args: DnsRecordsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DnsRecords.TYPE, name, {}, opts);
    const invalid = (message: string) => new Error(`DnsRecords "${name}": ${message}`);
    const plan = guard(invalid, () =>
      planMailDns({ ...args, dkimSelectors: args.dkimKeys.map((k) => k.selector) }),
    );
    this.mtaStsPolicy = plan.mtaStsPolicy;
    this.mtaStsPolicyId = plan.mtaStsPolicyId;

    // The provider fills `zoneId` on filter lookups; its `id` is not guaranteed to be the zone id.
    const zone = cloudflare.getZoneOutput({ filter: { name: args.domain } }, { parent: this });
    this.zoneId = zone.zoneId;
    this.accountId = zone.account.id;
    const policyHosts = [...args.mxHosts.map((h) => h.hostname), ...args.otherMxHosts];
    const unlisted = unlistedMx(this.zoneId, args.domain, policyHosts, this);

    const records: Record<string, cloudflare.DnsRecord> = {};
    for (const record of plan.records) {
      let content = recordContent(record, args, invalid);
      if (record.key === "mta-sts") content = refuseUnlisted(content, unlisted, invalid);
      records[record.key] = new cloudflare.DnsRecord(
        `${name}-${record.key}`,
        {
          zoneId: this.zoneId,
          name: record.name,
          type: record.type,
          content,
          priority: record.priority,
          // Cloudflare cannot proxy SMTP, and a proxied DKIM CNAME would hide its TXT target.
          proxied: record.type === "MX" || record.type === "TXT" ? undefined : false,
          ttl: TTL_AUTO,
          comment: COMMENT,
        },
        {
          parent: this,
          ...(record.key === "mta-sts" && args.mtaStsServedBy
            ? { dependsOn: args.mtaStsServedBy }
            : {}),
          ...(args.adopt ?? adoptNothing)(
            DnsRecords.TYPE,
            TYPES.dnsRecord,
            `${name}-${record.key}`,
          ),
        },
      );
    }
    this.records = records;
    this.recordNames = [...new Set(plan.records.map((r) => r.name))];

    this.registerOutputs({
      zoneId: this.zoneId,
      recordNames: this.recordNames,
      mtaStsPolicy: this.mtaStsPolicy,
      mtaStsPolicyId: this.mtaStsPolicyId,
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

/** A planned value as Cloudflare content; a DKIM key's value comes from its (secret) Input. */
function recordContent(
  record: PlannedRecord,
  args: DnsRecordsArgs,
  invalid: (message: string) => Error,
): pulumi.Input<string> {
  const planned = plannedContent(record);
  if (planned !== undefined) return planned;
  const index = args.dkimKeys.findIndex((k) => `dkim-${k.selector}` === record.key);
  const key = args.dkimKeys[index];
  return publicTxt(
    key.publicKey,
    dkimRecord,
    `dkimKeys[${index}].publicKey (selector ${key.selector})`,
    invalid,
  );
}

/** The zone's apex MX targets that `policyHosts` lacks, as read at preview. */
function unlistedMx(
  zoneId: pulumi.Output<string>,
  domain: string,
  policyHosts: string[],
  parent: pulumi.Resource,
): pulumi.Output<string[]> {
  const live = cloudflare.getDnsRecordsOutput(
    { zoneId, type: "MX", name: { exact: domain } },
    { parent },
  );
  return live.results.apply((results) =>
    results
      .filter((r) => !policyHosts.includes(r.content.toLowerCase().replace(/\.$/, "")))
      .map((r) => `MX ${r.priority} ${r.content}`),
  );
}

function refuseUnlisted(
  content: pulumi.Input<string>,
  unlisted: pulumi.Output<string[]>,
  invalid: (message: string) => Error,
): pulumi.Output<string> {
  return pulumi.all([content, unlisted]).apply(([value, hosts]) => {
    if (hosts.length > 0) {
      throw invalid(
        `the zone publishes ${hosts.join(", ")}, which another stack owns and the MTA-STS policy ` +
          `does not list: senders honouring mode enforce would refuse it; add the host to ` +
          `mailserver:dns.otherMxHosts (or have its owner delete the record)`,
      );
    }
    return value;
  });
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
