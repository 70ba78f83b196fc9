/**
 * plain-text-public: plain text in the stack's namespaces is only what the pack knows is public.
 *
 * Why: a ConfigMap, an env literal, a command line or a Worker `plain_text` binding is readable by
 * anyone who can read the namespace or the Worker, and lands unencrypted in Pulumi state and in
 * preview diffs. no-literal-secrets recognises the secrets it knows the look of; anything else in
 * plain text passes it. Here the space is an allowlist: what is not known to be public is refused.
 *
 * Public: the keys of each ConfigMap listed in `publicFiles` (the files the program renders), the
 * keys of docker-mailserver's env ConfigMaps and env literals that are docker-mailserver 15.0.0
 * variables other than its credentials (`DMS_CREDENTIALS`), other containers' env literals listed
 * in `publicEnv`, command lines listed in `publicCommands`, Worker bindings in `publicBindings`.
 * An unknown value at preview is reported by the SDK as advisory and judged on outputs.
 *
 * Fix: move the value to a Secret (from Vault) and reference it, or, when it is public, list it
 * in this policy's config (policy/config.prod.json) where a reviewer sees it.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { DMS_ENV_SCHEMA_PROPERTIES, readConfig, SPEC } from "../lib/config";
import {
  containersOf,
  isDmsContainer,
  isWorkload,
  kindOf,
  nameOf,
  namespaceOf,
  podSpecOf,
  type ContainerRef,
} from "../lib/k8s";
import { at, isObject, keysOf, list, PreviewGaps, str, toPlain, type Plain } from "../lib/plain";
import { READ } from "../lib/dms-env.generated";
import { WORKER_SCRIPT_TYPES } from "../lib/workers";
import { unreadReason } from "./dms-env-known";

/**
 * docker-mailserver 15.0.0 variables that carry a credential (policy/data/dms-15.0.0-env.tsv:
 * RELAY_PASSWORD, LDAP_BIND_PW "the password to bind against ldap", DOVECOT_DNPASS, SASLAUTHD_
 * LDAP_PASSWORD, SRS_SECRET); the generic DOVECOT_/LDAP_/OAUTH2_ prefixes can set any key.
 */
const DMS_CREDENTIALS = [
  "RELAY_PASSWORD",
  "LDAP_BIND_PW",
  "DOVECOT_DNPASS",
  "SASLAUTHD_LDAP_PASSWORD",
  "SRS_SECRET",
];
const DMS_OPEN_PREFIXES = ["DOVECOT_", "LDAP_", "OAUTH2_"];
const READ_SET = new Set(READ);

/**
 * What the program renders (config.prod.json agrees): the config files it mounts, the env its
 * containers read, the probe's command line. Anything added is a reviewed change of this list.
 */
const PUBLIC_FILES: Record<string, string[]> = {
  "crowdsec/crowdsec-mail-acquisition": ["acquis-mail.yaml", "collections"],
  "mailserver/roundcubemail-config": ["tls-peer.inc.php"],
  "mailserver/email-roundtrip-monitor": ["email_roundtrip.py"],
  "mailserver/mailserver-config": [
    "backup-mx-permit.cidr",
    "dkim_signing.conf",
    "docs-at-viktorbarzin.me.dovecot.sieve",
    "dovecot.cf",
    "external_relay.conf",
    "force_actions.conf",
    "postfix-main.cf",
    "user-patches.sh",
  ],
  "monitoring/mailserver-prometheus-rules": ["mailserver.rules.yml"],
};
const PUBLIC_ENV: Record<string, string[]> = {
  "mailserver/roundcubemail/roundcubemail": [
    "ROUNDCUBEMAIL_DEFAULT_HOST",
    "ROUNDCUBEMAIL_DEFAULT_PORT",
    "ROUNDCUBEMAIL_SMTP_SERVER",
    "ROUNDCUBEMAIL_SMTP_PORT",
    "ROUNDCUBEMAIL_DB_TYPE",
    "ROUNDCUBEMAIL_DB_HOST",
    "ROUNDCUBEMAIL_DB_PORT",
    "ROUNDCUBEMAIL_DB_NAME",
    "ROUNDCUBEMAIL_DB_USER",
    "ROUNDCUBEMAIL_PLUGINS",
    "ROUNDCUBEMAIL_COMPOSER_PLUGINS",
  ],
  "mailserver/email-roundtrip-monitor/probe": [
    "MAILGUN_API_BASE",
    "MAILGUN_DOMAIN",
    "PROBE_FROM",
    "PROBE_TO",
    "IMAP_HOST",
    "IMAP_PORT",
    "IMAP_TLS_NAME",
    "IMAP_USER",
    "PUSHGATEWAY_URL",
    "PUSH_JOB",
    "POLL_TIMEOUT_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
  ],
};
const PUBLIC_COMMANDS: Record<string, string[]> = {
  "mailserver/email-roundtrip-monitor/probe": ["python3", "/probe/email_roundtrip.py"],
};

