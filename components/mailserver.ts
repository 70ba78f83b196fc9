/**
 * docker-mailserver 15.0.0: namespace, environment, config files, the Deployment (Dovecot serves
 * its own metrics, no sidecar), the protected data volume, the LoadBalancer Service on the
 * dedicated IP and the NodePort Service of pfSense HAProxy's PROXY-v2 path.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptNothing, TYPES, withSizeIgnored, type Adopt } from "../lib/adopt";
import {
  DOVECOT_METRICS_PORT,
  DOVECOT_METRICS_PORT_NAME,
  dovecotMetricsCf,
  dovecotStatsUserPatch,
} from "../lib/dovecot-metrics";
import { mailboxesOf, withExtraAliases, type ExtraAlias } from "../lib/accounts";
import { sha256Hex } from "../lib/hash";
import type { SecretRef } from "../lib/cluster-inventory";
import type { MailSecrets } from "../lib/secrets";
import { COMPONENT_TYPE } from "../lib/component-types";

/** What the mail server runs as: image, names, relay, limits and storage. */
export interface MailServerSettings {
  /** docker-mailserver image, pinned to a tag or digest. */
  image: string;
  /** Public host name: OVERRIDE_HOSTNAME, the MX target and the certificate's name. */
  hostname: string;
  /** MetalLB address of the LoadBalancer Service. */
  loadBalancerIp: string;
  /** Outbound relay (Brevo), reached on submission with SASL. */
  relay: { host: string; port: number };
  /** Rspamd's DKIM signing selector (one DNS label). */
  dkimSelector: string;
  /** The data volume: claim name, storage class, initial size and pvc-autoresizer's limit. */
  storage: { name: string; storageClass: string; size: string; maxSize: string };
  /** Postfix anvil limits per client IP. */
  rateLimits: {
    clientConnectionRateLimit: number;
    clientMessageRateLimit: number;
    /** Postfix time, e.g. 60s. */
    anvilRateTimeUnit: string;
  };
  /** CIDRs exempt from the rate limits. */
  trustedNetworks: string[];
  resources: k8s.types.input.core.v1.ResourceRequirements;
  /** pfSense HAProxy's PROXY-v2 path: who may send PROXY headers, and the NodePorts. */
  proxy?: ProxySettings;
  /** The backup MX (ADR-0019): the address its drain connects from. */
  backupMx?: { drainSource: string };
  /** Aliases kept in the repository, appended after Vault's. */
  extraAliases?: ExtraAlias[];
  /** Per-mailbox Sieve allowlists: mail from any other sender is discarded at delivery. */
  senderAllowlists?: SenderAllowlist[];
}

export interface ProxySettings {
  /** Source networks Dovecot accepts a PROXY header from (post-SNAT: the nodes). */
  trustedNetworks: string[];
  nodePorts: Record<ProxyPortKey, number>;
}

export interface SenderAllowlist {
  mailbox: string;
  senders: string[];
  why: string;
}

export interface MailServerArgs {
  namespace: string;
  domain: string;
  settings: MailServerSettings;
  secrets: Pick<
    MailSecrets,
    "postfixAccounts" | "postfixVirtual" | "relaySaslPassword" | "dkimPrivateKey"
  >;
  /**
   * The cluster's `kubernetes.io/tls` Secret in the mail namespace (Kyverno-synced `tls-secret`):
   * mounted by name, never created here.
   */
  tlsSecretName: string;
  /** Annotations of the pod template, e.g. the prometheus.io scrape annotations. */
  podAnnotations?: Record<string, string>;
  /** Import options for the namespace and the data volume at cutover (lib/adopt.ts). */
  adopt?: Adopt;
}

/** Labels of the mail pod; the Service, the PodMonitor and the CrowdSec acquisition rely on them. */
export const MAIL_POD_LABELS = { app: "mailserver" } as const;
export const MAIL_DEPLOYMENT = "mailserver";
export const MAIL_CONTAINER = "docker-mailserver";
export const MAIL_PORTS = [
  { name: "smtp", port: 25 },
  { name: "submissions", port: 465 },
  { name: "submission", port: 587 },
  { name: "imaps", port: 993 },
] as const;

/**
 * The PROXY-v2 path, as live (infra code-yiu): pfSense HAProxy connects to a node port with a
 * PROXY v2 header (`send-proxy-v2`, also the IPv6 bridge), kube-proxy forwards to these
 * container ports with ETP Cluster, and the daemons take the client address from the header.
 * The stock ports above stay PROXY-free for in-cluster clients (Roundcube, the probe).
 * `servicePort` and `containerPort` are the live Service's port and targetPort.
 */
