/**
 * The one list of mail DNS records this stack publishes in its zone, with the MTA-STS policy whose
 * hash is the `_mta-sts` id. `components/dns-records.ts#DnsRecords` creates exactly these records;
 * `npm run adopt` (tools/cli/adopt.ts) matches exactly these against the live zone.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { StackConfig } from "./config";
import {
  brevoVerificationRecord,
  DKIM_SELECTOR,
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
} from "./dns-text";

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

/** A DKIM selector delegated to a provider by CNAME (e.g. Brevo). */
export interface DkimCname {
  selector: string;
  /** Fully qualified target, e.g. "b1.viktorbarzin-me.dkim.brevo.com". */
  target: string;
}

export interface MailDnsPlanArgs {
  /** Zone apex, e.g. "viktorbarzin.me". */
  domain: string;
  /** Inbound mail hosts this stack publishes; each becomes an MX and an `mx:` policy line. */
  mxHosts: MxHost[];
  /**
   * MX hosts another stack publishes in the same zone (the backup MX): senders may use them, so
   * the MTA-STS policy lists them, but this stack creates no record for them.
   */
  otherMxHosts: string[];
  spf: SpfArgs;
  /** Selectors of the self-published DKIM keys; their values are known only at run time. */
  dkimSelectors: string[];
  dkimCnames: DkimCname[];
  /** Brevo's domain-verification code, without the `brevo-code:` prefix. */
  brevoVerificationCode: string;
  dmarc: DmarcArgs;
  mtaSts: { mode: MtaStsMode; maxAgeSeconds: number };
  /** TLS-RPT report mailbox (plain address). */
  tlsRptRua: string;
}

export type DnsRecordType = "A" | "AAAA" | "CNAME" | "MX" | "TXT";

/** One record of the plan, as it is created and as the adopt tool finds it in the zone. */
export interface PlannedRecord {
  /** Stable key; the record's resource is named `<component>-<key>`. */
  key: string;
  type: DnsRecordType;
  /** Fully qualified, lower case, no trailing dot. */
  name: string;
  /** The value (TXT unquoted); undefined for a DKIM key, known only at run time. */
  value?: string;
  /**
   * For TXT: the tag that says what the record is (`v=spf1`, `v=DMARC1`, `brevo-code:` ...).
   * None for DKIM: `v=DKIM1` is optional (RFC 6376 §3.6.1) and a selector's name holds one key.
   */
  tag?: string;
  priority?: number;
}

export interface MailDnsPlan {
  records: PlannedRecord[];
  /** The MTA-STS policy file (CRLF line endings). */
  mtaStsPolicy: string;
  /** The policy's id as published in `_mta-sts`. */
  mtaStsPolicyId: string;
}

/** The plan; throws one message naming every problem of the arguments. */
export function planMailDns(args: MailDnsPlanArgs): MailDnsPlan {
  const problems = planProblems(args);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const { domain } = args;
  const txt = (key: string, name: string, value: string | undefined, tag?: string) =>
    ({ key, type: "TXT", name, value, tag }) as const;
  const policy = mtaStsPolicy({
    ...args.mtaSts,
    mx: [...args.mxHosts.map((h) => h.hostname), ...args.otherMxHosts],
  });
  const policyId = mtaStsPolicyId(policy);
  const records: PlannedRecord[] = [
    ...args.mxHosts.flatMap(hostRecords(domain)),
    txt("spf", domain, spfRecord(args.spf), "v=spf1"),
    ...args.dkimSelectors.map((s) => txt(`dkim-${s}`, dkimName(s, domain), undefined)),
    ...args.dkimCnames.map((d): PlannedRecord => ({
      key: `dkim-${d.selector}`,
      type: "CNAME",
      name: dkimName(d.selector, domain),
      value: d.target,
    })),
    txt(
      "brevo-verification",
      domain,
      brevoVerificationRecord(args.brevoVerificationCode),
      "brevo-code:",
    ),
    txt("dmarc", `_dmarc.${domain}`, dmarcRecord(domain, args.dmarc), "v=DMARC1"),
    txt("tls-rpt", `_smtp._tls.${domain}`, tlsRptRecord(args.tlsRptRua), "v=TLSRPTv1"),
    txt("mta-sts", `_mta-sts.${domain}`, mtaStsRecord(policyId), "v=STSv1"),
  ];
  return { records, mtaStsPolicy: policy, mtaStsPolicyId: policyId };
}