const configSchema: PolicyConfigSchema = {
  properties: {
    ...DMS_ENV_SCHEMA_PROPERTIES,
    namespaces: {
      type: "array",
      items: { type: "string" },
      default: [SPEC.mailNamespace, SPEC.crowdsecNamespace, "monitoring"],
      description: "Namespaces the stack deploys into",
    },
    publicFiles: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "string" } },
      default: PUBLIC_FILES,
      description: "Public keys of each ConfigMap, by namespace/name",
    },
    publicEnv: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "string" } },
      default: PUBLIC_ENV,
      description: "Public env literal names of each container, by namespace/workload/container",
    },
    publicCommands: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "string" } },
      default: PUBLIC_COMMANDS,
      description: "The public command + args of each container, by namespace/workload/container",
    },
    publicBindings: {
      type: "array",
      items: { type: "string" },
      default: ["MTA_STS_POLICY"],
      description: "Worker plain_text bindings that are public",
    },
  },
};

interface Config {
  namespace: string;
  envConfigMaps: string[];
  dmsImage: string;
  namespaces: string[];
  publicFiles: Record<string, string[]>;
  publicEnv: Record<string, string[]>;
  publicCommands: Record<string, string[]>;
  publicBindings: string[];
}

/** Why a docker-mailserver variable is not public, or undefined when it is. */
function dmsPrivateReason(key: string): string | undefined {
  if (DMS_CREDENTIALS.includes(key)) return "is a docker-mailserver credential";
  if (READ_SET.has(key)) return undefined;
  if (DMS_OPEN_PREFIXES.some((p) => key.startsWith(p)) && !unreadReason(key)) {
    return "sets an arbitrary Dovecot/LDAP/OAuth2 key, which may be a credential";
  }
  // A variable 15.0.0 does not read is dms-env-known's to refuse.
  return undefined;
}

/** Worker binding types whose value is readable in the dashboard and the script's settings. */
const PLAIN_BINDINGS = ["plain_text", "json"];

/** A namespace the stack is not known to deploy into (often `default`, by omission). */
const outside = (what: string, id: string, ns: string) =>
  `cannot verify: ${what} ${id} is in namespace ${ns}, which is not one the stack deploys into (plain-text-public.namespaces); set metadata.namespace or add the namespace to the list.`;

/** Namespace and name of an object the policy judges; outside the stack's namespaces, refused. */
function placeOf(
  what: string,
  props: Plain,
  name: string,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): [string, string] | undefined {
  const ns = namespaceOf(props);
  const objectName = nameOf(props, name);
  if (gaps.check(ns, name) || gaps.check(objectName, name)) return undefined;
  if (cfg.namespaces.includes(ns)) return [ns, objectName];
  report(outside(what, `${ns}/${objectName}`, ns));
  return undefined;
}

const TO_SECRET = "move it to a Secret (from Vault) or list it in plain-text-public";

