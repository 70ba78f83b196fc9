/**
 * dms-env-known: every variable given to docker-mailserver is one that 15.0.0 reads.
 *
 * Why: DMS ignores variables it does not know, so a removed one (ONE_DIR, DMS_DEBUG), one from a
 * newer release (DMS_CONFIG_POLL, *__FILE) or a typo looks like configuration but silently does
 * nothing: e.g. a password "read from file" via RELAY_PASSWORD__FILE never reaches Postfix.
 *
 * Fix: remove the variable or use the 15.0.0 equivalent named in the message. The list is
 * generated from the checked reference table (policy/tools/gen-dms-env.ts); a deliberate
 * extra variable can be allowed with the allowExtra config.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DMS_ENV_SCHEMA_PROPERTIES, readConfig } from "../lib/config";
import {
  DEPRECATED,
  READ,
  READ_PREFIXES,
  UNREAD,
  UNREAD_SUBSTRINGS,
  UNREAD_SUFFIXES,
} from "../lib/dms-env.generated";
import {
  containersOf,
  hasKind,
  isDmsContainer,
  isWorkload,
  kindOf,
  nameOf,
  namespaceOf,
  podSpecOf,
} from "../lib/k8s";
import { at, keysOf, list, PreviewGaps, str, toPlain } from "../lib/plain";
import {
  dmsContainers,
  envFromConfigMaps,
  findObject,
  plainResources,
  type DmsContainer,
} from "../lib/stack";

const configSchema: PolicyConfigSchema = {
  properties: {
    ...DMS_ENV_SCHEMA_PROPERTIES,
    allowExtra: {
      type: "array",
      items: { type: "string" },
      default: [],
      description: "Variables to accept although 15.0.0 does not read them",
    },
  },
};

interface Config {
  namespace: string;
  envConfigMaps: string[];
  dmsImage: string;
  allowExtra: string[];
}

const READ_SET = new Set(READ);

/** Why docker-mailserver 15.0.0 would not act on `key`, or undefined when it would. */
export function unreadReason(key: string): string | undefined {
  const unread = UNREAD[key];
  if (unread) return `is not read by docker-mailserver 15.0.0 (${unread})`;
  const deprecated = DEPRECATED[key];
  if (deprecated) return `is deprecated (${deprecated})`;
  for (const [suffix, note] of Object.entries(UNREAD_SUFFIXES)) {
    if (key.endsWith(suffix))
      return `uses the ${suffix} suffix, which 15.0.0 does not support (${note})`;
  }
  for (const [part, note] of Object.entries(UNREAD_SUBSTRINGS)) {
    if (key.includes(part)) return `configures nothing in 15.0.0 (${note})`;
  }
  if (READ_SET.has(key) || READ_PREFIXES.some((p) => key.startsWith(p))) return undefined;
  return "is not a docker-mailserver 15.0.0 variable (typo?)";
}

function checkKeys(
  keys: string[],
  where: string,
  cfg: Config,
  report: ReportViolation,
  urn?: string,
): void {
  for (const key of keys) {
    const reason = cfg.allowExtra.includes(key) ? undefined : unreadReason(key);
    if (reason)
      report(`${key} in ${where} ${reason}; remove it or use the 15.0.0 equivalent.`, urn);
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const isConfigMap = kindOf(args.type) === "ConfigMap";
  if (!isConfigMap && !isWorkload(args.type)) return;
  const props = toPlain(args.props);
  const gaps = new PreviewGaps();
  if (isConfigMap) {
    const name = nameOf(props, args.name);
    const ns = namespaceOf(props);
    if (
      !gaps.check(name) &&
      !gaps.check(ns) &&
      ns === cfg.namespace &&
      cfg.envConfigMaps.includes(name)
    ) {
      checkKeys(keysOf(props, ["data"], gaps), `ConfigMap ${ns}/${name}`, cfg, report);
    }
  } else {
    for (const c of containersOf(podSpecOf(args.type, props))) {
      const dms = isDmsContainer(c.container, cfg.dmsImage);
      if (gaps.check(dms) || !dms) continue;
      const names = list(c.container.env).map((e) => str(at(e, "name")) ?? "");
      checkKeys(names, `env of container ${c.name}`, cfg, report);
    }
  }
  gaps.settle();
}

/** An envFrom source outside the stack: which variables it gives docker-mailserver is unseen. */
const unheld = (kind: string, id: string, c: DmsContainer) =>
  `cannot verify: container ${c.container.name} of ${c.workloadName} takes its env from ${kind} ${id}, which this stack does not hold, so the pack cannot see which variables it sets; create it in the stack or inline its variables in the env ConfigMap.`;

/**
 * envFrom sources the per-resource check cannot judge: ConfigMaps not listed in envConfigMaps,
 * any ConfigMap used with a prefix (the container sees prefix + key), and Secrets in the stack.
 */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  // Pod specs of any kind, and the ConfigMaps and Secrets their envFrom names.
  const resources = plainResources(args.resources, hasKind);
  const seen = new Set<string>();
  for (const c of dmsContainers(resources, cfg.dmsImage, gaps)) {
    for (const cm of envFromConfigMaps(resources, c, gaps)) {
      const id = `${c.namespace}/${cm.name}`;
      const listed = c.namespace === cfg.namespace && cfg.envConfigMaps.includes(cm.name);
      const judged = listed && cm.prefix === "";
      if (!cm.resource) {
        report(unheld("ConfigMap", id, c), c.workload.urn);
        continue;
      }
      if (judged || seen.has(`${id}:${cm.prefix}`)) continue;
      seen.add(`${id}:${cm.prefix}`);
      const keys = keysOf(cm.resource.props, ["data"], gaps).map((k) => cm.prefix + k);
      const how = cm.prefix ? ` (envFrom prefix ${cm.prefix})` : "";
      checkKeys(keys, `ConfigMap ${id}${how}`, cfg, report, cm.resource.urn);
    }
    for (const source of list(c.container.container.envFrom)) {
      const name = at(source, "secretRef", "name");
      if (gaps.check(name, c.workload.name) || typeof name !== "string") continue;
      const secret = findObject(resources, "Secret", c.namespace, name);
      if (!secret) {
        report(unheld("Secret", `${c.namespace}/${name}`, c), c.workload.urn);
        continue;
      }
      const prefix = str(at(source, "prefix")) ?? "";
      const keys = keysOf(secret.props, ["data", "stringData"], gaps).map((k) => prefix + k);
      checkKeys(keys, `Secret ${c.namespace}/${name}`, cfg, report, secret.urn);
    }
  }
  gaps.settle();
}

export const dmsEnvKnown: ResourceValidationPolicy & StackValidationPolicy = {
  name: "dms-env-known",
  description: "docker-mailserver env holds only variables that version 15.0.0 reads.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
