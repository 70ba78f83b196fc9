/**
 * Policy pack config (`--policy-pack-config`, policy/config.<stack>.json): the one set of rules,
 * the way the CLI applies them before Configure. A file maps policy names to an enforcement level
 * or to properties plus an optional level; `all` sets the level of every policy and takes nothing
 * else; names the pack lacks are refused; each policy's properties are its schema defaults with the
 * given values over them, checked against its configSchema. Every problem is reported at once.
 */
import { readFileSync } from "node:fs";
import type { EnforcementLevel, PackInfo } from "./wire";
import { isObject } from "../report/model";

/** `--policy-pack-config` file shape: a level, or properties plus an optional level. */
export type PackConfig = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

/** Per-policy configuration as sent to Configure: every policy, levels resolved, defaults applied. */
export type EffectiveConfig = Record<
  string,
  { enforcementLevel: EnforcementLevel; properties: Record<string, unknown> }
>;

/** Config that cannot be used; the message lists every problem on one line. */
export class PackConfigError extends Error {}

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

function isLevel(value: unknown): value is EnforcementLevel {
  return LEVELS.includes(value as EnforcementLevel);
}

function fail(source: string, problems: string[]): never {
  throw new PackConfigError(`policy pack config ${source}: ${problems.join("; ")}`);
}

/** Reads a config file: JSON, an object, each entry a level or an object with a valid level. */
export function readPackConfig(file: string): PackConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code;
    throw new PackConfigError(`cannot read policy pack config ${file}: ${why}`);
  }
  if (text.trim() === "") return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PackConfigError(`policy pack config ${file} is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) {
    throw new PackConfigError(`policy pack config ${file} must be a JSON object of policy names`);
  }
  const problems = Object.entries(doc).flatMap(([name, entry]) => entryProblems(name, entry));
  if (problems.length > 0) fail(file, problems);
  return doc as PackConfig;
}

function entryProblems(name: string, entry: unknown): string[] {
  const levels = LEVELS.join("|");
  if (typeof entry === "string") {
    return isLevel(entry)
      ? []
      : [`"${name}": ${JSON.stringify(entry)} is not an enforcement level (${levels})`];
  }
  if (!isObject(entry)) return [`"${name}" must be an enforcement level or an object`];
  const level = entry.enforcementLevel;
  if (level !== undefined && !isLevel(level)) {
    return [`"${name}".enforcementLevel ${JSON.stringify(level)} is not one of ${levels}`];
  }
  if (name === "all" && Object.keys(entry).some((k) => k !== "enforcementLevel")) {
    return [`"all" takes only an enforcement level`];
  }
  return [];
}

/**
 * The config Configure receives: for every policy of the pack, its level (given, else `all`, else
 * its own) and its properties (schema defaults, given values over them), checked against its
 * schema. `source` names the config in messages.
 */
export function resolvePackConfig(
  info: PackInfo,
  config: PackConfig,
  source = "(pack defaults)",
): EffectiveConfig {
  const problems = Object.entries(config).flatMap(([name, entry]) => entryProblems(name, entry));
  const { all, ...given } = config;
  const unknown = Object.keys(given).filter((n) => !info.policies.some((p) => p.name === n));
  if (unknown.length > 0) {
    const names = unknown.map((n) => `"${n}"`).join(", ");
    problems.push(`no policy named ${names} in pack ${info.name} (unknown policies are refused)`);
  }
  const allLevel = typeof all === "string" ? all : all?.enforcementLevel;
  const result: EffectiveConfig = {};
  for (const policy of info.policies) {
    const entry = given[policy.name];
    const { enforcementLevel, ...props } =
      typeof entry === "string" ? { enforcementLevel: entry } : (entry ?? {});
    const schema = policy.configSchema;
    const properties: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
      if (prop.default !== undefined) properties[key] = structuredClone(prop.default);
    }
    Object.assign(properties, props);
    const objectSchema = {
      type: "object",
      properties: schema?.properties,
      required: schema?.required,
    };
    problems.push(
      ...schemaProblems(objectSchema, properties, "").map((p) => `${policy.name}: ${p}`),
    );
    result[policy.name] = {
      enforcementLevel: enforcementLevel ?? allLevel ?? policy.enforcementLevel,
      properties,
    };
  }
  if (problems.length > 0) fail(source, problems);
  return result;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/**
 * The JSON Schema keywords the pack's config schemas use (type, enum, properties, required,
 * additionalProperties, items); tests/plan checks the pack uses no other. Returns every problem.
 */
export function schemaProblems(schema: unknown, value: unknown, at: string): string[] {
  if (!isObject(schema)) return [];
  const where = at || "config";
  const show = (v: unknown) => JSON.stringify(v);
  if (typeof schema.type === "string") {
    const actual = jsonType(value);
    if (actual !== schema.type && !(schema.type === "number" && actual === "integer")) {
      return [`${where} must be ${schema.type}, got ${show(value)}`];
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => show(e) === show(value))) {
    return [`${where} must be one of ${schema.enum.map(show).join(", ")}, got ${show(value)}`];
  }
  if (Array.isArray(value)) {
    return value.flatMap((v, i) => schemaProblems(schema.items, v, `${where}[${i}]`));
  }
  if (!isObject(value)) return [];
  const props = isObject(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const problems = required
    .filter((key) => !(key in value))
    .map((key) => `${at ? `${at}.` : ""}${key} is required`);
  for (const [key, v] of Object.entries(value)) {
    const sub = at ? `${at}.${key}` : key;
    if (key in props) problems.push(...schemaProblems(props[key], v, sub));
    else if (schema.additionalProperties === false) problems.push(`${sub} is not a known property`);
    else problems.push(...schemaProblems(schema.additionalProperties, v, sub));
  }
  return problems;
}
