/**
 * What `npm run plan` and `npm run audit` share: the resource model sent to the policy pack,
 * secret handling, policy-pack config validation, the Analyze/AnalyzeStack pass and the report
 * (preview-like tree, Pulumi-style policy section, JSON). Nothing here prints a secret value: the
 * tree and the JSON are built from a redacted copy in which every secret is the string "[secret]".
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import {
  PolicyPackClient,
  type AnalyzerResource,
  type Diagnostic,
  type EnforcementLevel,
  type PackConfig,
  type PackInfo,
} from "./analyzer";
import { assertToolsFresh, PACK_DIR } from "./project";

/** Pulumi's wire markers: a secret is `{[SIG_KEY]: SECRET_SIG, value}` (or ciphertext/plaintext). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const SECRET_TEXT = "[secret]";

/** A failure caused by what the user gave us (arguments, files, config): exit 2, one line. */
export class InputError extends Error {}

/** One resource as the analyzer sees it; properties keep secrets wrapped in the wire envelope. */
export interface Item {
  urn: string;
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  protect: boolean;
  retainOnDelete: boolean;
  dependencies: string[];
  /** Sent to Analyze (the resource's inputs). */
  inputs: Record<string, unknown>;
  /** Sent to AnalyzeStack (the resource's outputs; under mocks the inputs echoed back). */
  outputs: Record<string, unknown>;
  /** Read with `.get()`, not managed by the stack (`external` in the state). */
  external?: boolean;
}

export interface Violation {
  policyPack: string;
  policyPackVersion: string;
  policy: string;
  level: EnforcementLevel;
  urn: string;
  type?: string;
  name?: string;
  message: string;
}

export interface Analysis {
  pack: { name: string; version: string; dir: string };
  violations: Violation[];
}

// ---------------------------------------------------------------------------------------------
// Secrets

export function isSecretEnvelope(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
  );
}

export function wrapSecret(value: unknown): Record<string, unknown> {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/**
 * Re-wraps the values at `secretPaths` (paths as tools/mock-program.ts builds them: `a.b[0].c`).
 * The walk rebuilds the same path strings, so keys containing dots cannot be confused.
 */
export function wrapAtPaths(value: unknown, secretPaths: string[]): unknown {
  if (secretPaths.length === 0) return value;
  const wanted = new Set(secretPaths);
  const walk = (node: unknown, at: string): unknown => {
    if (at !== "" && wanted.has(at)) return wrapSecret(node);
    if (Array.isArray(node)) return node.map((v, i) => walk(v, `${at}[${i}]`));
    if (node && typeof node === "object") {
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => [k, walk(v, at ? `${at}.${k}` : k)]),
      );
    }
    return node;
  };
  return walk(value, "");
}

/** A copy with every secret envelope replaced by "[secret]": what may be shown or written. */
export function redact(value: unknown): unknown {
  if (isSecretEnvelope(value)) return SECRET_TEXT;
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
  }
  return value;
}

/** Every string inside a secret envelope (also inside JSON-looking plaintext), for scrubbing. */
export function secretStrings(
  value: unknown,
  out = new Set<string>(),
  inSecret = false,
): Set<string> {
  if (isSecretEnvelope(value)) {
    secretStrings(value.value, out, true);
    if (typeof value.plaintext === "string") out.add(value.plaintext);
    return out;
  }
  if (typeof value === "string") {
    if (inSecret && value.length >= 4) {
      out.add(value);
      // Multi-line secrets (files) may be quoted line by line.
      for (const line of value.split("\n")) if (line.trim().length >= 8) out.add(line.trim());
    }
  } else if (Array.isArray(value)) {
    for (const v of value) secretStrings(v, out, inSecret);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) secretStrings(v, out, inSecret);
  }
  return out;
}

/** Replaces any secret string in `text` (longest first) with "[secret]". */
export function scrub(text: string, secrets: Set<string>): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(SECRET_TEXT);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Policy pack config (`--policy-pack-config`, policy/config.<stack>.json)

const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

