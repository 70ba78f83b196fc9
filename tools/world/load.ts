/**
 * The recorded world (world/): what the owner's cluster, Cloudflare zone, Vault and
 * docker-mailserver's startup do, as data with its sources. This module only reads and checks
 * those files and applies the runbook's edits; it imports no value from components/ or lib/, so
 * nothing here can be the program's own picture of the world.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { ROOT } from "../cli/project";
import { parseYamlCached } from "./yaml-cache";

export const WORLD_DIR = path.join(ROOT, "world");

export const WORLDS = ["today", "ready"] as const;
export type WorldName = (typeof WORLDS)[number];

export interface Source {
  repo?: string;
  commit?: string;
  release?: string;
  doc?: string;
  url?: string;
  path?: string;
  lines?: string;
}

export interface Fact {
  id: string;
  source: Source[];
  note?: string;
  value: unknown;
}

export interface WorldFile {
  system: string;
  as_of: string;
  facts: Fact[];
}

/** One change the runbook asks of another stack or of the owner (world/ready/edits.yaml). */
export interface Edit {
  /** The runbook step it comes from, e.g. "docs/cutover.md step 2". */
  step: string;
  /** Who makes the change: a stack of the owner's repository, or the owner. */
  by: string;
  /** The today/ file it changes, e.g. "kubernetes". */
  file: string;
  fact: string;
  op: "merge" | "add" | "remove";
  why: string;
  value?: unknown;
  source?: Source[];
}

export interface World {
  name: WorldName;
  files: Record<string, WorldFile>;
  /** The edits applied (none for today). */
  edits: Edit[];
}

export class WorldError extends Error {}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function sourceProblem(s: unknown): string | undefined {
  if (!isMap(s)) return "a source must be a map";
  if (typeof s.repo === "string") {
    return typeof s.commit === "string" && typeof s.path === "string"
      ? undefined
      : "a repository source needs commit and path";
  }
  if (typeof s.release === "string") {
    return typeof s.path === "string" ? undefined : "a release source needs path";
  }
  if (typeof s.doc === "string") {
    return typeof s.url === "string" ? undefined : "a documentation source needs url";
  }
  return "a source needs repo+commit+path, release+path or doc+url";
}

/** Every problem of a parsed world file: shape, unique ids, a source on every fact. */
export function worldFileProblems(name: string, doc: unknown): string[] {
  if (!isMap(doc) || typeof doc.system !== "string" || !Array.isArray(doc.facts)) {
    return [`${name}: expected a map with system, as_of and facts`];
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  doc.facts.forEach((f: unknown, i) => {
    const at = `${name} facts[${i}]`;
    if (!isMap(f) || typeof f.id !== "string") {
      problems.push(`${at}: expected a map with an id`);
      return;
    }
    if (seen.has(f.id)) problems.push(`${at}: id "${f.id}" appears twice`);
    seen.add(f.id);
    const sources = Array.isArray(f.source) ? f.source : [];
    if (sources.length === 0) problems.push(`${at} (${f.id}): no source`);
    for (const s of sources) {
      const p = sourceProblem(s);
      if (p) problems.push(`${at} (${f.id}): ${p}`);
    }
    if (!("value" in f)) problems.push(`${at} (${f.id}): no value`);
  });
  return problems;
}

function readYaml(file: string): unknown {
  return parseYamlCached(readFileSync(file, "utf8"));
}

/** RFC 7386 JSON merge patch: maps merge, anything else replaces, null deletes. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function applyEdit(files: Record<string, WorldFile>, e: Edit, at: string): void {
  const file = files[e.file];
  if (!file) throw new WorldError(`${at}: no world file "${e.file}"`);
  const i = file.facts.findIndex((f) => f.id === e.fact);
  if (e.op === "add") {
    if (i >= 0) throw new WorldError(`${at}: ${e.file} already has "${e.fact}"`);
    file.facts.push({ id: e.fact, source: e.source ?? [], value: e.value });
    return;
  }
  if (i < 0) throw new WorldError(`${at}: ${e.file} has no fact "${e.fact}"`);
  if (e.op === "remove") file.facts.splice(i, 1);
  else file.facts[i] = { ...file.facts[i], value: mergePatch(file.facts[i].value, e.value) };
}

function editProblems(doc: unknown): string[] {
  if (!isMap(doc) || !Array.isArray(doc.edits)) return ["ready/edits.yaml: expected edits: [...]"];
  const problems: string[] = [];
  doc.edits.forEach((e: unknown, i) => {
    const at = `ready/edits.yaml edits[${i}]`;
    if (!isMap(e)) {
      problems.push(`${at}: expected a map`);
      return;
    }
    for (const key of ["step", "by", "file", "fact", "why"]) {
      if (typeof e[key] !== "string" || e[key] === "") problems.push(`${at}: "${key}" is missing`);
    }
    if (!["merge", "add", "remove"].includes(String(e.op))) {
      problems.push(`${at}: op "${String(e.op)}": expected merge, add or remove`);
    }
    if (typeof e.step === "string" && !/^docs\/cutover\.md step \d+/.test(e.step)) {
      problems.push(`${at}: step "${e.step}": expected "docs/cutover.md step N"`);
    }
  });
  return problems;
}

/** Reads world/today (and, for ready, applies world/ready/edits.yaml); any problem throws. */
export function loadWorld(name: WorldName = "today", dir = WORLD_DIR): World {
  const files: Record<string, WorldFile> = {};
  const problems: string[] = [];
  const todayDir = path.join(dir, "today");
  for (const f of readdirSync(todayDir).filter((x) => x.endsWith(".yaml"))) {
    const doc = readYaml(path.join(todayDir, f));
    const found = worldFileProblems(`today/${f}`, doc);
    problems.push(...found);
    if (found.length === 0) files[f.replace(/\.yaml$/, "")] = doc as WorldFile;
  }
  let edits: Edit[] = [];
  if (name === "ready") {
    const doc = readYaml(path.join(dir, "ready", "edits.yaml"));
    const found = editProblems(doc);
    problems.push(...found);
    if (found.length === 0) edits = (doc as { edits: Edit[] }).edits;
  }
  if (problems.length > 0)
    throw new WorldError(`world/ is not valid:\n  - ${problems.join("\n  - ")}`);
  edits.forEach((e, i) => applyEdit(files, e, `ready/edits.yaml edits[${i}] (${e.step})`));
  return { name, files, edits };
}

/** docker-mailserver's startup edits (world/dms-15.0.0/startup.yaml). */
export function loadDmsStartup(dir = WORLD_DIR): WorldFile {
  const doc = readYaml(path.join(dir, "dms-15.0.0", "startup.yaml"));
  const problems = worldFileProblems("dms-15.0.0/startup.yaml", doc);
  if (problems.length > 0) throw new WorldError(problems.join("; "));
  return doc as WorldFile;
}

/** The facts of one system, empty when the world has no such file. */
export function facts(world: World, file: string): Fact[] {
  return world.files[file]?.facts ?? [];
}

export function fact(world: World, file: string, id: string): Fact | undefined {
  return facts(world, file).find((f) => f.id === id);
}

/** Kubernetes objects by `<type token> <namespace>/<name>`: how a mocked `.get()` finds them. */
export function kubernetesObjects(world: World): Map<string, Record<string, unknown>> {
  return new Map(
    facts(world, "kubernetes")
      .filter((f) => /^kubernetes:/.test(f.id) && isMap(f.value))
      .map((f) => [f.id, f.value as Record<string, unknown>]),
  );
}