export const PROXY_PORTS = [
  { key: "smtp", name: "smtp-proxy", servicePort: 25, containerPort: 2525 },
  { key: "submissions", name: "smtps-proxy", servicePort: 465, containerPort: 4465 },
  { key: "submission", name: "sub-proxy", servicePort: 587, containerPort: 5587 },
  { key: "imaps", name: "imaps-proxy", servicePort: 993, containerPort: 10993 },
] as const;
/**
 * HAProxy's health checks (`option smtpchk`) go to the stock ports without PROXY: a check's
 * PROXY LOCAL frame has no addresses, which Postfix's smtpd treats as fatal.
 */
export const PROXY_CHECK_PORTS = [
  { key: "smtpCheck", name: "smtp-check", servicePort: 2500, containerPort: 25 },
  { key: "submissionsCheck", name: "smtps-check", servicePort: 4650, containerPort: 465 },
  { key: "submissionCheck", name: "sub-check", servicePort: 5870, containerPort: 587 },
] as const;
export type ProxyPortKey =
  (typeof PROXY_PORTS)[number]["key"] | (typeof PROXY_CHECK_PORTS)[number]["key"];
/** The NodePort Service pfSense HAProxy's backends point at (the live name, imported at cutover). */
export const PROXY_SERVICE = "mailserver-proxy";
/** Dovecot's PROXY-speaking IMAPS listener (a listener name, not a port name). */
export const DOVECOT_PROXY_LISTENER = "imaps_proxy";
/** How long Postfix waits for the PROXY header before it drops the connection. */
const PROXY_TIMEOUT = "5s";

const CONFIG_DIR = "/tmp/docker-mailserver";
const TLS_DIR = "/etc/ssl/mailserver";

export function dkimKeyPath(selector: string, domain: string): string {
  return `${CONFIG_DIR}/rspamd/dkim/rsa-2048-${selector}-${domain}.private.txt`;
}

/**
 * The container environment: only variables docker-mailserver 15.0.0 reads. Fail2ban stays off
 * because CrowdSec owns the ban policy (docs/architecture/mailserver.md); Rspamd replaces
 * OpenDKIM, OpenDMARC, policyd-spf, Amavis and SpamAssassin.
 */
export function mailserverEnv(
  config: Pick<MailServerSettings, "hostname" | "relay">,
  domain: string,
): Record<string, string> {
  return {
    OVERRIDE_HOSTNAME: config.hostname,
    POSTMASTER_ADDRESS: `postmaster@${domain}`,
    LOG_LEVEL: "info",
    ENABLE_FAIL2BAN: "0",
    ENABLE_RSPAMD: "1",
    RSPAMD_LEARN: "1",
    ENABLE_OPENDKIM: "0",
    ENABLE_OPENDMARC: "0",
    ENABLE_POLICYD_SPF: "0",
    ENABLE_AMAVIS: "0",
    ENABLE_SPAMASSASSIN: "0",
    ENABLE_CLAMAV: "0",
    ENABLE_POSTGREY: "0",
    ENABLE_FETCHMAIL: "0",
    ENABLE_SASLAUTHD: "0",
    // Off, as the owner decided on 2026-07-08 (infra stacks/mailserver/modules/mailserver/
    // main.tf:84-96): postsrsd 1.10 spins at 100% CPU without binding tcp:10001/10002 on a fresh
    // start (it closes every fd up to RLIMIT_NOFILE, unlimited under containerd;
    // docker-mailserver#2722), and sender_canonical_maps = tcp:localhost:10001 then answers 451
    // to all mail after every pod restart. The cost: no SRS rewrite for the few forwarding aliases.
    ENABLE_SRS: "0",
    SPOOF_PROTECTION: "1",
    POSTFIX_REJECT_UNKNOWN_CLIENT_HOSTNAME: "1",
    POSTFIX_MESSAGE_SIZE_LIMIT: String(200 * 1024 * 1024),
    DEFAULT_RELAY_HOST: `[${config.relay.host}]:${config.relay.port}`,
    SSL_TYPE: "manual",
    SSL_CERT_PATH: `${TLS_DIR}/tls.crt`,
    SSL_KEY_PATH: `${TLS_DIR}/tls.key`,
  };
}

/** The Postfix access map that lets the backup MX's drain past the PTR check. */
export const BACKUP_MX_PERMIT = "backup-mx-permit.cidr";

