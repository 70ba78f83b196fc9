/**
 * The stack configuration: read once from the Pulumi config, validated with one schema, and handed
 * to the components as typed values. Every problem is reported at once, before any resource exists.
 */
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import {
  DKIM_SELECTOR,
  DMARC_ALIGNMENTS,
  DMARC_FAILURE_OPTIONS,
  isHostname,
  isWithinDomain,
  mailboxDomain,
  MTA_STS_MAX_AGE_LIMIT,
  MTA_STS_MODES,
  SPF_ALL,
  SPF_MAX_LOOKUPS,
} from "./dns-text";

/** Pulumi config namespace of this project (`mailserver:<key>` in `Pulumi.<stack>.yaml`). */
export const CONFIG_NAMESPACE = "mailserver";

const hostname = () =>
  z
    .hostname({ error: "expected a DNS hostname such as mail.example.com" })
    .refine((h) => h.includes("."), {
      error: "expected a fully qualified hostname (with a dot)",
    });
const email = () => z.email({ error: "expected an email address such as postmaster@example.com" });

/*
 * Names and addresses published in DNS are checked by the same predicates the record builders of
 * lib/dns-text.ts apply, so a value accepted here is never refused after resources exist.
 */
const dnsName = () =>
  hostname().refine(isHostname, {
    error: "expected a lower-case DNS name of LDH labels, without a trailing dot",
  });
const mailbox = () =>
  email().refine((a) => mailboxDomain(a) !== undefined, {
    error: "expected a plain local@domain address with a lower-case DNS domain",
  });
const dkimSelector = () =>
  z.string().regex(DKIM_SELECTOR, {
    error: "expected a DKIM selector of lower-case DNS labels such as mail or brevo1",
  });
const ipv4 = () => z.ipv4({ error: "expected an IPv4 address such as 10.0.20.202" });
const ipv6 = () => z.ipv6({ error: "expected an IPv6 address such as 2001:db8::2" });
const cidrv4 = () => z.cidrv4({ error: "expected an IPv4 CIDR such as 10.0.20.0/24" });
const k8sName = () =>
  z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: "expected a Kubernetes name (lowercase letters, digits and '-', at most 63)",
  });

/** Kubernetes quantities for storage and memory (binary or decimal suffix). */
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const quantity = () =>
  z.string().regex(QUANTITY, { error: "expected a Kubernetes quantity such as 2Gi or 512Mi" });
const cpuQuantity = () =>
  z.string().regex(/^[0-9]+(\.[0-9]+)?m?$/, { error: "expected a CPU quantity such as 100m or 1" });

/**
 * An OCI image reference pinned to a tag or a digest. `latest` and a missing tag are refused: an
 * image that moves under the stack is a change nobody reviewed. `versioned` also refuses a bare
 * digest, for an image whose release decides what its config means (docker-mailserver's env
 * variables belong to one release; the pack's dms-env-known refuses it as well).
 */
const IMAGE =
  /^(?:[a-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;
const image = (versioned = false) =>
  z.string().superRefine((ref, ctx) => {
    const match = IMAGE.exec(ref);
    if (!match) {
      ctx.addIssue({
        code: "custom",
        message: "expected an image reference such as docker.io/org/app:1.2.3",
      });
    } else if (!match.groups?.digest && (!match.groups?.tag || match.groups.tag === "latest")) {
      ctx.addIssue({
        code: "custom",
        message: "expected an image pinned to a version tag or digest (not :latest)",
      });
    } else if (versioned && !match.groups?.tag) {
      ctx.addIssue({
        code: "custom",
        message:
          "expected a version tag, with the digest after it if pinned (<repo>:<tag>@sha256:…)",
      });
    }
  });

/** A five-field cron schedule, parsed by cron-parser so that what passes here is what Kubernetes runs. */
const cron = () =>
  z.string().superRefine((expr, ctx) => {
    if (expr.trim().split(/\s+/).length !== 5) {
      ctx.addIssue({
        code: "custom",
        message: "expected a five-field cron schedule such as */20 * * * *",
      });
      return;
    }
    try {
      CronExpressionParser.parse(expr, { tz: "UTC" });
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        message: `expected a valid cron schedule (${(err as Error).message})`,
      });
    }
  });

/** Kubernetes' default NodePort range (kube-apiserver --service-node-port-range). */
const NODE_PORT_ERROR = "expected a node port in Kubernetes' default range 30000-32767";
const nodePort = () =>
  z
    .int({ error: NODE_PORT_ERROR })
    .min(30000, { error: NODE_PORT_ERROR })
    .max(32767, { error: NODE_PORT_ERROR });

