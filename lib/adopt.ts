/**
 * Adoption of the objects the Terraform stacks made: which resources of this program hold state
 * and are imported (`import` resource option) instead of created, their URNs and the import IDs
 * they must carry. One plan serves the program (`index.ts`) and `npm run adopt` (tools/adopt.ts).
 *
 * Pulumi's `import` option fails when the program's inputs differ from the live object; during the
 * import, properties listed in `ignoreChanges` are copied from the live object into the program's
 * inputs first (pulumi/pulumi developer-docs/architecture/import.md, steps 1-4). So an adopted
 * resource is imported with the drift-prone properties ignored, and the next `pulumi up` without
 * `mailserver:adopt` converges them in place (docs/cutover.md).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import {
  dmarcRecord,
  mtaStsPolicy,
  mtaStsPolicyId,
  mtaStsRecord,
  spfRecord,
  tlsRptRecord,
  txtContent,
} from "./dns-text";

/** Logical names of the stateful components in `index.ts`; URNs are built from them. */
export const COMPONENTS = {
  mail: { name: "mailserver", type: "mailserver:mail:MailServer" },
  webmail: { name: "webmail", type: "mailserver:webmail:Webmail" },
  dns: { name: "dns", type: "mailserver:dns:DnsRecords" },
} as const;

export const TYPES = {
  namespace: "kubernetes:core/v1:Namespace",
  pvc: "kubernetes:core/v1:PersistentVolumeClaim",
  dnsRecord: "cloudflare:index/dnsRecord:DnsRecord",
} as const;

/**
 * Properties copied from the live object during the import (never sent to it): labels and
 * annotations other controllers stamp (Kyverno, Keel, pvc-autoresizer), and the DNS fields the
 * program sets differently on purpose (its comment, the new DMARC and MTA-STS values).
 */
export const IMPORT_IGNORE: Record<string, string[]> = {
  [TYPES.namespace]: ["metadata.labels", "metadata.annotations"],
  [TYPES.pvc]: ["metadata.labels", "metadata.annotations"],
  [TYPES.dnsRecord]: ["content", "comment", "ttl", "proxied", "tags"],
};

export type DnsRecordType = "A" | "AAAA" | "CNAME" | "MX" | "TXT";

/** A DNS record the program declares, as the adopt tool matches it against the zone. */
export interface PlannedRecord {
  key: string;
  type: DnsRecordType;
  /** Fully qualified, lower case, no trailing dot. */
  name: string;
  /** The value (TXT unquoted); undefined when it comes from Vault at run time. */
  value?: string;
  /**
   * For TXT: the tag that says what the record is (`v=spf1`, `v=DMARC1`, `brevo-code:` ...).
   * None for DKIM: `v=DKIM1` is optional (RFC 6376 §3.6.1) and a selector's name holds one key.
   */
  tag?: string;
  priority?: number;
}

export interface AdoptTarget {
  urn: string;
  type: string;
  /** Import ID: `<ns>/<name>` or `<name>` for Kubernetes; the zone decides it for DNS records. */
  importId?: string;
  record?: PlannedRecord;
}

/** The URN the engine gives a child of a top-level component (the stack is not in the chain). */
export function childUrn(
  stack: string,
  project: string,
  parentType: string,
  type: string,
  name: string,
): string {
  return `urn:pulumi:${stack}::${project}::${parentType}$${type}::${name}`;
}

/** The mail records of `components/dns-records.ts#DnsRecords`, keyed as that component keys them. */
export function plannedRecords(config: StackConfig): PlannedRecord[] {
  const { domain, dns, mailserver } = config;
  const host = mailserver.hostname;
  const txt = (key: string, name: string, value: string | undefined, tag?: string) =>
    ({ key, type: "TXT", name, value, tag }) as const;
  const policy = mtaStsPolicy({ ...dns.mtaSts, mx: [host] });
  return [
    { key: `mx-${host}`, type: "MX", name: domain, value: host, priority: dns.mxPriority },
    { key: `a-${host}`, type: "A", name: host, value: dns.publicIpv4 },
    { key: `aaaa-${host}`, type: "AAAA", name: host, value: dns.publicIpv6 },
    txt("spf", domain, spfRecord(dns.spf), "v=spf1"),
    txt(`dkim-${mailserver.dkimSelector}`, dkimName(mailserver.dkimSelector, domain), undefined),
    txt(`dkim-${dns.legacyDkimSelector}`, dkimName(dns.legacyDkimSelector, domain), undefined),
    ...dns.brevoDkim.map((d): PlannedRecord => ({
      key: `dkim-${d.selector}`,
      type: "CNAME",
      name: dkimName(d.selector, domain),
      value: d.target,
    })),
    txt("brevo-verification", domain, undefined, "brevo-code:"),
    txt("dmarc", `_dmarc.${domain}`, dmarcRecord(domain, dns.dmarc), "v=DMARC1"),
    txt("tls-rpt", `_smtp._tls.${domain}`, tlsRptRecord(dns.tlsRptRua), "v=TLSRPTv1"),
    txt("mta-sts", `_mta-sts.${domain}`, mtaStsRecord(mtaStsPolicyId(policy)), "v=STSv1"),
  ];
}

