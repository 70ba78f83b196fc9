/**
 * The world's YAML, parsed once per text: in this process (the tests load the world many times)
 * and across processes through a cache of the parsed value as JSON, keyed by the text's SHA-256
 * and the `yaml` release. Parsing 450 kB of YAML was the largest part of a plan's start that the
 * program owns; JSON.parse of the same value is a small fraction of it. A value JSON cannot hold
 * (.inf, .nan) is not cached; a cache file that does not parse is parsed from the YAML again.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ROOT } from "../cli/project";

const CACHE_DIR = path.join(ROOT, "node_modules", ".cache", "world-yaml");
const inProcess = new Map<string, unknown>();

let release: string | undefined;
function yamlRelease(): string {
  if (release) return release;
  const pkg = JSON.parse(readFileSync(require.resolve("yaml/package.json"), "utf8")) as {
    version: string;
  };
  return (release = pkg.version);
}

/** Whether JSON gives `value` back as it is (finite numbers, plain data only). */
function jsonSafe(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(jsonSafe);
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every(jsonSafe);
  }
  return false;
}

function fromDisk(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

function toDisk(file: string, value: unknown): void {
  if (!jsonSafe(value)) return;
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    // Written aside and renamed: parallel test workers never read half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, file);
  } catch {
    // A read-only checkout parses every time.
  }
}

/** The parsed YAML `text`; each caller gets its own copy, as ready's edits mutate theirs. */
export function parseYamlCached(text: string): unknown {
  const key = createHash("sha256").update(`${yamlRelease()}\n${text}`).digest("hex");
  if (!inProcess.has(key)) {
    const file = path.join(CACHE_DIR, `${key}.json`);
    let value = fromDisk(file);
    if (value === undefined) {
      value = parse(text);
      toDisk(file, value);
    }
    inProcess.set(key, value);
  }
  return structuredClone(inProcess.get(key));
}