const duration = () =>
  z.string().regex(/^[0-9]+[smhd]$/, { error: "expected a Postfix time such as 60s or 1m" });

const storage = z.strictObject({
  storageClass: k8sName(),
  size: quantity(),
});

const resources = z.strictObject({
  requests: z.strictObject({ cpu: cpuQuantity(), memory: quantity() }),
  limits: z.strictObject({ memory: quantity() }),
});

const mailServerSchema = z.strictObject({
  image: image(true),
  hostname: dnsName(),
  loadBalancerIp: ipv4(),
  relay: z.strictObject({ host: hostname(), port: z.int().min(1).max(65535) }),
  // One label: the selector is also part of the key's file name in Rspamd's dkim directory.
  dkimSelector: dkimSelector().regex(/^[a-z0-9-]+$/, {
    error: "expected a DKIM selector such as mail (one label, no dots)",
  }),
  storage: storage.extend({ name: k8sName(), maxSize: quantity() }).superRefine(checkMaxSize),
  rateLimits: z.strictObject({
    clientConnectionRateLimit: z.int().positive(),
    clientMessageRateLimit: z.int().positive(),
    anvilRateTimeUnit: duration(),
  }),
  trustedNetworks: z.array(cidrv4()).default([]),
  resources,
  /**
   * The PROXY-v2 path of pfSense HAProxy (the live `mailserver-proxy` NodePort Service): the
   * networks allowed to send a PROXY header to Dovecot, and the Service's node ports.
   */
  proxy: z
    .strictObject({
      trustedNetworks: z.array(cidrv4()).min(1, {
        error: "expected at least one CIDR allowed to send PROXY headers (the nodes' subnet)",
      }),
      nodePorts: z.strictObject({
        smtp: nodePort(),
        submissions: nodePort(),
        submission: nodePort(),
        imaps: nodePort(),
        smtpCheck: nodePort(),
        submissionsCheck: nodePort(),
        submissionCheck: nodePort(),
      }),
    })
    .superRefine(checkNodePortsUnique)
    .optional(),
  /** The backup MX (ADR-0019): the address its drain connects from, permitted past Postfix's PTR check. */
  backupMx: z.strictObject({ drainSource: cidrv4() }).optional(),
  /** Aliases kept in the repository, appended after Vault's (infra extra/aliases.txt). */
  extraAliases: z
    .array(
      z.strictObject({
        address: mailbox(),
        targets: z.array(email()).min(1, { error: "expected at least one target address" }),
        why: z.string().min(1, { error: "expected the reason for the alias" }),
      }),
    )
    .superRefine(checkAliasesUnique)
    .default([]),
  /** Per-mailbox Sieve allowlists: mail from any other sender is discarded at delivery. */
  senderAllowlists: z
    .array(
      z.strictObject({
        mailbox: mailbox().regex(/^[a-z0-9._-]+@/, {
          error:
            "expected a mailbox whose local part is lower-case letters, digits, '.', '_' or '-' (it names a file)",
        }),
        senders: z.array(email()).min(1, { error: "expected at least one allowed sender" }),
        why: z.string().min(1, { error: "expected the reason for the allowlist" }),
      }),
    )
    .default([]),
});

/** Each node port once: Kubernetes refuses a Service that repeats one. */
function checkNodePortsUnique(
  proxy: { nodePorts: Record<string, number> },
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  const seen = new Map<number, string>();
  for (const [key, port] of Object.entries(proxy.nodePorts)) {
    const first = seen.get(port);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["nodePorts", key],
        input: port,
        message: `expected a node port not used by another key: ${port} is also nodePorts.${first}`,
      });
    }
    seen.set(port, key);
  }
}

/** Each alias address once: a second line would shadow the first in Postfix's table. */
function checkAliasesUnique(
  aliases: { address: string }[],
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  const seen = new Set<string>();
  aliases.forEach((a, i) => {
    if (seen.has(a.address)) {
      ctx.addIssue({
        code: "custom",
        path: [i, "address"],
        input: a.address,
        message: "expected an address not listed by another alias",
      });
    }
    seen.add(a.address);
  });
}

/**
 * A Traefik Middleware CRD as an Ingress annotation names it: `<namespace>-<name>@kubernetescrd`
 * (doc.traefik.io, routing-configuration/kubernetes/ingress, "Referencing resources in
 * annotations"); namespace and name are Kubernetes names.
 */
