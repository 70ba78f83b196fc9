/** A realistic "good" mail stack as the program will declare it, plus builders for variants. */
import { createHash, generateKeyPairSync } from "node:crypto";
import { OBSERVED_SERVER_ANNOTATION } from "../../lib/charts/prometheus";
import { MTA_STS_WORKER_SOURCE } from "../../lib/mta-sts-worker";
import type { AnalyzerResource, PackConfig } from "../../tools/analyzer/client";
import { mergeValues, type Values } from "../../lib/charts/crowdsec";
import { liveAgentFor, OWNER_VALUES } from "../../tools/world/crowdsec-agent";

export const T = {
  namespace: "kubernetes:core/v1:Namespace",
  configMap: "kubernetes:core/v1:ConfigMap",
  service: "kubernetes:core/v1:Service",
  pvc: "kubernetes:core/v1:PersistentVolumeClaim",
  deployment: "kubernetes:apps/v1:Deployment",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  cronJob: "kubernetes:batch/v1:CronJob",
  pod: "kubernetes:core/v1:Pod",
  secret: "kubernetes:core/v1:Secret",
  ingress: "kubernetes:networking.k8s.io/v1:Ingress",
  workersScript: "cloudflare:index/workersScript:WorkersScript",
  workersCustomDomain: "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
  dnsRecord: "cloudflare:index/dnsRecord:DnsRecord",
  legacyRecord: "cloudflare:index/record:Record",
  crowdsecComponent: "mailserver:crowdsec:CrowdSecAcquisition",
  preflight: "mailserver:preflight:ClusterPreflight",
} as const;

/**
 * The pack config the good stack passes under: its public text listed in plain-text-public as an
 * operator would list it (plus one listed ConfigMap the plain-text family adds).
 */
export const GOOD_STACK_PACK_CONFIG: PackConfig = {
  "plain-text-public": {
    publicFiles: {
      "monitoring/mailserver-prometheus-rules": ["mailserver.rules.yml"],
      "crowdsec/crowdsec-mail-acquisition": ["acquis-mail.yaml"],
      "mailserver/webmail-motd": ["motd.txt"],
      "mailserver/mailserver-config": ["dkim_signing.conf"],
    },
    publicEnv: {
      "mailserver/roundcubemail/roundcubemail": [
        "ROUNDCUBEMAIL_DEFAULT_HOST",
        "ROUNDCUBEMAIL_DEFAULT_PORT",
        "ROUNDCUBEMAIL_SMTP_SERVER",
        "ROUNDCUBEMAIL_DB_HOST",
      ],
      "mailserver/email-roundtrip-monitor/probe": ["IMAP_HOST"],
    },
  },
};

export interface InventoryFixture {
  services: Record<string, unknown>[];
  pools: Record<string, unknown>[];
  secrets: Record<string, unknown>[];
}

/**
 * The cluster inventory as the program publishes it (ClusterPreflight output `inventory`): the
 * pool and holders of world/ready (KMS moved to .207, the live PROXY NodePort Service), and the
 * cluster's tls-secret in the mail namespace.
 */
export function clusterInventory(
  edit: (inv: InventoryFixture) => void = () => {},
): AnalyzerResource {
  const inv: InventoryFixture = {
    services: [
      {
        namespace: "kms",
        name: "windows-kms",
        type: "LoadBalancer",
        addresses: ["10.0.20.207"],
        nodePorts: [],
      },
      {
        namespace: "traefik",
        name: "traefik",
        type: "LoadBalancer",
        addresses: ["10.0.20.203"],
        nodePorts: [],
      },
      {
        namespace: "mailserver",
        name: "mailserver-proxy",
        type: "NodePort",
        addresses: [],
        nodePorts: [30125, 30126, 30127, 30128],
      },
    ],
    pools: [
      { name: "default", addresses: ["10.0.20.200-10.0.20.220"] },
      // Not in the world (its pool is IPv4 only): lets the dual-stack variants of other families
      // ask for an IPv6 address MetalLB could assign.
      { name: "fixture-v6", addresses: ["2001:470:6e:43d::/64"] },
    ],
    secrets: [
      {
        namespace: "mailserver",
        name: "tls-secret",
        present: true,
        type: "kubernetes.io/tls",
        dnsNames: ["viktorbarzin.me", "*.viktorbarzin.me"],
      },
    ],
  };
  edit(inv);
  return {
    type: T.preflight,
    name: "preflight",
    properties: { inventory: { source: "fixture", ...inv } },
  };
}