/** Reads and shape-checks a config file the way the CLI parses it; schema checks come later. */
export function readPackConfig(file: string): PackConfig {
  const text = readInput(file, "policy pack config");
  if (text.trim() === "") return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`policy pack config ${file} is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) {
    throw new InputError(`policy pack config ${file} must be a JSON object of policy names`);
  }
  for (const [name, entry] of Object.entries(doc)) {
    if (typeof entry === "string") {
      if (!LEVELS.includes(entry as EnforcementLevel)) {
        throw new InputError(
          `policy pack config ${file}: "${name}": ${JSON.stringify(entry)} is not an enforcement level (${LEVELS.join("|")})`,
        );
      }
    } else if (isObject(entry)) {
      const level = entry.enforcementLevel;
      if (level !== undefined && !LEVELS.includes(level as EnforcementLevel)) {
        throw new InputError(
          `policy pack config ${file}: "${name}".enforcementLevel ${JSON.stringify(level)} is not one of ${LEVELS.join("|")}`,
        );
      }
    } else {
      throw new InputError(
        `policy pack config ${file}: "${name}" must be an enforcement level or an object`,
      );
    }
  }
  return doc as PackConfig;
}

/**
 * Checks a config against the pack's own metadata, as the CLI does before Configure: known policy
 * names ("all" sets every level), and each policy's merged properties against its configSchema.
 * Returns the config with "all" expanded. Throws InputError naming the first problem.
 */
export function checkPackConfig(info: PackInfo, config: PackConfig, file: string): PackConfig {
  const { all, ...rest } = config;
  const unknown = Object.keys(rest).filter((n) => !info.policies.some((p) => p.name === n));
  if (unknown.length > 0) {
    throw new InputError(
      `policy pack config ${file}: no policy named ${unknown.map((n) => `"${n}"`).join(", ")} in pack ${info.name}`,
    );
  }
  const allLevel = typeof all === "string" ? all : all?.enforcementLevel;
  if (all !== undefined && typeof all !== "string" && Object.keys(all).length > 1) {
    throw new InputError(`policy pack config ${file}: "all" takes only an enforcement level`);
  }
  const result: PackConfig = {};
  for (const policy of info.policies) {
    const entry = rest[policy.name];
    const given = typeof entry === "string" ? { enforcementLevel: entry } : { ...(entry ?? {}) };
    if (given.enforcementLevel === undefined && allLevel) given.enforcementLevel = allLevel;
    const props: Record<string, unknown> = { ...given };
    delete props.enforcementLevel;
    const merged: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(policy.configSchema?.properties ?? {})) {
      if (schema.default !== undefined) merged[key] = schema.default;
    }
    Object.assign(merged, props);
    const schema = {
      type: "object",
      properties: policy.configSchema?.properties ?? {},
      required: policy.configSchema?.required ?? [],
    };
    const problem = validateSchema(schema, merged, "");
    if (problem) {
      throw new InputError(`policy pack config ${file}: ${policy.name}: ${problem}`);
    }
    if (entry !== undefined || allLevel) result[policy.name] = given;
  }
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** The JSON Schema keywords policy config schemas use; returns the first problem or undefined. */
export function validateSchema(schema: unknown, value: unknown, at: string): string | undefined {
  if (!isObject(schema)) return undefined;
  const where = at || "config";
  const show = (v: unknown) => JSON.stringify(v);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual = jsonType(value);
    const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
    if (!ok) return `${where} must be ${types.join(" or ")}, got ${show(value)}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value))) {
    return `${where} must be one of ${schema.enum.map(show).join(", ")}, got ${show(value)}`;
  }
  if ("const" in schema && !deepEqual(schema.const, value)) {
    return `${where} must be ${show(schema.const)}, got ${show(value)}`;
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) {
      return `${where} must be >= ${schema.minimum}, got ${value}`;
    }
    if (typeof schema.maximum === "number" && value > schema.maximum) {
      return `${where} must be <= ${schema.maximum}, got ${value}`;
    }
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
      return `${where} must be > ${schema.exclusiveMinimum}, got ${value}`;
    }
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
      return `${where} must be < ${schema.exclusiveMaximum}, got ${value}`;
    }
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength) {
      return `${where} must have at least ${schema.minLength} characters`;
    }
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) {
      return `${where} must have at most ${schema.maxLength} characters`;
    }
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) {
      return `${where} must match /${schema.pattern}/, got ${show(value)}`;
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) {
      return `${where} must have at least ${schema.minItems} items`;
    }
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) {
      return `${where} must have at most ${schema.maxItems} items`;
    }
    if (schema.uniqueItems === true) {
      const seen = value.map((v) => JSON.stringify(v));
      if (new Set(seen).size !== seen.length) return `${where} must not repeat items`;
    }
    for (let i = 0; i < value.length; i++) {
      const problem = validateSchema(schema.items, value[i], `${where}[${i}]`);
      if (problem) return problem;
    }
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    for (const key of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
      if (!(key in value)) return `${at ? `${at}.` : ""}${key} is required`;
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = at ? `${at}.${key}` : key;
      if (key in props) {
        const problem = validateSchema(props[key], v, sub);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        return `${sub} is not a known property`;
      } else if (isObject(schema.additionalProperties)) {
        const problem = validateSchema(schema.additionalProperties, v, sub);
        if (problem) return problem;
      }
    }
  }
  return undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---------------------------------------------------------------------------------------------