const TRAEFIK_CRD_MIDDLEWARE =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?-[a-z0-9]([-a-z0-9]*[a-z0-9])?@kubernetescrd$/;

const webmailSchema = z.strictObject({
  image: image(),
  host: hostname(),
  ingressClassName: k8sName(),
  database: z.strictObject({
    host: hostname(),
    port: z.int().min(1).max(65535),
    name: z.string().regex(/^[A-Za-z0-9_]+$/, { error: "expected a MySQL database name" }),
    user: z.string().regex(/^[A-Za-z0-9_]+$/, { error: "expected a MySQL user name" }),
  }),
  htmlStorage: storage.extend({ name: k8sName() }),
  enigmaStorage: storage.extend({ name: k8sName() }),
  resources,
  /** Plugins Roundcube loads (`ROUNDCUBEMAIL_PLUGINS`), bundled or installed by Composer. */
  plugins: z
    .array(
      z
        .string()
        .regex(/^[a-z0-9_]+$/, { error: "expected a Roundcube plugin name such as enigma" }),
    )
    .min(1),
  /** Composer packages the image installs at start-up (`ROUNDCUBEMAIL_COMPOSER_PLUGINS`). */
  composerPlugins: z
    .array(
      z.string().regex(/^[a-z0-9_.-]+\/[a-z0-9_.-]+(:[^,\s]+)?$/, {
        error: "expected a Composer package such as vendor/plugin or vendor/plugin:1.2.3",
      }),
    )
    .default([]),
  /**
   * Traefik's router for the Ingress: the middlewares it chains, in order, and the entry points it
   * listens on (the `traefik.ingress.kubernetes.io/router.*` annotations).
   */
  ingress: z.strictObject({
    middlewares: z
      .array(
        z.string().regex(TRAEFIK_CRD_MIDDLEWARE, {
          error:
            "expected a Middleware CRD reference <namespace>-<name>@kubernetescrd such as traefik-retry@kubernetescrd",
        }),
      )
      .refine((list) => new Set(list).size === list.length, {
        error: "expected each middleware once",
      }),
    entrypoints: z
      .array(
        z.string().regex(/^[A-Za-z0-9_-]+$/, {
          error: "expected a Traefik entry point name such as websecure",
        }),
      )
      .min(1),
  }),
});

const dnsSchema = z.strictObject({
  publicIpv4: ipv4(),
  publicIpv6: ipv6(),
  mxPriority: z.int().min(0).max(65535),
  // MX hosts other stacks publish in the zone (the backup MX): listed in the MTA-STS policy only.
  otherMxHosts: z.array(z.strictObject({ hostname: dnsName(), owner: z.string().min(1) })),
  spf: z.strictObject({
    // A refinement, not .max(): a failed length check would stop the cross-key rules below.
    includes: z
      .array(dnsName())
      .min(1)
      .refine((list) => list.length <= SPF_MAX_LOOKUPS, {
        error: `expected at most ${SPF_MAX_LOOKUPS} includes (RFC 7208 §4.6.4 allows ${SPF_MAX_LOOKUPS} DNS lookups)`,
      }),
    all: z.enum(SPF_ALL, { error: "expected ~all or -all (never +all or ?all)" }),
  }),
  dmarc: z.strictObject({
    policy: z.enum(["quarantine", "reject"], {
      error: "expected quarantine or reject (p=none does not enforce)",
    }),
    subdomainPolicy: z
      .enum(["quarantine", "reject"], {
        error: "expected quarantine or reject (sp=none leaves subdomains unenforced)",
      })
      .optional(),
    pct: z.int().min(1).max(100),
    fo: z
      .string()
      .regex(DMARC_FAILURE_OPTIONS, { error: "expected 0, 1, d or s, colon-separated" })
      .optional(),
    ri: z
      .int()
      .min(1)
      .max(2 ** 32 - 1)
      .optional(),
    adkim: z.enum(DMARC_ALIGNMENTS, { error: "expected r (relaxed) or s (strict)" }).optional(),
    aspf: z.enum(DMARC_ALIGNMENTS, { error: "expected r (relaxed) or s (strict)" }).optional(),
    rua: z.array(mailbox()).min(1),
    ruf: z.array(mailbox()).optional(),
    externalDestinations: z
      .array(z.strictObject({ domain: dnsName(), evidence: z.string().min(1) }))
      .optional(),
  }),
  mtaSts: z.strictObject({
    mode: z.enum(MTA_STS_MODES),
    maxAgeSeconds: z
      .int()
      .min(86400)
      .max(MTA_STS_MAX_AGE_LIMIT, {
        error: `expected at most ${MTA_STS_MAX_AGE_LIMIT} seconds (RFC 8461 §3.2)`,
      }),
  }),
  tlsRptRua: mailbox(),
  brevoDkim: z.array(z.strictObject({ selector: dkimSelector(), target: dnsName() })),
  // Public DNS data (the live `brevo-code:` TXT, world/today/cloudflare.yaml), so config, not Vault.
  brevoVerificationCode: z.string().regex(/^[A-Za-z0-9]{8,64}$/, {
    error:
      "expected Brevo's domain-verification code: 8-64 letters or digits, no brevo-code: prefix",
  }),
  legacyDkimSelector: dkimSelector(),
});