/**
 * `backup-mx-permit.cidr`: the drain source answers OK in the client/helo/sender phase. Postfix
 * reads a cidr table as text (no postmap). Relay control (smtpd_relay_restrictions) still
 * applies, so the address gains no relay right (it is not in mynetworks).
 */
export function backupMxPermitCidr(drainSource: string): string {
  return `${drainSource} OK\n`;
}

/**
 * `postfix-main.cf`: the spec's per-client rate limits (real client IPs thanks to ETP Local and
 * PROXY v2). With a backup MX its drain source is permitted before DMS's sender restrictions
 * (`reject_unknown_client_hostname` would defer its PTR-less tunnel address forever) and exempt
 * from the rate limits (a post-outage backlog would drain at 30 messages a minute), as live.
 */
export function postfixMainCf(
  config: Pick<MailServerSettings, "rateLimits" | "trustedNetworks" | "backupMx">,
): string {
  const r = config.rateLimits;
  const lines = [
    `smtpd_client_connection_rate_limit = ${r.clientConnectionRateLimit}`,
    `smtpd_client_message_rate_limit = ${r.clientMessageRateLimit}`,
    `anvil_rate_time_unit = ${r.anvilRateTimeUnit}`,
  ];
  const drain = config.backupMx?.drainSource;
  if (drain !== undefined) {
    // DMS's own list stays, by reference: the live literal copied it and had to be kept in sync.
    lines.push(
      `smtpd_sender_restrictions = check_client_access cidr:${CONFIG_DIR}/${BACKUP_MX_PERMIT}, $dms_smtpd_sender_restrictions`,
    );
  }
  const exempt = [...config.trustedNetworks, ...(drain !== undefined ? [drain] : [])];
  if (exempt.length > 0) {
    // $mynetworks is Postfix's default for this parameter: kept when extending it.
    lines.push(`smtpd_client_event_limit_exceptions = $mynetworks ${exempt.join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * `dovecot.cf` (Dovecot's local.conf, read after conf.d): Dovecot's own OpenMetrics listener and
 * the metrics it counts (lib/dovecot-metrics.ts). Roundcube connects from one pod IP, so it needs
 * more than the default 10 connections per user and IP. Each failed login waits 5 s before its
 * answer (CrowdSec bans by network; this slows a dictionary attack within one connection). With
 * the PROXY path, an IMAPS listener that requires the PROXY v2 header, from the trusted networks
 * only.
 */
export function dovecotCf(proxy?: Pick<ProxySettings, "trustedNetworks">): string {
  const lines = [
    ...dovecotMetricsCf(),
    "mail_max_userip_connections = 50",
    "auth_failure_delay = 5s",
  ];
  if (proxy) {
    const port = PROXY_PORTS.find((p) => p.key === "imaps")?.containerPort;
    lines.push(
      `haproxy_trusted_networks = ${proxy.trustedNetworks.join(" ")}`,
      "service imap-login {",
      `  inet_listener ${DOVECOT_PROXY_LISTENER} {`,
      `    port = ${port}`,
      "    ssl = yes",
      "    haproxy = yes",
      "  }",
      "}",
    );
  }
  return [...lines, ""].join("\n");
}

/** One Postfix service of the PROXY path: its master.cf entry and `-o` overrides. */
export interface PostfixProxyService {
  port: number;
  /** The master.cf entry after the service name and type. */
  entry: string;
  options: [string, string][];
}

/** docker-mailserver's submission(s) overrides (its master.cf), SASL through Dovecot. */
const SUBMISSION_OPTIONS: [string, string][] = [
  ["smtpd_sasl_auth_enable", "yes"],
  ["smtpd_sasl_type", "dovecot"],
  ["smtpd_tls_auth_only", "yes"],
  ["smtpd_reject_unlisted_recipient", "no"],
  ["smtpd_sasl_authenticated_header", "yes"],
  ["smtpd_client_restrictions", "permit_sasl_authenticated,reject"],
  ["smtpd_relay_restrictions", "permit_sasl_authenticated,reject"],
  ["smtpd_sender_restrictions", "$mua_sender_restrictions"],
  ["smtpd_discard_ehlo_keywords", ""],
  ["milter_macro_daemon_name", "ORIGINATING"],
  ["cleanup_service_name", "sender-cleanup"],
];

const proxyPort = (key: (typeof PROXY_PORTS)[number]["key"]): number =>
  PROXY_PORTS.find((p) => p.key === key)?.containerPort ?? 0;

/**
 * The Postfix listeners of the PROXY path, as live: postscreen for MX traffic (it passes clean
 * clients to DMS's `smtpd pass` service), SMTPS and submission with SASL; each reads the PROXY
 * v2 header first and logs under its own syslog_name.
 */
export function postfixProxyServices(): PostfixProxyService[] {
  const smtpd = (wrap: [string, string]): [string, string][] => [
    wrap,
    ...SUBMISSION_OPTIONS,
    ["smtpd_upstream_proxy_protocol", "haproxy"],
    ["smtpd_upstream_proxy_timeout", PROXY_TIMEOUT],
  ];
  return [
    {
      port: proxyPort("smtp"),
      entry: "inet n - n - 1 postscreen",
      options: [
        ["syslog_name", "postfix/smtpd-proxy25"],
        ["postscreen_upstream_proxy_protocol", "haproxy"],
        ["postscreen_upstream_proxy_timeout", PROXY_TIMEOUT],
      ],
    },
    {
      port: proxyPort("submissions"),
      entry: "inet n - n - - smtpd",
      options: [
        ["syslog_name", "postfix/smtpd-proxy465"],
        ...smtpd(["smtpd_tls_wrappermode", "yes"]),
      ],
    },
    {
      port: proxyPort("submission"),
      entry: "inet n - n - - smtpd",
      options: [
        ["syslog_name", "postfix/smtpd-proxy587"],
        ...smtpd(["smtpd_tls_security_level", "encrypt"]),
      ],
    },
  ];
}

/** A double-quoted bash word: nothing in it expands. */
function shellQuote(word: string): string {
  return `"${word.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/** Postfix's config directory in the pod (DMS leaves main.cf and master.cf there). */
export const POSTFIX_DIR = "/etc/postfix";

/**
 * The user-patches.sh lines that add the PROXY listeners to master.cf. DMS's postfix-master.cf
 * can only change existing services (`postconf -P`), so these run after its startup edits.
 * `postconf -M` writes (or replaces, dropping its old `-o` lines) the entry and `postconf -P` adds
 * each override: a second run leaves the same master.cf.
 */
export function postfixProxyUserPatch(): string[] {
  const lines = [
    "# PROXY-v2 listeners for pfSense HAProxy (NodePort Service " + PROXY_SERVICE + "): alt ports",
    "# beside the stock ones, which stay PROXY-free for in-cluster clients. postconf -M replaces",
    "# the entry and its -o lines, postconf -P adds them again: a second run changes nothing.",
    `postfix_dir=${POSTFIX_DIR}`,
  ];
  for (const svc of postfixProxyServices()) {
    const id = `${svc.port}/inet`;
    lines.push(`postconf -c "$postfix_dir" -M ${shellQuote(`${id}=${svc.port} ${svc.entry}`)}`);
    lines.push(
      `postconf -c "$postfix_dir" -P \\`,
      ...svc.options.map(
        ([k, v], i) =>
          `  ${shellQuote(`${id}/${k}=${v}`)}${i < svc.options.length - 1 ? " \\" : ""}`,
      ),
    );
  }
  return lines;
}

/**
 * `user-patches.sh`: docker-mailserver 15.0.0 runs it with /bin/bash as its last setup step, after
 * its own edits of the daemons' config and before any daemon starts (setup-stack.sh:110-119); its
 * exit status is ignored, so `set -euo pipefail` only stops the rest of the script. It undoes the
 * one startup edit that beats dovecot.cf (lib/dovecot-metrics.ts#dovecotStatsUserPatch).
 */
export function userPatchesSh(proxy?: ProxySettings): string {
  return [
    "#!/bin/bash",
    "# Rendered by the Pulumi program (components/mailserver.ts#userPatchesSh); run by",
    "# docker-mailserver after its startup edits, before the daemons start.",
    "set -euo pipefail",
    "",
    ...dovecotStatsUserPatch(),
    ...(proxy ? ["", ...postfixProxyUserPatch()] : []),
    "",
  ].join("\n");
}

/** Rspamd `override.d/dkim_signing.conf`: sign as the domain with the selector's key. */
export function dkimSigningConf(selector: string, domain: string): string {
  const path = dkimKeyPath(selector, domain);
  return [
    "enabled = true;",
    "sign_authenticated = true;",
    "sign_local = true;",
    'use_domain = "header";',
    "use_redis = false;",
    "use_esld = true;",
    `selector = "${selector}";`,
    `path = "${path}";`,
    "domain {",
    `  ${domain} {`,
    `    path = "${path}";`,
    `    selector = "${selector}";`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The Rspamd symbol the external_relay rule adds to mail drained from the backup MX. */
export const BACKUP_MX_DRAIN_SYMBOL = "BACKUP_MX_DRAIN";

/**
 * Rspamd `override.d/external_relay.conf`: drained mail arrives from the tunnel address, which
 * Rspamd counts as local and would score as such. The `local` strategy applies when the
 * connecting address is private (the drain, in-cluster clients): Rspamd then scores the first
 * non-private address of the Received chain, the client the backup MX saw (RBL, SPF and
 * reputation as for direct mail), and adds the rule's symbol. Direct mail (a public client
 * address, kept by ETP Local and PROXY v2) is unchanged. The live file asks for an `ip_map`
 * strategy, which Rspamd's external_relay does not have: it fails the module's schema and
 * Rspamd disables the module (rspamd 3.4 here logs "config schema error"; upstream's plugin has
 * the same four strategies), so the drain is scored as local there today.
 */
export function externalRelayConf(): string {
  return [
    "enabled = true;",
    "rules {",
    `  ${BACKUP_MX_DRAIN_SYMBOL} {`,
    '    strategy = "local";',
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Rspamd `override.d/force_actions.conf`: drained mail is never rejected, at most tagged. A 5xx
 * makes the backup MX bounce, and it cannot send the DSN (no outbound 25): the mail would be lost
 * without a word (ADR-0019). Keyed on the external_relay symbol, since a settings match on the IP
 * sees the rewritten address; force_actions runs after scoring, so it sees the final action.
 */
export function forceActionsConf(): string {
  return [
    "rules {",
    `  ${BACKUP_MX_DRAIN_SYMBOL}_NO_REJECT {`,
    '    action = "add header";',
    `    expression = "${BACKUP_MX_DRAIN_SYMBOL}";`,
    '    require_action = ["reject", "soft reject"];',
    '    message = "backup-MX drain: capped at add header, never rejected (ADR-0019)";',
    "  }",
    "}",
    "",
  ].join("\n");
}

/** DMS installs `<login>.dovecot.sieve` from the config directory as that user's Sieve script. */
export function senderAllowlistFile(mailbox: string): string {
  return `${mailbox}.dovecot.sieve`;
}

/** The ConfigMap key of a per-user Sieve file: a key cannot hold '@'. */
export function senderAllowlistKey(mailbox: string): string {
  return senderAllowlistFile(mailbox.replace("@", "-at-"));
}

/**
 * The per-user Sieve script of a sender allowlist: a message whose From address is none of the
 * senders is discarded at delivery and nothing else runs; the others are kept in INBOX. Sieve's
 * default comparator (i;ascii-casemap) ignores case.
 */
export function senderAllowlistSieve(list: SenderAllowlist): string {
  const senders = list.senders.map((s) => `"${s}"`).join(", ");
  return [
    `# Rendered by the Pulumi program (components/mailserver.ts): only these senders reach`,
    `# ${list.mailbox}; mail from anyone else is discarded.`,
    `if not address :all :is "from" [${senders}] {`,
    "  discard;",
    "  stop;",
    "}",
    "",
  ].join("\n");
}

/** A file of the config ConfigMap: where it goes under the config directory, its key, its text. */
interface ConfigFile {
  file: string;
  key: string;
  content: string;
}

/** The config files mounted one by one into the config directory. */
export function configFiles(settings: MailServerSettings, domain: string): ConfigFile[] {
  const files: ConfigFile[] = [
    { file: "postfix-main.cf", key: "postfix-main.cf", content: postfixMainCf(settings) },
    { file: "dovecot.cf", key: "dovecot.cf", content: dovecotCf(settings.proxy) },
    { file: "user-patches.sh", key: "user-patches.sh", content: userPatchesSh(settings.proxy) },
    {
      file: "rspamd/override.d/dkim_signing.conf",
      key: "dkim_signing.conf",
      content: dkimSigningConf(settings.dkimSelector, domain),
    },
  ];
  const drain = settings.backupMx?.drainSource;
  if (drain !== undefined) {
    files.push(
      { file: BACKUP_MX_PERMIT, key: BACKUP_MX_PERMIT, content: backupMxPermitCidr(drain) },
      {
        file: "rspamd/override.d/external_relay.conf",
        key: "external_relay.conf",
        content: externalRelayConf(),
      },
      {
        file: "rspamd/override.d/force_actions.conf",
        key: "force_actions.conf",
        content: forceActionsConf(),
      },
    );
  }
  for (const list of settings.senderAllowlists ?? []) {
    files.push({
      file: senderAllowlistFile(list.mailbox),
      key: senderAllowlistKey(list.mailbox),
      content: senderAllowlistSieve(list),
    });
  }
  return files;
}
const SECRET_FILES = [
  ["postfix-accounts.cf", "postfix-accounts.cf"],
  ["postfix-virtual.cf", "postfix-virtual.cf"],
  ["postfix-sasl-password.cf", "postfix-sasl-password.cf"],
] as const;

export class MailServer extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.mail;
  public readonly namespace: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  /** The NodePort Service of the PROXY-v2 path (absent without `proxy` settings). */
  public readonly proxyServiceName?: pulumi.Output<string>;
  /** The PROXY-v2 listeners: container port and the node port HAProxy connects to. */
  public readonly proxyListeners: readonly {
    name: string;
    containerPort: number;
    nodePort: number;
  }[];
  /** In-cluster name Roundcube and the probe connect to. */
  public readonly serviceHost: pulumi.Output<string>;
  public readonly loadBalancerIp: pulumi.Output<string>;
  public readonly deploymentName: pulumi.Output<string>;
  /** Labels of the mail pod: what a PodMonitor or Service selects it by. */
  public readonly podLabels: Readonly<Record<string, string>>;
  /** Pods are named `<podNamePrefix>-<hash>-<hash>`: what log globs match. */
  public readonly podNamePrefix: string;
  /** docker-mailserver's container in the pod: the one whose logs carry postfix and dovecot. */
  public readonly containerName: string;
  public readonly dataClaimName: pulumi.Output<string>;
  /** The cluster's `kubernetes.io/tls` Secret: mounted here and by the webmail Ingress. */
  public readonly tlsSecretName: pulumi.Output<string>;
  /** Secrets the pod mounts that another system keeps: the preview checks they are there. */
  public readonly mountedSecrets: SecretRef[];

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MailServer.TYPE, name, {}, opts);
    const { settings: config, domain } = args;
    const labels = { ...MAIL_POD_LABELS };
    const adopt = (type: string, child: string) =>
      (args.adopt ?? adoptNothing)(MailServer.TYPE, type, child);

    // Deleting a namespace deletes every claim in it, protected or not: the namespace itself is
    // protected and left in the cluster when removed from the program.
    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: args.namespace } },
      {
        parent: this,
        protect: true,
        retainOnDelete: true,
        ...adopt(TYPES.namespace, `${name}-namespace`),
      },
    );
    const namespace = ns.metadata.name;
    const meta = (name: string) => ({ name, namespace, labels });

    const envData = mailserverEnv(config, domain);
    const env = new k8s.core.v1.ConfigMap(
      `${name}-env`,
      { metadata: meta("mailserver-env"), data: envData },
      { parent: this },
    );
    const mounted = configFiles(config, domain);
    const configData = Object.fromEntries(mounted.map((f) => [f.key, f.content]));
    const files = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: meta("mailserver-config"), data: configData },
      { parent: this },
    );
    const s = args.secrets;
    // The repository's aliases after Vault's, filtered like them (lib/accounts.ts).
    const extraAliases = config.extraAliases ?? [];
    const postfixVirtual = pulumi
      .all([s.postfixVirtual, s.postfixAccounts])
      .apply(([virtual, accounts]) => {
        const merged = withExtraAliases(virtual, extraAliases, mailboxesOf(accounts));
        for (const line of merged.dropped) {
          void pulumi.log.warn(
            `mailserver.extraAliases: "${line}" maps one mailbox to another and is left out (Dovecot would see the source twice)`,
            this,
          );
        }
        return merged.text;
      });
    const secretFiles = new k8s.core.v1.Secret(
      `${name}-accounts`,
      {
        metadata: meta("mailserver-accounts"),
        type: "Opaque",
        stringData: {
          "postfix-accounts.cf": s.postfixAccounts,
          "postfix-virtual.cf": pulumi.secret(postfixVirtual),
          "postfix-sasl-password.cf": s.relaySaslPassword,
        },
      },
      { parent: this },
    );
    const dkim = new k8s.core.v1.Secret(
      `${name}-dkim`,
      {
        metadata: meta("mailserver-dkim"),
        type: "Opaque",
        stringData: { "dkim.private.txt": s.dkimPrivateKey },
      },
      { parent: this },
    );

    const data = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      {
        metadata: {
          ...meta(config.storage.name),
          annotations: {
            // pvc-autoresizer grows the volume when free space falls below the threshold, up to
            // the limit (the owner's fix fecfa211: 10%, not 80%, or it grows on every check).
            "resize.topolvm.io/storage_limit": config.storage.maxSize,
            "resize.topolvm.io/threshold": "10%",
            "resize.topolvm.io/increase": "100%",
            // The storage class binds on first consumer: do not wait for Bound before the pod exists.
            "pulumi.com/skipAwait": "true",
          },
        },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: config.storage.storageClass,
          resources: { requests: { storage: config.storage.size } },
        },
      },
      // Mailboxes, queue and DKIM state: never deleted or replaced by an update.
      {
        parent: this,
        protect: true,
        retainOnDelete: true,
        ...withSizeIgnored(adopt(TYPES.pvc, `${name}-data`)),
      },
    );

    // Restart the pod when anything it reads at start changes: envFrom is read once, and subPath
    // mounts are not refreshed in place. It covers secrets, so it stays a secret.
    const checksum = pulumi
      .all([s.postfixAccounts, postfixVirtual, s.relaySaslPassword, s.dkimPrivateKey])
      .apply((secretParts) =>
        sha256Hex(JSON.stringify(envData), JSON.stringify(configData), ...secretParts),
      );

    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: meta(MAIL_DEPLOYMENT),
        spec: {
          replicas: 1,
          // One pod owns the RWO volume: the old pod must stop before the new one starts.
          strategy: { type: "Recreate" },
          selector: { matchLabels: labels },
          template: {
            metadata: {
              labels,
              annotations: { ...args.podAnnotations, "checksum/config": pulumi.secret(checksum) },
            },
            spec: this.podSpec(config, domain, mounted, {
              env: env.metadata.name,
              files: files.metadata.name,
              secretFiles: secretFiles.metadata.name,
              dkim: dkim.metadata.name,
              tls: args.tlsSecretName,
              data: data.metadata.name,
            }),
          },
        },
      },
      { parent: this },
    );

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: {
          ...meta("mailserver"),
          annotations: { "metallb.io/loadBalancerIPs": config.loadBalancerIp },
        },
        spec: {
          type: "LoadBalancer",
          // Keep the client's source IP: CrowdSec and Postfix rate limits act on it.
          externalTrafficPolicy: "Local",
          selector: labels,
          ports: MAIL_PORTS.map((p) => ({
            name: p.name,
            port: p.port,
            targetPort: p.name,
            protocol: "TCP",
          })),
        },
      },
      { parent: this, ...adopt(TYPES.service, `${name}-service`) },
    );

    // pfSense HAProxy's backends: the live NodePort Service, same ports, node ports and numeric
    // target ports, so it is imported at cutover. ETP Cluster: any node forwards, and the
    // client address travels in the PROXY header, not in the (SNATed) source address.
    const proxy = config.proxy;
    const proxyService = proxy
      ? new k8s.core.v1.Service(
          `${name}-proxy-service`,
          {
            metadata: meta(PROXY_SERVICE),
            spec: {
              type: "NodePort",
              externalTrafficPolicy: "Cluster",
              selector: labels,
              ports: [...PROXY_PORTS, ...PROXY_CHECK_PORTS].map((p) => ({
                name: p.name,
                protocol: "TCP",
                port: p.servicePort,
                targetPort: p.containerPort,
                nodePort: proxy.nodePorts[p.key],
              })),
            },
          },
          { parent: this, ...adopt(TYPES.service, `${name}-proxy-service`) },
        )
      : undefined;

    this.namespace = namespace;
    this.serviceName = service.metadata.name;
    this.proxyServiceName = proxyService?.metadata.name;
    this.proxyListeners = proxy
      ? PROXY_PORTS.map((p) => ({
          name: p.name,
          containerPort: p.containerPort,
          nodePort: proxy.nodePorts[p.key],
        }))
      : [];
    this.serviceHost = pulumi.interpolate`${service.metadata.name}.${namespace}.svc.cluster.local`;
    this.loadBalancerIp = pulumi.output(config.loadBalancerIp);
    this.deploymentName = deployment.metadata.name;
    this.podLabels = labels;
    this.podNamePrefix = MAIL_DEPLOYMENT;
    this.containerName = MAIL_CONTAINER;
    this.dataClaimName = data.metadata.name;
    this.tlsSecretName = pulumi.output(args.tlsSecretName);
    this.mountedSecrets = [{ namespace: args.namespace, name: args.tlsSecretName }];
    this.registerOutputs({
      tlsSecretName: this.tlsSecretName,
      namespace: this.namespace,
      serviceName: this.serviceName,
      proxyServiceName: this.proxyServiceName,
      proxyListeners: this.proxyListeners,
      serviceHost: this.serviceHost,
      loadBalancerIp: this.loadBalancerIp,
      deploymentName: this.deploymentName,
      dataClaimName: this.dataClaimName,
      podLabels: this.podLabels,
      podNamePrefix: this.podNamePrefix,
      containerName: this.containerName,
    });
  }

  private podSpec(
    config: MailServerSettings,
    domain: string,
    mounted: ConfigFile[],
    refs: Record<"env" | "files" | "secretFiles" | "dkim" | "tls" | "data", pulumi.Input<string>>,
  ): k8s.types.input.core.v1.PodSpec {
    return {
      // Service links would add *_PORT variables to an environment docker-mailserver reads.
      enableServiceLinks: false,
      containers: [mailContainer(config, domain, mounted, refs.env)],
      volumes: [
        { name: "config", configMap: { name: refs.files } },
        { name: "config-secret", secret: { secretName: refs.secretFiles, defaultMode: 0o400 } },
        // Rspamd runs as _rspamd and must read the key.
        { name: "dkim", secret: { secretName: refs.dkim, defaultMode: 0o444 } },
        // The cluster's certificate; Woodpecker's renewals reach the directory mount in place.
        { name: "tls", secret: { secretName: refs.tls } },
        { name: "data", persistentVolumeClaim: { claimName: refs.data } },
      ],
    };
  }
}