const ZONE_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
export const DMS_IMAGE = "docker.io/mailserver/docker-mailserver:15.0.0";

const keyCache = new Map<number, { publicKey: string; privateKey: string }>();

function keyPair(bits: number): { publicKey: string; privateKey: string } {
  let pair = keyCache.get(bits);
  if (!pair) {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: bits });
    pair = {
      publicKey: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
      privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    };
    keyCache.set(bits, pair);
  }
  return pair;
}

/** base64 SubjectPublicKeyInfo of the test run's RSA key of that size (generated, never stored). */
export function rsaPublicKey(bits: number): string {
  return keyPair(bits).publicKey;
}

/** PKCS#8 PEM of the same key: what the good stack's DKIM Secret holds. */
export function rsaPrivateKeyPem(bits: number): string {
  return keyPair(bits).privateKey;
}

let ed25519: { seed: string; publicKey: string } | undefined;
/**
 * The test run's ed25519 keypair (Node's own), as Rspamd's key file holds it (the base64 32-byte
 * seed) and as k=ed25519 p= publishes it (the raw 32-byte public key, RFC 8463 §4.2).
 */
export function ed25519Key(): { seed: string; publicKey: string } {
  if (!ed25519) {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    ed25519 = {
      seed: privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32).toString("base64"),
      publicKey: publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("base64"),
    };
  }
  return ed25519;
}

/** DKIM TXT content as Cloudflare takes long records: quoted strings of at most 255 bytes. */
export function dkimContent(bits: number): string {
  const text = `v=DKIM1; k=rsa; p=${rsaPublicKey(bits)}`;
  const chunks = text.match(/.{1,255}/g) ?? [];
  return chunks.map((c) => `"${c}"`).join(" ");
}

export function record(
  name: string,
  props: { name: string; type: string; content: string; proxied?: boolean; priority?: number },
  type: string = T.dnsRecord,
): AnalyzerResource {
  return { type, name, properties: { zoneId: ZONE_ID, ttl: 1, proxied: false, ...props } };
}

export function txt(name: string, fqdn: string, content: string): AnalyzerResource {
  return record(name, { name: fqdn, type: "TXT", content });
}

export function mailEnv(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ENABLE_FAIL2BAN: "0",
    ENABLE_RSPAMD: "1",
    ENABLE_OPENDKIM: "0",
    ENABLE_OPENDMARC: "0",
    ENABLE_POLICYD_SPF: "0",
    ENABLE_AMAVIS: "0",
    ENABLE_SPAMASSASSIN: "0",
    ENABLE_CLAMAV: "0",
    ENABLE_SRS: "1",
    RSPAMD_LEARN: "1",
    DEFAULT_RELAY_HOST: "[smtp-relay.brevo.com]:587",
    SSL_TYPE: "manual",
    SSL_CERT_PATH: "/tmp/ssl/tls.crt",
    SSL_KEY_PATH: "/tmp/ssl/tls.key",
    OVERRIDE_HOSTNAME: "mail.viktorbarzin.me",
    POSTMASTER_ADDRESS: "postmaster@viktorbarzin.me",
    LOG_LEVEL: "info",
    TZ: "Europe/Sofia",
    ...extra,
  };
}

export function configMap(
  name: string,
  namespace: string,
  data: Record<string, unknown>,
): AnalyzerResource {
  return { type: T.configMap, name, properties: { metadata: { name, namespace }, data } };
}

/** Where Rspamd reads the signing conf from, and the key file it names (components/mailserver.ts). */
export const DKIM_CONF_PATH = "/tmp/docker-mailserver/rspamd/override.d/dkim_signing.conf";
export const DKIM_KEY_PATH =
  "/tmp/docker-mailserver/rspamd/dkim/rsa-2048-mail-viktorbarzin.me.private.txt";