const probeSchema = z
  .strictObject({
    schedule: cron(),
    image: image(),
    recipient: email(),
    imapUser: email(),
    mailgunApiBase: z.url({ protocol: /^https$/, error: "expected an https:// URL" }),
    mailgunDomain: hostname(),
    pushgatewayUrl: z.url({ protocol: /^https?$/, error: "expected an http(s):// URL" }),
    dailyQuota: z.int().positive(),
    quotaHeadroom: z.number().gt(0).lte(1),
  })
  .superRefine(checkProbeQuota);

const absolutePath = () =>
  z.string().regex(/^(\/[A-Za-z0-9._-]+)+$/, {
    error: "expected an absolute directory path such as /etc/mailserver-rules",
  });

/**
 * Which Prometheus reads the mail stack's scrape targets and alerts. `chart`: the
 * prometheus-community `prometheus` chart the cluster runs (pod annotations for scraping; the rule
 * file in a ConfigMap the chart's server mounts, checked at preview against the live server).
 * `operator`: a Prometheus Operator (PodMonitor and PrometheusRule, whose CRDs are checked at
 * preview).
 */
const prometheusSchema = z.discriminatedUnion(
  "setup",
  [
    z.strictObject({
      setup: z.literal("chart"),
      /** Namespace of the chart's release; the rules ConfigMap goes there. */
      namespace: k8sName(),
      /** The chart's server Deployment (`<release>-server`) and its config ConfigMap. */
      serverDeployment: k8sName(),
      serverConfigMap: k8sName(),
      /** Where the server mounts the rules ConfigMap (outside the chart's /etc/config). */
      rulesMountPath: absolutePath(),
    }),
    z.strictObject({
      setup: z.literal("operator"),
      /** Labels the operator's ruleSelector and podMonitorSelector require. */
      ruleLabels: z.record(z.string(), z.string()).default({}),
    }),
  ],
  { error: 'expected setup "chart" (the prometheus-community chart) or "operator"' },
);

const monitoringSchema = z.strictObject({
  prometheus: prometheusSchema,
  probe: probeSchema,
});

/**
 * The live CrowdSec agent (the crowdsec Helm chart of the CrowdSec stack) the program reads at
 * preview: its DaemonSet, its container, and every ConfigMap it loads acquisitions from (the
 * chart's `acquis-configmap` and any the stack's values mount into acquis.d).
 */
const crowdsecAgentSchema = z.strictObject({
  daemonSet: k8sName(),
  container: k8sName(),
  acquisitionConfigMaps: z.array(k8sName()).min(1),
});

const crowdsecSchema = z.strictObject({
  namespace: k8sName(),
  containerRuntime: z.enum(["containerd", "docker"]),
  collections: z.array(z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/)).min(1),
  agent: crowdsecAgentSchema,
});

/**
 * The certificate the mail server and the webmail serve: the cluster's `kubernetes.io/tls` Secret
 * that Kyverno keeps in every namespace and Woodpecker renews (docs/architecture/mailserver.md,
 * "TLS"). The stack mounts it and never creates it; the preview reads it (ClusterPreflight).
 */
const tlsSchema = z.strictObject({
  secretName: k8sName(),
});

const vaultPath = z.strictObject({ mount: z.string().min(1), name: z.string().min(1) });

/**
 * Minor version of the cluster's Kubernetes ("1.34"): the tests validate every planned object
 * against the upstream OpenAPI schema of this version (tests/kubernetes/schema.test.ts).
 */
const kubernetesMinor = () =>
  z
    .string()
    .regex(/^1\.[0-9]{1,2}$/, { error: 'expected a Kubernetes minor version such as "1.34"' });