function mailContainer(
  config: MailServerSettings,
  domain: string,
  mounted: ConfigFile[],
  envConfigMap: pulumi.Input<string>,
): k8s.types.input.core.v1.Container {
  const fileMounts = [
    ...mounted.map(({ file, key }) => ({ name: "config", file, key })),
    ...SECRET_FILES.map(([file, key]) => ({ name: "config-secret", file, key })),
  ].map((m) => ({
    name: m.name,
    mountPath: `${CONFIG_DIR}/${m.file}`,
    subPath: m.key,
    readOnly: true,
  }));
  return {
    name: MAIL_CONTAINER,
    image: config.image,
    envFrom: [{ configMapRef: { name: envConfigMap } }],
    ports: [
      ...MAIL_PORTS.map((p) => ({ name: p.name, containerPort: p.port, protocol: "TCP" })),
      // The PROXY-v2 listeners, reached through the NodePort Service only.
      ...(config.proxy ? PROXY_PORTS : []).map((p) => ({
        name: p.name,
        containerPort: p.containerPort,
        protocol: "TCP",
      })),
      // Dovecot's stats listener: scraped on the pod IP, never published by the Service.
      { name: DOVECOT_METRICS_PORT_NAME, containerPort: DOVECOT_METRICS_PORT, protocol: "TCP" },
    ],
    volumeMounts: [
      ...fileMounts,
      {
        name: "dkim",
        mountPath: dkimKeyPath(config.dkimSelector, domain),
        subPath: "dkim.private.txt",
        readOnly: true,
      },
      // A directory mount, so certificate renewals reach the pod without a restart.
      { name: "tls", mountPath: TLS_DIR, readOnly: true },
      { name: "data", mountPath: "/var/mail", subPath: "data" },
      { name: "data", mountPath: "/var/mail-state", subPath: "state" },
      { name: "data", mountPath: "/var/log/mail", subPath: "log" },
    ],
    securityContext: {
      // postdrop is set-group-ID: local submission fails without privilege escalation.
      allowPrivilegeEscalation: true,
      // NET_ADMIN and NET_RAW only serve Fail2ban, which is off.
      capabilities: { drop: ["NET_ADMIN", "NET_RAW"] },
    },
    resources: config.resources,
    startupProbe: { exec: listeningCheck("smtp"), periodSeconds: 10, failureThreshold: 30 },
    readinessProbe: { exec: listeningCheck("smtp"), periodSeconds: 10, timeoutSeconds: 3 },
    livenessProbe: { exec: listeningCheck("imaps"), periodSeconds: 60, timeoutSeconds: 15 },
  };
}

/**
 * Whether a daemon listens on the named port, asked of the kernel with `ss` inside the container.
 * A TCP probe opens a real SMTP or IMAP session every period, which Postfix and Dovecot log as a
 * connection (every 10 s, into the log CrowdSec reads); this check touches neither daemon. It is
 * docker-mailserver's own health check (docker-mailserver compose.yaml, `healthcheck.test`).
 */
export function listeningCheck(service: "smtp" | "imaps"): { command: string[] } {
  return { command: ["/bin/sh", "-c", `ss --listening --tcp | grep -P 'LISTEN.+:${service}'`] };
}
