/**
 * Pulumi stack exports (`pulumi stack export`, `{version: 3, deployment: DeploymentV3}`): written
 * by `plan --export` from a mocked run, read by `audit --file`.
 *
 * Written exports never hold a secret value. Every secret input/output becomes Pulumi's secret
 * envelope `{"4dabf…": "1b47…", "plaintext": "\"<REDACTED_NOTE>\""}`: the CLI accepts a plaintext
 * envelope (it is what `--show-secrets` writes) and re-encrypts it on `pulumi stack import`, but
 * the plaintext here is only a note saying the value was redacted. Default providers are added the
 * way the engine records them (`pulumi:providers:<pkg>::default_<version>`), so the file passes
 * the snapshot integrity checks (parents, dependencies and providers before their users, magic).
 * IDs are what the providers would assign where that is predictable (Kubernetes: namespace/name),
 * else the mock's `<name>-id`: the file describes a plan, not live state, and importing it into the
 * live stack would make Pulumi believe planned resources exist.
 */
import { readFileSync } from "node:fs";
import { InputError } from "../cli/common";
import {
  isObject,
  isSecretEnvelope,
  ROOT_STACK,
  SECRET_SIG,
  SECRET_TEXT,
  SIG_KEY,
  wrapSecret,
  type Item,
} from "./model";
import { sha256Hex } from "../../lib/hash";

export const REDACTED_NOTE =
  "[secret redacted by tools/plan --export: the value was never written to this file]";

export interface ResourceV3 {
  urn: string;
  custom: boolean;
  delete?: boolean;
  id?: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  parent?: string;
  protect?: boolean;
  external?: boolean;
  dependencies?: string[];
  provider?: string;
  retainOnDelete?: boolean;
  [key: string]: unknown;
}

export interface StackExport {
  version: 3;
  deployment: {
    manifest: {
      time: string;
      magic: string;
      version: string;
      plugins?: { name: string; path: string; type: string; version: string }[];
    };
    resources: ResourceV3[];
  };
}

/** Stack and project from a URN `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function parseUrn(urn: string): { stack: string; project: string; name: string } {
  const parts = urn.split("::");
  return {
    stack: parts[0].replace(/^urn:pulumi:/, ""),
    project: parts[1] ?? "",
    name: parts.slice(3).join("::"),
  };
}

function toStateValue(value: unknown): unknown {
  if (isSecretEnvelope(value)) {
    return { [SIG_KEY]: SECRET_SIG, plaintext: JSON.stringify(REDACTED_NOTE) };
  }
  if (Array.isArray(value)) return value.map(toStateValue);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toStateValue(v)]));
  }
  return value;
}

function sdkVersion(pkg: string): string | undefined {
  try {
    const file = require.resolve(`@pulumi/${pkg}/package.json`);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** A stable UUID-shaped id for a synthesized provider. */
function uuidFor(text: string): string {
  const h = sha256Hex(text);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function resourceId(item: Item): string {
  if (item.type.startsWith("kubernetes:")) {
    const meta = item.inputs.metadata as { name?: unknown; namespace?: unknown } | undefined;
    if (typeof meta?.name === "string") {
      return typeof meta.namespace === "string" ? `${meta.namespace}/${meta.name}` : meta.name;
    }
  }
  return `${item.name}-id`;
}

/** Orders resources so parents, dependencies and providers come first (stable otherwise). */
function topological(resources: ResourceV3[]): ResourceV3[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const done = new Set<string>();
  const out: ResourceV3[] = [];
  const visit = (r: ResourceV3, stack: Set<string>) => {
    if (done.has(r.urn) || stack.has(r.urn)) return;
    stack.add(r.urn);
    const before = [
      r.parent,
      r.provider?.split("::").slice(0, -1).join("::"),
      ...(r.dependencies ?? []),
    ];
    for (const urn of before) {
      const dep = urn ? byUrn.get(urn) : undefined;
      if (dep) visit(dep, stack);
    }
    stack.delete(r.urn);
    done.add(r.urn);
    out.push(r);
  };
  for (const r of resources) visit(r, new Set());
  return out;
}

/** A version-3 stack export of the planned resources, secrets redacted (see the file comment). */
export function buildExport(items: Item[], stackUrn: string, now = new Date()): StackExport {
  const { stack, project } = parseUrn(stackUrn);
  const engine = sdkVersion("pulumi") ?? "0.0.0";
  const providers = new Map<string, ResourceV3>();
  const plugins: { name: string; path: string; type: string; version: string }[] = [];
  const providerRef = (type: string): string | undefined => {
    const pkg = type.split(":")[0];
    if (!pkg || pkg === "pulumi") return undefined;
    let provider = providers.get(pkg);
    if (!provider) {
      const version = sdkVersion(pkg);
      if (!version) return undefined;
      const urn = `urn:pulumi:${stack}::${project}::pulumi:providers:${pkg}::default_${version.replace(/[.+-]/g, "_")}`;
      provider = {
        urn,
        custom: true,
        id: uuidFor(urn),
        type: `pulumi:providers:${pkg}`,
        inputs: { version },
        outputs: { version },
      };
      providers.set(pkg, provider);
      plugins.push({ name: pkg, path: "", type: "resource", version });
    }
    return `${provider.urn}::${String(provider.id)}`;
  };
  const resources: ResourceV3[] = items.map((item) => {
    const res: ResourceV3 = {
      urn: item.urn,
      custom: item.custom,
      type: item.type,
      inputs: toStateValue(item.inputs) as Record<string, unknown>,
      outputs: toStateValue(item.outputs) as Record<string, unknown>,
    };
    if (item.custom) res.id = resourceId(item);
    if (item.external) res.external = true;
    if (item.parent) res.parent = item.parent;
    if (item.protect) res.protect = true;
    if (item.retainOnDelete) res.retainOnDelete = true;
    if (item.dependencies.length) res.dependencies = [...item.dependencies];
    const ref = item.custom ? providerRef(item.type) : undefined;
    if (ref) res.provider = ref;
    return res;
  });
  const root = resources.filter((r) => r.type === ROOT_STACK && !r.parent);
  const rest = resources.filter((r) => !(r.type === ROOT_STACK && !r.parent));
  const version = `v${engine}`;
  return {
    version: 3,
    deployment: {
      manifest: {
        time: now.toISOString(),
        magic: sha256Hex(version),
        version,
        plugins,
      },
      resources: topological([...root, ...providers.values(), ...rest]),
    },
  };
}

/**
 * State values as the analyzer should see them: ciphertext (not decryptable offline) becomes the
 * secret "[secret]", as `pulumi policy analyze --file` does; plaintext envelopes are decoded and
 * stay secret.
 */
export function fromStateValue(value: unknown): unknown {
  if (isSecretEnvelope(value)) {
    if (typeof value.plaintext === "string") {
      try {
        return wrapSecret(fromStateValue(JSON.parse(value.plaintext)));
      } catch {
        return wrapSecret(SECRET_TEXT);
      }
    }
    if ("value" in value) return wrapSecret(fromStateValue(value.value));
    return wrapSecret(SECRET_TEXT);
  }
  if (Array.isArray(value)) return value.map(fromStateValue);
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromStateValue(v)]));
  }
  return value;
}