const vaultSchema = z.strictObject({
  platform: vaultPath,
  personal: vaultPath,
  /**
   * Use the given token itself instead of a short-lived child token (the Vault provider's default).
   * The owner's Terraform sets the same for every stack (infra terragrunt.hcl, provider "vault").
   */
  skipChildToken: z.boolean().default(true),
});

export const stackConfigSchema = z
  .strictObject({
    domain: hostname(),
    kubernetesVersion: kubernetesMinor(),
    namespace: k8sName(),
    mailserver: mailServerSchema,
    webmail: webmailSchema,
    dns: dnsSchema,
    monitoring: monitoringSchema,
    crowdsec: crowdsecSchema,
    tls: tlsSchema,
    vault: vaultSchema,
    /**
     * Cutover from Terraform: resource URN -> ID of the existing object to import instead of
     * create (written by `npm run adopt`, docs/cutover.md). Checked against the program's
     * adoptable resources in `lib/adopt.ts#checkAdoptMap`.
     */
    adopt: z
      .record(z.string(), z.string().min(1, { error: "expected the ID of the existing object" }))
      .superRefine(checkAdoptKeys)
      .default({}),
  })
  // Run even when other keys failed: every problem is reported in one message.
  .superRefine(checkCrossFieldRules, { when: () => true });

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type MailServerConfig = StackConfig["mailserver"];
export type ProbeConfig = StackConfig["monitoring"]["probe"];
export type VaultPath = z.infer<typeof vaultPath>;

/**
 * Runs of a cron schedule on a day it runs (UTC): the probe's sends per day. Every such day has
 * the same runs, the product of its second, minute and hour fields, so no day is walked through.
 */
export function runsPerDay(schedule: string): number {
  const { second, minute, hour } = CronExpressionParser.parse(schedule, { tz: "UTC" }).fields;
  return second.values.length * minute.values.length * hour.values.length;
}

type Ctx = z.core.$RefinementCtx<unknown>;

const URN = /^urn:pulumi:[^:]+::[^:]+::[^:]+(:[^:]+)*::.+$/;

/** Keys of the adoption map are resource URNs; each wrong one is named with its value. */
function checkAdoptKeys(map: Record<string, string>, ctx: Ctx): void {
  for (const key of Object.keys(map).filter((k) => !URN.test(k))) {
    ctx.addIssue({
      code: "custom",
      path: [key],
      input: key,
      message: "expected a resource URN such as urn:pulumi:prod::mailserver::...",
    });
  }
}

/**
 * Rules that relate keys. They run on a config that may have failed elsewhere, so each reads its
 * values defensively and is skipped when an input is itself invalid (that is already reported).
 */
function checkCrossFieldRules(cfg: unknown, ctx: Ctx): void {
  const c = cfg as DeepPartial<StackConfig>;
  const issue = (path: PropertyKey[], input: unknown, message: string) =>
    ctx.addIssue({ code: "custom", path, input, message });
  const domain = typeof c.domain === "string" && isHostname(c.domain) ? c.domain : undefined;
  const host = c.mailserver?.hostname;
  if (domain && typeof host === "string" && isHostname(host) && !host.endsWith(`.${domain}`)) {
    issue(["mailserver", "hostname"], host, `expected a host inside the domain ${domain}`);
  }
  const includes = c.dns?.spf?.includes;
  if (Array.isArray(includes) && !includes.includes("spf.brevo.com")) {
    issue(
      ["dns", "spf", "includes"],
      includes,
      "expected spf.brevo.com among the includes: Brevo relays all outbound mail",
    );
  }
  for (const [path, address] of outsideReportAddresses(c, domain)) {
    issue(
      path,
      address,
      `expected an address @${domain} or a domain listed in dns.dmarc.externalDestinations (an outside destination needs its _report._dmarc authorisation, RFC 7489 §7.1)`,
    );
  }
  for (const [path, selector] of duplicateSelectors(c)) {
    issue(
      path,
      selector,
      `expected a DKIM selector not used by another key: "${selector}" names one record`,
    );
  }
}

