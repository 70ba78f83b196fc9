/**
 * docker-mailserver 15.0.0: namespace, environment, config files, the Deployment (Dovecot serves
 * its own metrics, no sidecar), the protected data volume and the LoadBalancer Service on the
 * dedicated IP.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptNothing, TYPES, type Adopt } from "../lib/adopt";
import {
  DOVECOT_METRICS_PORT,
  DOVECOT_METRICS_PORT_NAME,
  dovecotMetricsCf,
} from "../lib/dovecot-metrics";
import { sha256Hex } from "../lib/hash";
import type { MailSecrets } from "../lib/secrets";
import { TlsCertificate, type TlsCertificateArgs } from "./certificate";

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
}

export interface MailServerArgs {
  namespace: string;
  domain: string;
  settings: MailServerSettings;
  secrets: Pick<
    MailSecrets,
    "postfixAccounts" | "postfixVirtual" | "relaySaslPassword" | "dkimPrivateKey"
  >;
  /** The certificate this stack issues into the mail namespace (components/certificate.ts). */
  certificate: Omit<TlsCertificateArgs, "namespace">;
  /** Annotations of the pod template, e.g. the prometheus.io scrape annotations. */
  podAnnotations?: Record<string, string>;
  /** Import options for the namespace and the data volume at cutover (lib/adopt.ts). */
  adopt?: Adopt;
}

/**
 * The pvc-autoresizer grows `requests.storage`, and a claim cannot shrink: the program never sends
 * the size back after creation (the Terraform original ignored it the same way).
 */
export const PVC_SIZE_IGNORE = ["spec.resources.requests.storage"];

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
    ENABLE_SRS: "1",
    SPOOF_PROTECTION: "1",
    POSTFIX_REJECT_UNKNOWN_CLIENT_HOSTNAME: "1",
    POSTFIX_MESSAGE_SIZE_LIMIT: String(200 * 1024 * 1024),
    DEFAULT_RELAY_HOST: `[${config.relay.host}]:${config.relay.port}`,
    SSL_TYPE: "manual",
    SSL_CERT_PATH: `${TLS_DIR}/tls.crt`,
    SSL_KEY_PATH: `${TLS_DIR}/tls.key`,
  };
}