/** Rspamd's dkim_signing.conf as the program renders it: selector mail, the mounted key. */
export function dkimSigningConf(selector = "mail", keyPath = DKIM_KEY_PATH): string {
  return [
    "enabled = true;",
    "sign_authenticated = true;",
    "sign_local = true;",
    'use_domain = "header";',
    "use_redis = false;",
    "use_esld = true;",
    `selector = "${selector}";`,
    `path = "${keyPath}";`,
    "domain {",
    "  viktorbarzin.me {",
    `    path = "${keyPath}";`,
    `    selector = "${selector}";`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The conf and the key, each mounted by subPath (read-only), as the program mounts them. */
export const DKIM_MOUNTS = [
  { name: "config", mountPath: DKIM_CONF_PATH, subPath: "dkim_signing.conf", readOnly: true },
  { name: "dkim", mountPath: DKIM_KEY_PATH, subPath: "dkim.private.txt", readOnly: true },
];
export const DKIM_VOLUMES = [
  { name: "config", configMap: { name: "mailserver-config" } },
  { name: "dkim", secret: { secretName: "mailserver-dkim", defaultMode: 0o444 } },
];

/** The signing conf's ConfigMap. */
export function mailConfig(conf = dkimSigningConf()): AnalyzerResource {
  return configMap("mailserver-config", "mailserver", { "dkim_signing.conf": conf });
}

/** The DKIM private key's Secret: the test run's 2048-bit key, whose public half dkim-mail publishes. */
export function dkimSecret(key = rsaPrivateKeyPem(2048)): AnalyzerResource {
  return {
    type: T.secret,
    name: "mailserver-dkim",
    properties: {
      metadata: { name: "mailserver-dkim", namespace: "mailserver" },
      type: "Opaque",
      stringData: { "dkim.private.txt": key },
    },
  };
}

export function dmsContainer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "docker-mailserver",
    image: DMS_IMAGE,
    envFrom: [{ configMapRef: { name: "mailserver-env" } }],
    ports: [
      ...[25, 465, 587, 993].map((p) => ({ containerPort: p })),
      { containerPort: 9900, name: "dovecot-metrics" },
    ],
    securityContext: { allowPrivilegeEscalation: true, capabilities: { drop: ["NET_RAW"] } },
    volumeMounts: [...DKIM_MOUNTS, { name: "data", mountPath: "/var/mail", subPath: "data" }],
    ...overrides,
  };
}

/**
 * A container beside docker-mailserver in the mail pod: it shares the pod's network namespace, so
 * it drops every capability (mail-no-net-caps).
 */
export function sidecar(name: string, image: string, extra: Record<string, unknown> = {}) {
  return { name, image, securityContext: { capabilities: { drop: ["ALL"] } }, ...extra };
}

/** The prometheus.io annotations the chart's kubernetes-pods job scrapes on: Dovecot's own listener. */
export const SCRAPE_ANNOTATIONS = {
  "prometheus.io/scrape": "true",
  "prometheus.io/port": "9900",
  "prometheus.io/path": "/metrics",
};

export function mailDeployment(
  containers: Record<string, unknown>[] = [dmsContainer()],
  annotations: Record<string, string> = SCRAPE_ANNOTATIONS,
): AnalyzerResource {
  return {
    type: T.deployment,
    name: "mailserver",
    properties: {
      metadata: { name: "mailserver", namespace: "mailserver", labels: { app: "mailserver" } },
      spec: {
        replicas: 1,
        strategy: { type: "Recreate" },
        selector: { matchLabels: { app: "mailserver" } },
        template: {
          metadata: { labels: { app: "mailserver" }, annotations },
          spec: {
            containers,
            volumes: [
              ...DKIM_VOLUMES,
              { name: "data", persistentVolumeClaim: { claimName: "mailserver-data-proxmox" } },
              { name: "tls", secret: { secretName: TLS_SECRET } },
            ],
          },
        },
      },
    },
  };
}

export function mailService(
  spec: Record<string, unknown> = {},
  annotations?: Record<string, string>,
): AnalyzerResource {
  return {
    type: T.service,
    name: "mailserver",
    properties: {
      metadata: {
        name: "mailserver",
        namespace: "mailserver",
        annotations: annotations ?? { "metallb.io/loadBalancerIPs": "10.0.20.202" },
      },
      spec: {
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        selector: { app: "mailserver" },
        ports: [25, 465, 587, 993].map((p) => ({ name: `p${p}`, port: p, targetPort: p })),
        ...spec,
      },
    },
  };
}

/**
 * A second LoadBalancer of the mail namespace (ETP Cluster, no address) routing `targetPort` to
 * the pods `selector` selects (null: no selector).
 */