function dkimName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** Every resource the program adopts when an ID is given for it. */
export function adoptTargets(config: StackConfig, stack: string, project: string): AdoptTarget[] {
  const urn = (c: { type: string }, type: string, name: string) =>
    childUrn(stack, project, c.type, type, name);
  const ns = config.namespace;
  const pvc = (c: { type: string }, logical: string, claim: string): AdoptTarget => ({
    urn: urn(c, TYPES.pvc, logical),
    type: TYPES.pvc,
    importId: `${ns}/${claim}`,
  });
  return [
    {
      urn: urn(COMPONENTS.mail, TYPES.namespace, `${COMPONENTS.mail.name}-namespace`),
      type: TYPES.namespace,
      importId: ns,
    },
    pvc(COMPONENTS.mail, `${COMPONENTS.mail.name}-data`, config.mailserver.storage.name),
    pvc(COMPONENTS.webmail, `${COMPONENTS.webmail.name}-html`, config.webmail.htmlStorage.name),
    pvc(COMPONENTS.webmail, `${COMPONENTS.webmail.name}-enigma`, config.webmail.enigmaStorage.name),
    ...plannedRecords(config).map((record) => ({
      urn: urn(COMPONENTS.dns, TYPES.dnsRecord, `${COMPONENTS.dns.name}-${record.key}`),
      type: TYPES.dnsRecord,
      record,
    })),
  ];
}

/** Problems of a `mailserver:adopt` map, one line each, in the config error format. */
export function checkAdoptMap(
  adopt: Record<string, string>,
  targets: AdoptTarget[],
  key: (urn: string) => string,
): string[] {
  const byUrn = new Map(targets.map((t) => [t.urn, t]));
  const problems: string[] = [];
  for (const [urn, id] of Object.entries(adopt)) {
    const target = byUrn.get(urn);
    if (!target) {
      problems.push(
        `${key(urn)} = ${JSON.stringify(id)}: not a resource this program adopts (namespace, the three PVCs, the mail DNS records); regenerate the map with npm run adopt`,
      );
    } else if (target.importId !== undefined && id !== target.importId) {
      problems.push(
        `${key(urn)} = ${JSON.stringify(id)}: expected ${JSON.stringify(target.importId)}, the object this program declares`,
      );
    } else if (target.type === TYPES.dnsRecord && !/^[0-9a-f]{32}\/[0-9a-f]{32}$/.test(id)) {
      problems.push(
        `${key(urn)} = ${JSON.stringify(id)}: expected <zoneId>/<recordId> (32 hex digits each)`,
      );
    }
  }
  return problems;
}

/** Resource options of one child: `import` plus the import-time ignores, or nothing. */
export type Adopt = (
  parentType: string,
  type: string,
  name: string,
) => Pick<pulumi.CustomResourceOptions, "import" | "ignoreChanges">;

export function adopter(adopt: Record<string, string>, stack: string, project: string): Adopt {
  return (parentType, type, name) => {
    const id = adopt[childUrn(stack, project, parentType, type, name)];
    return id === undefined ? {} : { import: id, ignoreChanges: IMPORT_IGNORE[type] ?? [] };
  };
}

/** Nothing adopted: for components built outside the program (tests, other stacks). */
export const adoptNothing: Adopt = () => ({});

/** A TXT value as Cloudflare may hold it (`"a" "b"` or bare) made one plain string. */
export function unquoteTxt(content: string): string {
  const strings = content.match(/"((?:[^"\\]|\\.)*)"/g);
  if (!strings || !content.trim().startsWith('"')) return content.trim();
  return strings.map((s) => s.slice(1, -1).replace(/\\(.)/g, "$1")).join("");
}

/** The form the program sends to Cloudflare for a value, for exact comparison. */
export function plannedContent(record: PlannedRecord): string | undefined {
  if (record.value === undefined) return undefined;
  return record.type === "TXT" ? txtContent(record.value) : record.value;
}