/** `postfix-main.cf`: the spec's per-client rate limits (real client IPs thanks to ETP Local). */
export function postfixMainCf(
  config: Pick<MailServerSettings, "rateLimits" | "trustedNetworks">,
): string {
  const r = config.rateLimits;
  const lines = [
    `smtpd_client_connection_rate_limit = ${r.clientConnectionRateLimit}`,
    `smtpd_client_message_rate_limit = ${r.clientMessageRateLimit}`,
    `anvil_rate_time_unit = ${r.anvilRateTimeUnit}`,
  ];
  if (config.trustedNetworks.length > 0) {
    lines.push(`smtpd_client_event_limit_exceptions = ${config.trustedNetworks.join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * `dovecot.cf` (Dovecot's local.conf, read after conf.d): Dovecot's own OpenMetrics listener and
 * the metrics it counts (lib/dovecot-metrics.ts). Roundcube connects from one pod IP, so it needs
 * more than the default 10 connections per user and IP.
 */
export function dovecotCf(): string {
  return [...dovecotMetricsCf(), "mail_max_userip_connections = 50", ""].join("\n");
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

/** Config files mounted one by one into the config directory: [file name, source key]. */
const CONFIG_FILES = [
  ["postfix-main.cf", "postfix-main.cf"],
  ["dovecot.cf", "dovecot.cf"],
  ["rspamd/override.d/dkim_signing.conf", "dkim_signing.conf"],
] as const;
const SECRET_FILES = [
  ["postfix-accounts.cf", "postfix-accounts.cf"],
  ["postfix-virtual.cf", "postfix-virtual.cf"],
  ["postfix-sasl-password.cf", "postfix-sasl-password.cf"],
] as const;

/** Adoption options with the claim size ignored as well. */
export function withSizeIgnored(
  opts: ReturnType<Adopt>,
): ReturnType<Adopt> & { ignoreChanges: string[] } {
  return { ...opts, ignoreChanges: [...(opts.ignoreChanges ?? []), ...PVC_SIZE_IGNORE] };
}

export class MailServer extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
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
  /** The owned `kubernetes.io/tls` Secret: mounted here and by the webmail Ingress. */
  public readonly tlsSecretName: pulumi.Output<string>;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mailserver:mail:MailServer", name, {}, opts);
    const { settings: config, domain } = args;
    const labels = { ...MAIL_POD_LABELS };
    const adopt = (type: string, child: string) =>
      (args.adopt ?? adoptNothing)("mailserver:mail:MailServer", type, child);

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
    const certificate = new TlsCertificate(
      `${name}-tls`,
      { ...args.certificate, namespace },
      { parent: this },
    );

    const envData = mailserverEnv(config, domain);
    const env = new k8s.core.v1.ConfigMap(
      `${name}-env`,
      { metadata: meta("mailserver-env"), data: envData },
      { parent: this },
    );
    const configData: Record<string, string> = {
      "postfix-main.cf": postfixMainCf(config),
      "dovecot.cf": dovecotCf(),
      "dkim_signing.conf": dkimSigningConf(config.dkimSelector, domain),
    };
    const files = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: meta("mailserver-config"), data: configData },
      { parent: this },
    );
    const s = args.secrets;
    const secretFiles = new k8s.core.v1.Secret(
      `${name}-accounts`,
      {
        metadata: meta("mailserver-accounts"),
        type: "Opaque",
        stringData: {
          "postfix-accounts.cf": s.postfixAccounts,
          "postfix-virtual.cf": s.postfixVirtual,
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
      .all([s.postfixAccounts, s.postfixVirtual, s.relaySaslPassword, s.dkimPrivateKey])
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
            spec: this.podSpec(config, domain, {
              env: env.metadata.name,
              files: files.metadata.name,
              secretFiles: secretFiles.metadata.name,
              dkim: dkim.metadata.name,
              tls: certificate.secretName,
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
      { parent: this },
    );

    this.namespace = namespace;
    this.serviceName = service.metadata.name;
    this.serviceHost = pulumi.interpolate`${service.metadata.name}.${namespace}.svc.cluster.local`;
    this.loadBalancerIp = pulumi.output(config.loadBalancerIp);
    this.deploymentName = deployment.metadata.name;
    this.podLabels = labels;
    this.podNamePrefix = MAIL_DEPLOYMENT;
    this.containerName = MAIL_CONTAINER;
    this.dataClaimName = data.metadata.name;
    this.tlsSecretName = certificate.secretName;
    this.registerOutputs({
      tlsSecretName: this.tlsSecretName,
      namespace: this.namespace,
      serviceName: this.serviceName,
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
    refs: Record<"env" | "files" | "secretFiles" | "dkim" | "tls" | "data", pulumi.Input<string>>,
  ): k8s.types.input.core.v1.PodSpec {
    return {
      // Service links would add *_PORT variables to an environment docker-mailserver reads.
      enableServiceLinks: false,
      containers: [mailContainer(config, domain, refs.env)],
      volumes: [
        { name: "config", configMap: { name: refs.files } },
        { name: "config-secret", secret: { secretName: refs.secretFiles, defaultMode: 0o400 } },
        // Rspamd runs as _rspamd and must read the key.
        { name: "dkim", secret: { secretName: refs.dkim, defaultMode: 0o444 } },
        // The stack's own certificate; renewals reach the directory mount below in place.
        { name: "tls", secret: { secretName: refs.tls } },
        { name: "data", persistentVolumeClaim: { claimName: refs.data } },
      ],
    };
  }
}

function mailContainer(
  config: MailServerSettings,
  domain: string,
  envConfigMap: pulumi.Input<string>,
): k8s.types.input.core.v1.Container {
  const fileMounts = [
    ...CONFIG_FILES.map(([file, key]) => ({ name: "config", file, key })),
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