function checkConfigMap(
  props: Plain,
  name: string,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
) {
  const where = placeOf("ConfigMap", props, name, cfg, report, gaps);
  if (!where) return;
  const [ns, cmName] = where;
  const id = `${ns}/${cmName}`;
  const keys = keysOf(props, ["data", "binaryData"], gaps);
  if (ns === cfg.namespace && cfg.envConfigMaps.includes(cmName)) {
    for (const key of keys) {
      const why = dmsPrivateReason(key);
      if (why) report(`ConfigMap ${id} key ${key} ${why}; ${TO_SECRET}.`);
    }
    return;
  }
  const known = cfg.publicFiles[id] ?? [];
  for (const key of keys.filter((k) => !known.includes(k))) {
    report(
      `ConfigMap ${id} key ${key} is plain text the pack does not know to be public; ${TO_SECRET}.publicFiles.`,
    );
  }
}

function checkContainer(
  id: string,
  c: ContainerRef,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
) {
  const dms = isDmsContainer(c.container, cfg.dmsImage);
  if (gaps.check(dms, id)) return;
  for (const entry of list(c.container.env)) {
    const name = str(at(entry, "name")) ?? "";
    const value = at(entry, "value");
    if (gaps.check(value, `${id} env ${name}`) || typeof value !== "string") continue;
    const why = dms
      ? dmsPrivateReason(name)
      : (cfg.publicEnv[id] ?? []).includes(name)
        ? undefined
        : "is not listed as public";
    if (why)
      report(`container ${id} env literal ${name} ${why}; ${TO_SECRET}${dms ? "" : ".publicEnv"}.`);
  }
  const words: string[] = [];
  for (const field of ["command", "args"]) {
    const v = at(c.container, field);
    if (gaps.check(v, `${id} ${field}`)) return;
    for (const w of list(v)) {
      if (gaps.check(w, `${id} ${field}`)) return;
      words.push(typeof w === "string" ? w : JSON.stringify(w));
    }
  }
  const known = cfg.publicCommands[id];
  if (words.length > 0 && JSON.stringify(known) !== JSON.stringify(words)) {
    report(
      `container ${id} command line is plain text the pack does not know to be public; ${TO_SECRET}.publicCommands (the whole command + args).`,
    );
  }
}

function checkWorkload(
  type: string,
  props: Plain,
  name: string,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
) {
  const where = placeOf("workload", props, name, cfg, report, gaps);
  if (!where) return;
  const [ns, workload] = where;
  for (const c of containersOf(podSpecOf(type, props))) {
    checkContainer(`${ns}/${workload}/${c.name}`, c, cfg, report, gaps);
  }
}

function checkWorker(
  props: Plain,
  name: string,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
) {
  const bindings = at(props, "bindings");
  if (gaps.check(bindings, name)) return;
  for (const b of list(bindings)) {
    if (!isObject(b) || gaps.check(b.type, name) || gaps.check(b.name, name)) continue;
    const type = str(b.type) ?? "";
    if (!PLAIN_BINDINGS.includes(type)) continue;
    const binding = JSON.stringify(b.name);
    if (typeof b.name === "string" && cfg.publicBindings.includes(b.name)) continue;
    report(
      `Worker ${name} ${type} binding ${binding} is readable in the Cloudflare dashboard and state; use a secret_text binding or list it in plain-text-public.publicBindings.`,
    );
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const isWorker = WORKER_SCRIPT_TYPES.includes(args.type);
  const isConfigMap = args.type.startsWith("kubernetes:") && kindOf(args.type) === "ConfigMap";
  if (!isWorker && !isConfigMap && !(args.type.startsWith("kubernetes:") && isWorkload(args.type)))
    return;
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const props = toPlain(args.props);
  const gaps = new PreviewGaps();
  if (isWorker) checkWorker(props, args.name, cfg, report, gaps);
  else if (isConfigMap) checkConfigMap(props, args.name, cfg, report, gaps);
  else checkWorkload(args.type, props, args.name, cfg, report, gaps);
  gaps.settle();
}

export const plainTextPublic: ResourceValidationPolicy = {
  name: "plain-text-public",
  description:
    "Plain text in the stack's namespaces and Workers is only what is known to be public.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
};