export function extraLoadBalancer(
  targetPort: string,
  selector: Record<string, string> | null = { app: "mailserver" },
): AnalyzerResource {
  return {
    type: T.service,
    name: "mail-extra",
    properties: {
      metadata: { name: "mail-extra", namespace: "mailserver" },
      spec: {
        type: "LoadBalancer",
        ...(selector ? { selector } : {}),
        ports: [{ name: "in", port: 2500, targetPort }],
      },
    },
  };
}

export function mailNamespace(protect: boolean, name = "mailserver"): AnalyzerResource {
  return { type: T.namespace, name, properties: { metadata: { name } }, options: { protect } };
}

export function pvc(name: string, protect: boolean, namespace = "mailserver"): AnalyzerResource {
  return {
    type: T.pvc,
    name,
    properties: {
      metadata: { name, namespace },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "proxmox-lvm",
        resources: { requests: { storage: "2Gi" } },
      },
    },
    options: { protect },
  };
}

export function probeCronJob(schedule: string): AnalyzerResource {
  return {
    type: T.cronJob,
    name: "email-roundtrip-monitor",
    properties: {
      metadata: { name: "email-roundtrip-monitor", namespace: "mailserver" },
      spec: {
        schedule,
        concurrencyPolicy: "Forbid",
        jobTemplate: {
          spec: {
            // As the program: no retry, each attempt spends one message of the Mailgun quota.
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: "Never",
                containers: [
                  {
                    name: "probe",
                    image: "docker.io/library/python:3.12.8-slim",
                    env: [
                      {
                        name: "MAILGUN_API_KEY",
                        valueFrom: { secretKeyRef: { name: "probe", key: "mailgun_api_key" } },
                      },
                      { name: "IMAP_HOST", value: "mailserver.mailserver.svc.cluster.local" },
                    ],
                  },
                ],
              },
            },
          },
        },
      },
    },
  };
}

const POD_LOGS = "/var/log/containers/mailserver-*_mailserver_docker-mailserver-*.log";

export function acquisitionDoc(
  program: string,
  type = "containerd",
  filenames = [POD_LOGS],
  poll = true,
): string {
  return [
    "source: file",
    "filenames:",
    ...filenames.map((f) => `  - ${f}`),
    "force_inotify: true",
    ...(poll ? ["poll_without_inotify: true"] : []),
    "labels:",
    `  type: ${type}`,
    ...(program ? [`  program: ${program}`] : []),
  ].join("\n");
}

export function crowdsecAcquisition(docs: string[]): AnalyzerResource {
  return configMap("crowdsec-mail-acquisition", "crowdsec", {
    "acquis-mail.yaml": docs.join("\n---\n"),
  });
}

export const GOOD_ACQUISITION = [
  acquisitionDoc("postfix/submission/smtpd"),
  acquisitionDoc("postfix/postscreen"),
  acquisitionDoc("dovecot"),
];

export const AGENT_CONFIG = {
  daemonSet: "crowdsec-agent",
  container: "crowdsec-agent",
  acquisitionConfigMaps: ["acquis-configmap", "crowdsec-syslog-acquisition"],
};

/** The crowdsec chart values once the owner pasted the mail mount and dropped the mail entries. */
export function agentValuesWithMail(): Values {
  const owner = OWNER_VALUES.agent as Values &
    Record<"extraVolumes" | "extraVolumeMounts", unknown[]>;
  return mergeValues(OWNER_VALUES, {
    agent: {
      acquisition: [{ namespace: "traefik", podName: "traefik-*", program: "traefik" }],
      extraVolumes: [
        ...owner.extraVolumes,
        {
          name: "mail-acquisition",
          configMap: {
            name: "crowdsec-mail-acquisition",
            items: [{ key: "acquis-mail.yaml", path: "acquis-mail.yaml" }],
          },
        },
      ],
      extraVolumeMounts: [
        ...owner.extraVolumeMounts,
        {
          name: "mail-acquisition",
          mountPath: "/etc/crowdsec/acquis.d/acquis-mail.yaml",
          subPath: "acquis-mail.yaml",
          readOnly: true,
        },
      ],
    },
  });
}

/** The CrowdSecAcquisition component as AnalyzeStack sees it: its `agent` output, read live. */
export function crowdsecAgent(values: Values = agentValuesWithMail()): AnalyzerResource {
  return {
    type: T.crowdsecComponent,
    name: "crowdsec",
    properties: {
      configMapName: "crowdsec-mail-acquisition",
      agent: liveAgentFor(values, AGENT_CONFIG),
    },
  };
}