/** DMARC report addresses outside the domain whose destination is not listed as authorised. */
function outsideReportAddresses(
  c: DeepPartial<StackConfig>,
  domain: string | undefined,
): [PropertyKey[], string][] {
  const dmarc = c.dns?.dmarc;
  if (!domain || !dmarc) return [];
  const listed = new Set((dmarc.externalDestinations ?? []).map((d) => d?.domain));
  const found: [PropertyKey[], string][] = [];
  for (const tag of ["rua", "ruf"] as const) {
    const list = dmarc[tag];
    if (!Array.isArray(list)) continue;
    list.forEach((address: unknown, i) => {
      if (typeof address !== "string") return;
      const at = mailboxDomain(address);
      if (at && !isWithinDomain(at, domain) && !listed.has(at)) {
        found.push([["dns", "dmarc", tag, i], address]);
      }
    });
  }
  return found;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Each DKIM selector after its first use: one name holds one key (or one CNAME), never two. */
function duplicateSelectors(c: DeepPartial<StackConfig>): [PropertyKey[], string][] {
  const brevo = Array.isArray(c.dns?.brevoDkim) ? c.dns.brevoDkim : [];
  const uses: [PropertyKey[], unknown][] = [
    [["mailserver", "dkimSelector"], c.mailserver?.dkimSelector],
    [["dns", "legacyDkimSelector"], c.dns?.legacyDkimSelector],
    ...brevo.map((d, i): [PropertyKey[], unknown] => [
      ["dns", "brevoDkim", i, "selector"],
      d?.selector,
    ]),
  ];
  const seen = new Set<string>();
  const duplicates: [PropertyKey[], string][] = [];
  for (const [path, selector] of uses) {
    if (typeof selector !== "string") continue;
    if (seen.has(selector)) duplicates.push([path, selector]);
    seen.add(selector);
  }
  return duplicates;
}

function checkProbeQuota(
  probe: Pick<ProbeConfig, "schedule" | "dailyQuota" | "quotaHeadroom">,
  ctx: Ctx,
): void {
  let runs: number;
  try {
    runs = runsPerDay(probe.schedule);
  } catch {
    return; // the schedule itself is already reported
  }
  const allowed = Math.floor(probe.dailyQuota * probe.quotaHeadroom);
  if (runs > allowed) {
    ctx.addIssue({
      code: "custom",
      path: ["schedule"],
      input: probe.schedule,
      message: `expected at most ${allowed} runs a day (${probe.quotaHeadroom * 100}% of the ${probe.dailyQuota}/day Mailgun quota); this schedule runs ${runs} times a day`,
    });
  }
}

const UNITS: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** Bytes of a Kubernetes quantity string already validated by the schema. */
export function quantityBytes(q: string): number {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  return m ? Number(m[1]) * (UNITS[m[2]] ?? 1) : NaN;
}

function checkMaxSize(s: { size: string; maxSize: string }, ctx: Ctx): void {
  if (quantityBytes(s.maxSize) < quantityBytes(s.size)) {
    ctx.addIssue({
      code: "custom",
      path: ["maxSize"],
      input: s.maxSize,
      message: `expected at least the initial size ${s.size}`,
    });
  }
}

/** One line a problem: `mailserver:<path> = <value>: <expected>`. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

function keyOf(path: PropertyKey[]): string {
  return [CONFIG_NAMESPACE, path.map(String).join(".")].filter(Boolean).join(":");
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined,
    root,
  );
}

function show(value: unknown): string {
  return value === undefined ? "(missing)" : JSON.stringify(value);
}

/** Lines of `key = value: what was expected`; an unknown key gets a line of its own. */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => {
      const path = [...issue.path, k];
      return `${keyOf(path)} = ${show(valueAt(raw, path))}: unknown key, remove it or fix its spelling`;
    });
  }
  // A union's issue carries the whole object as input; the path names the discriminator.
  const value =
    "input" in issue && issue.code !== "invalid_union" ? issue.input : valueAt(raw, issue.path);
  const expected =
    issue.code === "invalid_type" && value === undefined
      ? `required ${issue.expected} is missing`
      : issue.message;
  return [`${keyOf(issue.path)} = ${show(value)}: ${expected}`];
}

/**
 * Validates raw config values (keys without the namespace, structured values already decoded) and
 * returns the typed config, or throws one ConfigError listing every problem.
 */
export function parseConfig(raw: Record<string, unknown>): StackConfig {
  const result = stackConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, raw)));
  }
  return result.data;
}

/**
 * Turns Pulumi's flat config map (`mailserver:key` → string, structured values as JSON) into the
 * raw object `parseConfig` validates. Keys of other namespaces (providers) are left to them.
 */
export function rawConfigFromPulumi(all: Record<string, string>): Record<string, unknown> {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(prefix)) {
      raw[key.slice(prefix.length)] = decodeValue(value);
    }
  }
  return raw;
}

function decodeValue(value: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}