// Running the pack

export { PACK_DIR };

/** Starts the pack once (as the CLI does), validates `config` against it and configures it. */
export async function startPack(
  config: PackConfig,
  configFile: string,
  stack: string,
  packDir = PACK_DIR,
): Promise<{ pack: PolicyPackClient; info: PackInfo; config: PackConfig }> {
  if (!existsSync(path.join(packDir, "PulumiPolicy.yaml"))) {
    throw new InputError(`no policy pack in ${packDir} (PulumiPolicy.yaml missing)`);
  }
  const pack = await PolicyPackClient.start(packDir, {}, { stack });
  try {
    const info = await pack.getAnalyzerInfo();
    const checked = checkPackConfig(info, config, configFile);
    await pack.configure(checked);
    return { pack, info, config: checked };
  } catch (err) {
    await pack.close();
    throw err;
  }
}

function toAnalyzerResource(item: Item, props: Record<string, unknown>): AnalyzerResource {
  return {
    type: item.type,
    name: item.name,
    urn: item.urn,
    properties: props,
    options: { protect: item.protect, ...(item.parent ? { parent: item.parent } : {}) },
    dependencies: item.dependencies,
  };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Analyze for every resource (inputs), then AnalyzeStack for all of them (outputs), as the
 * engine does. Remediate-level diagnostics count as mandatory (the engine's downgrade); a
 * stack-level diagnostic without a URN is attributed to the root stack.
 */
export async function analyze(
  pack: PolicyPackClient,
  info: PackInfo,
  items: Item[],
  stackUrn: string,
): Promise<Violation[]> {
  const secrets = new Set<string>();
  for (const item of items) {
    secretStrings(item.inputs, secrets);
    secretStrings(item.outputs, secrets);
  }
  const byUrn = new Map(items.map((i) => [i.urn, i]));
  const toViolation = (d: Diagnostic, urn: string): Violation => {
    const target = byUrn.get(urn);
    return {
      policyPack: d.policyPackName || info.name,
      policyPackVersion: d.policyPackVersion || info.version,
      policy: d.policyName,
      level: d.enforcementLevel === "remediate" ? "mandatory" : d.enforcementLevel,
      urn,
      ...(target ? { type: target.type, name: target.name } : {}),
      message: scrub(d.message, secrets),
    };
  };
  // Objects the stack only read (`external`) belong to the stacks that manage them; the plan
  // never sends them to the pack, so the audit of its export does not either.
  items = items.filter((i) => !i.external);
  const perResource = await pool(items, 16, async (item) => {
    const res = await pack.analyze(toAnalyzerResource(item, item.inputs));
    return res.diagnostics.map((d) => toViolation(d, item.urn));
  });
  const stack = await pack.analyzeStack(items.map((i) => toAnalyzerResource(i, i.outputs)));
  const stackViolations = stack.diagnostics.map((d) =>
    toViolation(d, d.urn && byUrn.has(d.urn) ? d.urn : stackUrn),
  );
  return [...perResource.flat(), ...stackViolations];
}

// ---------------------------------------------------------------------------------------------
// Report

const RANK: Record<EnforcementLevel, number> = {
  remediate: 0,
  mandatory: 1,
  advisory: 2,
  disabled: 3,
};

export function sortViolations(violations: Violation[]): Violation[] {
  return [...violations].sort(
    (a, b) =>
      RANK[a.level] - RANK[b.level] ||
      a.policy.localeCompare(b.policy) ||
      a.urn.localeCompare(b.urn) ||
      a.message.localeCompare(b.message),
  );
}

export function mandatoryCount(violations: Violation[]): number {
  return violations.filter((v) => v.level === "mandatory" || v.level === "remediate").length;
}

/** The "Policies:" section the way `pulumi preview` prints it (without colours). */
export function renderPolicies(analysis: Analysis, packLabel: string): string[] {
  const lines = ["Policies:"];
  const violations = sortViolations(analysis.violations);
  const mark =
    mandatoryCount(violations) > 0
      ? "❌"
      : violations.some((v) => v.level !== "disabled")
        ? "⚠️"
        : "✅";
  lines.push(`    ${mark} ${analysis.pack.name}@v${analysis.pack.version} (local: ${packLabel})`);
  for (const v of violations) {
    const clause = v.type ? `  (${v.type}: ${v.name})` : `  (${v.urn})`;
    lines.push(`        - [${v.level}]  ${v.policy}${clause}`);
    for (const line of v.message.replace(/\n$/, "").split("\n")) lines.push(`          ${line}`);
  }
  return lines;
}

/** The resource tree: parent → children, with the properties that matter for each. */
export function renderTree(items: Item[]): string[] {
  const children = new Map<string, Item[]>();
  const urns = new Set(items.map((i) => i.urn));
  const roots: Item[] = [];
  for (const item of items) {
    if (item.parent && urns.has(item.parent)) {
      const list = children.get(item.parent) ?? [];
      list.push(item);
      children.set(item.parent, list);
    } else {
      roots.push(item);
    }
  }
  const order = (list: Item[]) =>
    [...list].sort(
      (a, b) =>
        Number(a.custom) - Number(b.custom) ||
        a.type.localeCompare(b.type) ||
        a.name.localeCompare(b.name),
    );
  const typeWidth = Math.min(
    64,
    Math.max(...items.map((i) => i.type.length + 3 * depthOf(i, items))),
  );
  const lines = [`    ${"Type".padEnd(typeWidth + 2)}Name`];
  const visit = (item: Item, prefix: string, last: boolean, top: boolean) => {
    const branch = top ? "" : last ? "└─ " : "├─ ";
    const head = `${prefix}${branch}${item.type}`;
    lines.push(`    ${head.padEnd(typeWidth + 2)}${item.name}`);
    const childPrefix = top ? "" : prefix + (last ? "   " : "│  ");
    const kids = order(children.get(item.urn) ?? []);
    const detailGuide = kids.length > 0 ? "│  " : "   ";
    for (const detail of describe(item)) {
      lines.push(`    ${childPrefix}${detailGuide}    ${detail}`);
    }
    kids.forEach((kid, i) => visit(kid, childPrefix, i === kids.length - 1, false));
  };
  order(roots).forEach((r) => visit(r, "", true, true));
  return lines;
}

function depthOf(item: Item, items: Item[]): number {
  const byUrn = new Map(items.map((i) => [i.urn, i]));
  let depth = 0;
  let at = byUrn.get(item.parent);
  while (at && depth < 50) {
    depth++;
    at = byUrn.get(at.parent);
  }
  return depth;
}

type Obj = Record<string, unknown>;

function get(node: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((n, k) => (isObject(n) ? n[k] : undefined), node);
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function short(value: unknown, max = 90): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  const flat = text.replace(/\n/g, "\\n");
  return flat.length > max ? `${flat.slice(0, max - 20)}…(${text.length} chars)` : flat;
}

/** Wraps `key=value` parts into lines of at most ~100 characters. */
function wrap(label: string, parts: string[]): string[] {
  const lines: string[] = [];
  let line = `${label}:`;
  for (const part of parts) {
    if (line.length + part.length + 1 > 100 && line !== `${label}:`) {
      lines.push(line);
      line = "  ";
    }
    line += ` ${part}`;
  }
  lines.push(line);
  return lines;
}

/** A property value as display text (objects as JSON, absent as ""). */
function s(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return `${value}`;
  return JSON.stringify(value);
}

const POD_SPEC_PATH: Record<string, string> = {
  Deployment: "spec.template.spec",
  StatefulSet: "spec.template.spec",
  DaemonSet: "spec.template.spec",
  ReplicaSet: "spec.template.spec",
  Job: "spec.template.spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
  Pod: "spec",
};

/** Lines describing what matters about a resource, from its redacted inputs. */
export function describe(item: Item): string[] {
  const inputs = redact(item.inputs) as Obj;
  const lines: string[] = [];
  const flags = [item.protect ? "protect" : "", item.retainOnDelete ? "retainOnDelete" : ""].filter(
    Boolean,
  );
  if (item.type.startsWith("kubernetes:") && typeof inputs.kind === "string") {
    lines.push(...describeKubernetes(inputs));
  } else if (/^cloudflare:index\/(dnsRecord:DnsRecord|record:Record)$/.test(item.type)) {
    const content = inputs.content ?? inputs.value;
    const extra = [
      inputs.priority !== undefined ? `priority ${s(inputs.priority)}` : "",
      inputs.proxied !== undefined ? `proxied ${s(inputs.proxied)}` : "",
      inputs.ttl !== undefined ? `ttl ${s(inputs.ttl)}` : "",
    ].filter(Boolean);
    lines.push(`${s(inputs.type)} ${s(inputs.name)} → ${short(content, 110)}`);
    if (extra.length) lines.push(extra.join(", "));
  } else if (item.custom) {
    const scalars = Object.entries(inputs)
      .filter(([, v]) => v === null || typeof v !== "object")
      .slice(0, 6)
      .map(([k, v]) => `${k}=${short(v, 60)}`);
    if (scalars.length) lines.push(...wrap("inputs", scalars));
  }
  if (flags.length) lines.push(flags.join(", "));
  return lines;
}

function describeKubernetes(inputs: Obj): string[] {
  const kind = s(inputs.kind);
  const ns = get(inputs, "metadata.namespace");
  const name = get(inputs, "metadata.name");
  const lines = [`${kind} ${typeof ns === "string" ? `${ns}/` : ""}${s(name ?? "(auto-named)")}`];
  const podPath = POD_SPEC_PATH[kind];
  if (podPath) {
    const top = [
      get(inputs, "spec.replicas") !== undefined
        ? `replicas ${s(get(inputs, "spec.replicas"))}`
        : "",
      typeof get(inputs, "spec.strategy.type") === "string"
        ? `strategy ${s(get(inputs, "spec.strategy.type"))}`
        : "",
      typeof get(inputs, "spec.schedule") === "string"
        ? `schedule "${s(get(inputs, "spec.schedule"))}"`
        : "",
      typeof get(inputs, "spec.concurrencyPolicy") === "string"
        ? `concurrencyPolicy ${s(get(inputs, "spec.concurrencyPolicy"))}`
        : "",
    ].filter(Boolean);
    if (top.length) lines.push(top.join(", "));
    const pod = get(inputs, podPath);
    const containers = [
      ...list(get(pod, "initContainers")).map((c) => ({ c, init: true })),
      ...list(get(pod, "containers")).map((c) => ({ c, init: false })),
    ];
    for (const { c, init } of containers) {
      const ports = list(c.ports).map((p) => `${s(p.containerPort)}/${s(p.protocol ?? "TCP")}`);
      const add = get(c, "securityContext.capabilities.add");
      const parts = [
        `${init ? "init " : ""}container ${s(c.name)}: ${s(c.image)}`,
        ports.length ? `ports ${ports.join(",")}` : "",
        Array.isArray(add) && add.length ? `caps +${add.join(",+")}` : "",
      ].filter(Boolean);
      lines.push(parts.join("  "));
    }
  } else if (kind === "Service") {
    const spec = (get(inputs, "spec") ?? {}) as Obj;
    const annotations = (get(inputs, "metadata.annotations") ?? {}) as Obj;
    const ip = Object.entries(annotations).find(([k]) => k.endsWith("/loadBalancerIPs"));
    lines.push(
      [
        `type ${s(spec.type ?? "ClusterIP")}`,
        spec.externalTrafficPolicy ? `externalTrafficPolicy ${s(spec.externalTrafficPolicy)}` : "",
        ip ? `IP ${s(ip[1])}` : "",
        spec.loadBalancerIP ? `loadBalancerIP ${s(spec.loadBalancerIP)}` : "",
      ]
        .filter(Boolean)
        .join(", "),
    );
    const ports = list(spec.ports).map(
      (p) =>
        `${p.name ? `${s(p.name)} ` : ""}${s(p.port)}→${s(p.targetPort ?? p.port)}/${s(p.protocol ?? "TCP")}`,
    );
    if (ports.length) lines.push(...wrap("ports", ports));
  } else if (kind === "ConfigMap") {
    const data = {
      ...((get(inputs, "data") ?? {}) as Obj),
      ...((get(inputs, "binaryData") ?? {}) as Obj),
    };
    const parts = Object.entries(data).map(([k, v]) =>
      typeof v === "string" && !v.includes("\n") && v.length <= 40
        ? `${k}=${v}`
        : `${k}(${typeof v === "string" ? v.split("\n").length : "?"} lines)`,
    );
    if (parts.length) lines.push(...wrap("data", parts));
  } else if (kind === "Secret") {
    const keys = [
      ...Object.keys(get(inputs, "data") ?? {}),
      ...Object.keys(get(inputs, "stringData") ?? {}),
    ];
    const whole = get(inputs, "stringData") === SECRET_TEXT || get(inputs, "data") === SECRET_TEXT;
    lines.push(
      `type ${s(get(inputs, "type") ?? "Opaque")}, ${whole ? "data [secret]" : `keys ${keys.join(", ") || "(none)"} [secret]`}`,
    );
  } else if (kind === "PersistentVolumeClaim") {
    lines.push(
      [
        `storageClass ${s(get(inputs, "spec.storageClassName") ?? "(default)")}`,
        `size ${s(get(inputs, "spec.resources.requests.storage"))}`,
        `access ${((get(inputs, "spec.accessModes") as string[] | undefined) ?? []).join(",")}`,
      ].join(", "),
    );
  } else if (kind === "Ingress") {
    const rules = list(get(inputs, "spec.rules")).flatMap((r) =>
      list(get(r, "http.paths")).map(
        (p) =>
          `${s(r.host ?? "*")}${s(p.path ?? "/")} → ${s(get(p, "backend.service.name"))}:${s(get(p, "backend.service.port.number") ?? get(p, "backend.service.port.name"))}`,
      ),
    );
    const cls = get(inputs, "spec.ingressClassName");
    if (cls) lines.push(`class ${s(cls)}`);
    if (rules.length) lines.push(...wrap("rules", rules));
  } else if (Array.isArray(get(inputs, "spec.groups"))) {
    const groups = list(get(inputs, "spec.groups"));
    const rules = groups.flatMap((g) => list(g.rules));
    const alerts = rules.map((r) => r.alert).filter((a): a is string => typeof a === "string");
    lines.push(`${groups.length} groups, ${rules.length} rules`);
    if (alerts.length) lines.push(...wrap("alerts", alerts));
  } else {
    const spec = get(inputs, "spec");
    if (isObject(spec)) lines.push(...wrap("spec", Object.keys(spec)));
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// JSON report and output files

export interface JsonReport {
  tool: "plan" | "audit";
  stack: string;
  project: string;
  source: string;
  policyPack: { name: string; version: string; path: string };
  policyPackConfig: string;
  resources: { urn: string; type: string; name: string; parent: string; inputs: unknown }[];
  violations: Violation[];
  summary: { resources: number; violations: number; mandatory: number; advisory: number };
}

export function jsonReport(
  tool: "plan" | "audit",
  meta: { stack: string; project: string; source: string; configFile: string },
  items: Item[],
  analysis: Analysis,
): JsonReport {
  const violations = sortViolations(analysis.violations);
  return {
    tool,
    stack: meta.stack,
    project: meta.project,
    source: meta.source,
    policyPack: {
      name: analysis.pack.name,
      version: analysis.pack.version,
      path: path.relative(process.cwd(), analysis.pack.dir) || ".",
    },
    policyPackConfig: meta.configFile,
    resources: items.map((i) => ({
      urn: i.urn,
      type: i.type,
      name: i.name,
      parent: i.parent,
      inputs: redact(i.inputs),
    })),
    violations,
    summary: {
      resources: items.length,
      violations: violations.length,
      mandatory: mandatoryCount(violations),
      advisory: violations.filter((v) => v.level === "advisory").length,
    },
  };
}

/** Reads a file the user named; a missing or unreadable file is an InputError naming it. */
export function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : (err as Error).message;
    throw new InputError(`cannot read ${what} ${file}: ${why}`);
  }
}

/** A file or directory to write once everything succeeded. */
export type Output =
  | { kind: "file"; path: string; text: string }
  | {
      kind: "dir";
      path: string;
      files: { name: string; text: string }[];
    };

/** Refuses output paths that cannot be written before any work is done. */
export function checkOutputPath(target: string, kind: "file" | "dir"): void {
  const dir = kind === "file" ? path.dirname(path.resolve(target)) : path.resolve(target);
  let probe = dir;
  while (!existsSync(probe)) probe = path.dirname(probe);
  if (kind === "file" && existsSync(target) && !isFile(target)) {
    throw new InputError(`cannot write ${target}: it is a directory`);
  }
  if (!isDir(probe)) throw new InputError(`cannot write ${target}: ${probe} is not a directory`);
}

function isFile(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Writes each output through a temporary name and a rename, so a file is whole or absent. */
export function writeOutputs(outputs: Output[]): void {
  for (const out of outputs) {
    if (out.kind === "file") {
      mkdirSync(path.dirname(path.resolve(out.path)), { recursive: true });
      const tmp = `${out.path}.tmp-${process.pid}`;
      writeFileSync(tmp, out.text);
      renameSync(tmp, out.path);
    } else {
      const tmp = `${path.resolve(out.path)}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      for (const f of out.files) writeFileSync(path.join(tmp, f.name), f.text);
      if (existsSync(out.path)) {
        // Replace only the files this tool writes (*.yaml); leave anything else in place.
        mkdirSync(out.path, { recursive: true });
        for (const old of readdirSync(out.path)) {
          if (old.endsWith(".yaml")) rmSync(path.join(out.path, old));
        }
        for (const f of out.files) renameSync(path.join(tmp, f.name), path.join(out.path, f.name));
        rmSync(tmp, { recursive: true, force: true });
      } else {
        renameSync(tmp, out.path);
      }
    }
  }
}

/** Parses `--flag value` / `--flag=value` options; unknown flags and missing values throw. */
export function parseArgs(
  argv: string[],
  spec: Record<string, "string" | "boolean">,
): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new InputError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = spec[name];
    if (!kind) throw new InputError(`unknown option --${name} (see --help)`);
    if (kind === "boolean") {
      out[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
      throw new InputError(`option --${name} needs a value`);
    }
    out[name] = value;
  }
  return out;
}

/** Runs a CLI's main: InputError → one line and exit 2; other failures → one line and exit 2. */
export function runCli(main: (argv: string[]) => Promise<number>): void {
  Promise.resolve()
    .then(() => {
      assertToolsFresh();
      return main(process.argv.slice(2));
    })
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        const firstLine = message.split("\n")[0];
        console.error(`error: ${firstLine}`);
        if (process.env.PLAN_DEBUG && err instanceof Error) console.error(err.stack);
        process.exitCode = 2;
      },
    );
}

/** Prints the whole human report; returns the exit code (1 when any violation is mandatory). */
export function printReport(header: string[], items: Item[], analysis: Analysis): number {
  const out: string[] = [...header, ""];
  out.push(...renderTree(items));
  const components = items.filter((i) => !i.custom).length;
  out.push(
    "",
    `Resources: ${items.length} (${items.length - components} custom, ${components} components and stack)`,
  );
  const root = items.find((i) => i.type === "pulumi:pulumi:Stack" && !i.parent);
  const outputs = root ? (redact(root.outputs) as Record<string, unknown>) : {};
  if (Object.keys(outputs).length > 0) {
    out.push("", "Outputs:");
    for (const [k, v] of Object.entries(outputs)) out.push(`    ${k}: ${short(v, 96)}`);
  }
  out.push("");
  out.push(...renderPolicies(analysis, path.relative(process.cwd(), analysis.pack.dir) || "."));
  const mandatory = mandatoryCount(analysis.violations);
  const advisory = analysis.violations.filter((v) => v.level === "advisory").length;
  out.push(
    "",
    `${mandatory} mandatory and ${advisory} advisory violation(s) from ${analysis.pack.name}@v${analysis.pack.version}` +
      (mandatory > 0 ? ": FAIL" : ": PASS"),
  );
  process.stdout.write(`${out.join("\n")}\n`);
  return mandatory > 0 ? 1 : 0;
}