export interface ParsedExport {
  stack: string;
  project: string;
  stackUrn: string;
  items: Item[];
}

/**
 * Validates a stack export and turns its live (non-deleted) resources into analyzer items, the
 * way `pulumi policy analyze --file` builds its snapshot: every non-deleted resource, including
 * the root stack and providers; Analyze gets the inputs and AnalyzeStack the outputs (each falls
 * back to the other when absent, e.g. components that recorded only outputs).
 */
export function parseExport(text: string, file: string): ParsedExport {
  const where = file;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${where} is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new InputError(`${where} is not a stack export (expected an object)`);
  if (doc.version !== 3) {
    throw new InputError(
      `${where}: unsupported stack export version ${JSON.stringify(doc.version)} (expected 3, as written by \`pulumi stack export\`)`,
    );
  }
  const deployment = doc.deployment;
  if (!isObject(deployment)) throw new InputError(`${where}: no "deployment" object`);
  if (!Array.isArray(deployment.resources)) {
    throw new InputError(`${where}: no "deployment.resources" array`);
  }
  const items: Item[] = [];
  const seen = new Set<string>();
  deployment.resources.forEach((raw: unknown, i: number) => {
    if (!isObject(raw) || typeof raw.urn !== "string" || !raw.urn.startsWith("urn:pulumi:")) {
      throw new InputError(`${where}: resource #${i} has no valid "urn"`);
    }
    if (typeof raw.type !== "string" || raw.type === "") {
      throw new InputError(`${where}: resource #${i} (${raw.urn}) has no "type"`);
    }
    if (raw.delete === true) return;
    if (seen.has(raw.urn)) throw new InputError(`${where}: resource ${raw.urn} appears twice`);
    seen.add(raw.urn);
    const inputs = isObject(raw.inputs) ? raw.inputs : undefined;
    const outputs = isObject(raw.outputs) ? raw.outputs : undefined;
    items.push({
      urn: raw.urn,
      type: raw.type,
      name: parseUrn(raw.urn).name,
      parent: typeof raw.parent === "string" ? raw.parent : "",
      custom: raw.custom === true,
      protect: raw.protect === true,
      retainOnDelete: raw.retainOnDelete === true,
      dependencies: Array.isArray(raw.dependencies)
        ? raw.dependencies.filter((d): d is string => typeof d === "string")
        : [],
      inputs: fromStateValue(inputs ?? outputs ?? {}) as Record<string, unknown>,
      outputs: fromStateValue(outputs ?? inputs ?? {}) as Record<string, unknown>,
      ...(raw.external === true ? { external: true } : {}),
    });
  });
  if (items.length === 0) throw new InputError(`${where}: the export has no live resources`);
  const root = items.find((r) => r.type === ROOT_STACK && !r.parent);
  const { stack, project } = parseUrn(root?.urn ?? items[0].urn);
  return {
    stack,
    project,
    stackUrn: root?.urn ?? `urn:pulumi:${stack}::${project}::${ROOT_STACK}::${project}-${stack}`,
    items,
  };
}