export function roundcube(): AnalyzerResource {
  return {
    type: T.deployment,
    name: "roundcubemail",
    properties: {
      metadata: { name: "roundcubemail", namespace: "mailserver" },
      spec: {
        selector: { matchLabels: { app: "roundcubemail" } },
        template: {
          metadata: { labels: { app: "roundcubemail" } },
          spec: {
            containers: [
              {
                name: "roundcubemail",
                image: "docker.io/roundcube/roundcubemail:1.6.13-apache",
                env: [
                  { name: "ROUNDCUBEMAIL_DEFAULT_HOST", value: "ssl://mailserver" },
                  { name: "ROUNDCUBEMAIL_DEFAULT_PORT", value: "993" },
                  { name: "ROUNDCUBEMAIL_SMTP_SERVER", value: "tls://mailserver" },
                  { name: "ROUNDCUBEMAIL_DB_HOST", value: "mysql.dbaas.svc.cluster.local" },
                  {
                    name: "ROUNDCUBEMAIL_DB_PASSWORD",
                    valueFrom: { secretKeyRef: { name: "roundcubemail-db", key: "password" } },
                  },
                ],
              },
            ],
          },
        },
      },
    },
  };
}

const D = "viktorbarzin.me";

/** The stack's own certificate Secret (components/certificate.ts); values are placeholders. */
export const TLS_SECRET = "mailserver-tls";

export function tlsSecret(name = TLS_SECRET, type = "kubernetes.io/tls"): AnalyzerResource {
  return {
    type: T.secret,
    name,
    properties: {
      metadata: { name, namespace: "mailserver" },
      type,
      stringData: { "tls.crt": "PLACEHOLDER-certificate", "tls.key": "PLACEHOLDER-key" },
    },
  };
}

/**
 * An Opaque Secret of the stack, as the program creates the ones its pods read by secretKeyRef
 * (components/webmail.ts: roundcubemail-db; components/monitoring.ts: the probe's credentials);
 * each key's value is a placeholder.
 */
export function opaqueSecret(name: string, keys: string[]): AnalyzerResource {
  return {
    type: T.secret,
    name,
    properties: {
      metadata: { name, namespace: "mailserver" },
      type: "Opaque",
      stringData: Object.fromEntries(keys.map((k) => [k, `PLACEHOLDER-${k}`])),
    },
  };
}

export function webmailIngress(secretName = TLS_SECRET): AnalyzerResource {
  return {
    type: T.ingress,
    name: "roundcubemail",
    properties: {
      metadata: { name: "roundcubemail", namespace: "mailserver" },
      spec: {
        ingressClassName: "traefik",
        tls: [{ hosts: [`mail.${D}`], secretName }],
        rules: [{ host: `mail.${D}` }],
      },
    },
  };
}

/** The MTA-STS policy file as DnsRecords renders it (CRLF). */
export function mtaStsPolicy(mx: string[] = [`mail.${D}`]): string {
  return [
    "version: STSv1",
    "mode: enforce",
    ...mx.map((h) => `mx: ${h}`),
    "max_age: 604800",
    "",
  ].join("\r\n");
}

/** The `_mta-sts` id of a policy: the first 20 hex digits of its SHA-256. */
export function mtaStsId(policy: string): string {
  return createHash("sha256").update(policy, "utf8").digest("hex").slice(0, 20);
}

export function mtaStsWorker(policy = mtaStsPolicy()): AnalyzerResource {
  return {
    type: T.workersScript,
    name: "mta-sts-worker",
    properties: {
      accountId: "PLACEHOLDER-account-id",
      scriptName: "mta-sts-viktorbarzin-me",
      mainModule: "mta-sts.mjs",
      content: MTA_STS_WORKER_SOURCE,
      bindings: [{ type: "plain_text", name: "MTA_STS_POLICY", text: policy }],
    },
  };
}

export function mtaStsDomain(
  service = "mta-sts-viktorbarzin-me",
  hostname = `mta-sts.${D}`,
): AnalyzerResource {
  return {
    type: T.workersCustomDomain,
    name: "mta-sts-domain",
    properties: { accountId: "PLACEHOLDER-account-id", zoneId: ZONE_ID, hostname, service },
  };
}

