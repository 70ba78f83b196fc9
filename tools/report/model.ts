/**
 * The resource model plan and audit pass around, and Pulumi's secret envelope inside it. Secrets
 * stay wrapped from the program run (or the stack export) to the pack; what is shown or written
 * goes through `redact` first, and any message quoting a secret through `scrub`.
 */
import type { EnforcementLevel } from "../analyzer/wire";

/** Pulumi's wire markers: a secret is `{[SIG_KEY]: SECRET_SIG, value}` (or ciphertext/plaintext). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const SECRET_TEXT = "[secret]";

/** The type of the stack's root resource, the parent of the top-level components. */
export const ROOT_STACK = "pulumi:pulumi:Stack";

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

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isSecretEnvelope(value: unknown): value is Record<string, unknown> {
  return isObject(value) && value[SIG_KEY] === SECRET_SIG;
}

export function wrapSecret(value: unknown): Record<string, unknown> {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/**
 * Re-wraps the values at `secretPaths` (paths as `unwrapSecrets` builds them: `a.b[0].c`).
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

/** Splits a wire value into the plain value and the paths of the secrets inside it. */
export function unwrapSecrets(value: unknown, at: string, secrets: string[]): unknown {
  if (Array.isArray(value)) {
    return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, secrets));
  }
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (isSecretEnvelope(obj)) {
      secrets.push(at);
      return unwrapSecrets(obj.value, at, []);
    }
    return Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, secrets)]),
    );
  }
  return value;
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

/** A function replacing any of `secrets` in a text (longest first) with "[secret]". */
export function scrubber(secrets: Set<string>): (text: string) => string {
  const longestFirst = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of longestFirst) if (out.includes(s)) out = out.split(s).join(SECRET_TEXT);
    return out;
  };
}