/** The plan's arguments from the stack config: the one mail host and the other stacks' MX. */
export function mailDnsPlanArgs(config: StackConfig): MailDnsPlanArgs {
  const { dns, mailserver } = config;
  return {
    domain: config.domain,
    mxHosts: [
      {
        hostname: mailserver.hostname,
        priority: dns.mxPriority,
        ipv4: dns.publicIpv4,
        ipv6: dns.publicIpv6,
      },
    ],
    otherMxHosts: dns.otherMxHosts.map((h) => h.hostname),
    spf: dns.spf,
    dkimSelectors: [mailserver.dkimSelector, dns.legacyDkimSelector],
    dkimCnames: dns.brevoDkim,
    brevoVerificationCode: dns.brevoVerificationCode,
    dmarc: dns.dmarc,
    mtaSts: dns.mtaSts,
    tlsRptRua: dns.tlsRptRua,
  };
}

/** The form sent to Cloudflare for a planned value, for exact comparison. */
export function plannedContent(record: PlannedRecord): string | undefined {
  if (record.value === undefined) return undefined;
  return record.type === "TXT" ? txtContent(record.value) : record.value;
}

function hostRecords(domain: string) {
  return ({ hostname, priority, ipv4, ipv6 }: MxHost): PlannedRecord[] => [
    { key: `mx-${hostname}`, type: "MX", name: domain, value: hostname, priority },
    ...(ipv4 === undefined
      ? []
      : [{ key: `a-${hostname}`, type: "A", name: hostname, value: ipv4 } as const]),
    ...(ipv6 === undefined
      ? []
      : [{ key: `aaaa-${hostname}`, type: "AAAA", name: hostname, value: ipv6 } as const]),
  ];
}

function dkimName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/**
 * The plan's own rules. Each is a predicate or limit of lib/dns-text.ts, which the config schema
 * applies to the stack's values first, so the stack's config never gets this far with a value
 * refused here (tests/program/dns-config.test.ts).
 */
function planProblems(args: MailDnsPlanArgs): string[] {
  const { domain, mxHosts, otherMxHosts, dkimCnames } = args;
  if (!isHostname(domain)) {
    return [`domain "${domain}": expected a lower-case domain name such as example.com`];
  }
  const problems: string[] = [];
  if (mxHosts.length === 0) problems.push("mxHosts is empty: expected at least one mail host");
  mxHosts.forEach((host, i) => problems.push(...mxHostProblems(host, `mxHosts[${i}]`, domain)));
  otherMxHosts.forEach((host, i) => {
    if (!isHostname(host)) {
      problems.push(`otherMxHosts[${i}] "${host}": expected a fully qualified host name`);
    }
  });
  const hosts = [...mxHosts.map((h) => h.hostname), ...otherMxHosts];
  const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
  if (twice !== undefined) problems.push(`MX host "${twice}" is listed twice`);
  dkimCnames.forEach(({ target }, i) => {
    if (!isHostname(target)) {
      problems.push(`dkimCnames[${i}].target "${target}": expected a fully qualified host name`);
    }
  });
  const selectors = [...args.dkimSelectors, ...dkimCnames.map((d) => d.selector)];
  for (const selector of selectors.filter((s) => !DKIM_SELECTOR.test(s))) {
    problems.push(`DKIM selector "${selector}": expected lower-case DNS labels such as mail`);
  }
  // A name cannot hold both a CNAME and a TXT, nor two keys for one selector.
  const duplicate = selectors.find((s, i) => selectors.indexOf(s) !== i);
  if (duplicate !== undefined) {
    problems.push(`DKIM selector "${duplicate}" appears twice among the keys and CNAMEs`);
  }
  return problems;
}

function mxHostProblems(host: MxHost, field: string, domain: string): string[] {
  const { hostname, priority, ipv4, ipv6 } = host;
  const problems: string[] = [];
  if (!isHostname(hostname)) {
    problems.push(
      `${field}.hostname "${hostname}": expected a fully qualified host name (no trailing dot)`,
    );
  }
  if (!Number.isInteger(priority) || priority < 0 || priority > 65535) {
    problems.push(`${field}.priority ${priority}: expected an integer from 0 to 65535`);
  }
  if (ipv4 !== undefined && !isIPv4(ipv4)) {
    problems.push(`${field}.ipv4 "${ipv4}": expected an IPv4 address`);
  }
  if (ipv6 !== undefined && !isIPv6(ipv6)) {
    problems.push(`${field}.ipv6 "${ipv6}": expected an IPv6 address`);
  }
  if ((ipv4 ?? ipv6) !== undefined && !isWithinDomain(hostname, domain)) {
    problems.push(`${field}.hostname "${hostname}" has addresses but is outside zone ${domain}`);
  }
  return problems;
}