export function dnsRecords(): AnalyzerResource[] {
  return [
    record("mx", { name: D, type: "MX", content: `mail.${D}`, priority: 1 }),
    record("mail-a", { name: `mail.${D}`, type: "A", content: "176.12.22.76" }),
    record("mail-aaaa", { name: `mail.${D}`, type: "AAAA", content: "2001:470:6e:43d::2" }),
    txt("spf", D, "v=spf1 include:spf.brevo.com ~all"),
    txt("brevo-code", D, "brevo-code:a6ef1dd9c0f1b2a3d4e5f60718293a4b"),
    txt("dkim-mail", `mail._domainkey.${D}`, dkimContent(2048)),
    txt("dkim-s1", `s1._domainkey.${D}`, dkimContent(1024)),
    record("dkim-brevo1", {
      name: `brevo1._domainkey.${D}`,
      type: "CNAME",
      content: "b1.viktorbarzin-me.dkim.brevo.com",
    }),
    record("dkim-brevo2", {
      name: `brevo2._domainkey.${D}`,
      type: "CNAME",
      content: "b2.viktorbarzin-me.dkim.brevo.com",
    }),
    txt("dmarc", `_dmarc.${D}`, `v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@${D}`),
    txt("mta-sts", `_mta-sts.${D}`, `v=STSv1; id=${mtaStsId(mtaStsPolicy())}`),
    txt("tls-rpt", `_smtp._tls.${D}`, `v=TLSRPTv1; rua=mailto:postmaster@${D}`),
  ];
}

// The program's own name for it: the pack tests then prove the pack reads what the program writes.
export { OBSERVED_SERVER_ANNOTATION };

/** What the program records of the live chart server once the exported chart values are applied. */
export function observedServer(edit: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: "monitoring/prometheus-server",
    configMap: "mailserver-prometheus-rules",
    mounts: ["/etc/mailserver-rules"],
    watched: ["/etc/mailserver-rules"],
    ruleFiles: [
      "/etc/config/recording_rules.yml",
      "/etc/config/alerting_rules.yml",
      "/etc/config/rules",
      "/etc/config/alerts",
      "/etc/mailserver-rules/*.yml",
    ],
    ...edit,
  };
}

export const RULE_FILE = [
  "groups:",
  "  - name: mailserver-dovecot",
  "    rules:",
  "      - alert: DovecotAuthFailureBurst",
  '        expr: sum by (namespace) (increase(dovecot_auth_failures_total{namespace="mailserver"}[15m])) > 30',
  "        for: 5m",
  "",
].join("\n");

/** The alerts' ConfigMap in the chart's namespace, with the record of the server that loads it. */
export function rulesConfigMap(
  observed: Record<string, unknown> | null = observedServer(),
  name = "mailserver-prometheus-rules",
): AnalyzerResource {
  const cm = configMap(name, "monitoring", { "mailserver.rules.yml": RULE_FILE });
  const metadata = cm.properties.metadata as Record<string, unknown>;
  if (observed) metadata.annotations = { [OBSERVED_SERVER_ANNOTATION]: JSON.stringify(observed) };
  return cm;
}

export function goodStack(): AnalyzerResource[] {
  return [
    mailNamespace(true),
    configMap("mailserver-env", "mailserver", mailEnv()),
    mailConfig(),
    dkimSecret(),
    mailDeployment(),
    mailService(),
    pvc("mailserver-data-proxmox", true),
    pvc("roundcubemail-html-proxmox", true),
    pvc("roundcubemail-enigma-proxmox", true),
    roundcube(),
    opaqueSecret("roundcubemail-db", ["password"]),
    tlsSecret(),
    webmailIngress(),
    probeCronJob("*/20 * * * *"),
    opaqueSecret("probe", ["mailgun_api_key"]),
    rulesConfigMap(),
    crowdsecAcquisition(GOOD_ACQUISITION),
    crowdsecAgent(),
    ...dnsRecords(),
    mtaStsWorker(),
    mtaStsDomain(),
    clusterInventory(),
  ];
}

/** The good stack with the resource called `name` replaced (or appended when absent). */
export function withResource(
  replacement: AnalyzerResource,
  stack = goodStack(),
): AnalyzerResource[] {
  const i = stack.findIndex((r) => r.name === replacement.name && r.type === replacement.type);
  if (i < 0) return [...stack, replacement];
  return stack.map((r, j) => (j === i ? replacement : r));
}
