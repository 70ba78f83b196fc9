/**
 * The upstream models every planned Kubernetes object is checked against: kubernetes-models (the
 * Kubernetes OpenAPI schema, compiled to a validate function per kind, and TypeScript interfaces
 * generated from the same schema) and the prometheus-operator CRD models beside it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { ROOT } from "../../tools/offline/mock-program";

/** The packages holding a model for an apiVersion, `<package>/<apiVersion>/<Kind>`. */
export const MODEL_PACKAGES = ["kubernetes-models", "@kubernetes-models/prometheus-operator"];

/**
 * The Kubernetes release each pinned kubernetes-models version was generated from, as its
 * changelog states (tommy351/kubernetes-models-ts, first-party/kubernetes-models/CHANGELOG.md:
 * 4.5.0 "Update schema version to v1.33.0", 4.5.1 only bumps a dependency; 5.0.0 jumps to
 * v1.36.0). No release carries the 1.34 schema.
 */
export const SCHEMA_RELEASES: Record<string, string> = { "4.5.1": "1.33.0" };

export function installedVersion(pkg: string): string {
  const file = path.join(ROOT, "node_modules", pkg, "package.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}

export function minorOf(version: string): number {
  const m = /^1\.(\d+)/.exec(version);
  if (!m) throw new Error(`not a Kubernetes 1.x version: ${version}`);
  return Number(m[1]);
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

export interface FoundModel {
  /** Module specifier of the model, e.g. kubernetes-models/apps/v1/Deployment. */
  module: string;
  Model: ModelClass;
}

/** The model of an apiVersion and kind, or undefined when no package has one. */
export function findModel(apiVersion: string, kind: string): FoundModel | undefined {
  for (const pkg of MODEL_PACKAGES) {
    const module = `${pkg}/${apiVersion}/${kind}`;
    let exports: Record<string, unknown>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      exports = require(module) as Record<string, unknown>;
    } catch {
      continue;
    }
    const Model = exports[kind] as ModelClass | undefined;
    if (Model?.apiVersion === apiVersion && Model.kind === kind) return { module, Model };
  }
  return undefined;
}

/** Schema errors of one object (types, required fields, enums, formats), or "" when valid. */
export function schemaErrors(model: FoundModel, object: unknown): string {
  try {
    new model.Model(object).validate();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The OpenAPI schema leaves unknown fields open (the API server drops or refuses them), so
 * `validate()` cannot see a misspelt field. The TypeScript interfaces generated from the same
 * schema can: each object is type-checked as a literal of its model's interface, where every
 * unknown or mistyped field is an error. Returns the errors per object index.
 */
export function typeErrors(objects: { model: FoundModel; object: unknown }[]): string[][] {
  const dir = path.join(ROOT, "tests", "kubernetes");
  const file = path.join(dir, "__planned_objects__.ts");
  const source = objects
    .map(({ model, object }, i) => {
      const kind = model.module.split("/").pop() ?? "";
      return `import type { I${kind} as T${i} } from "${model.module}";\nexport const o${i}: T${i} = ${JSON.stringify(object)};`;
    })
    .join("\n");
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (path.resolve(name) === file ? source : readFile(name));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const errors: string[][] = objects.map(() => []);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file && path.resolve(d.file.fileName) === file && d.start !== undefined) {
      const line = d.file.getLineAndCharacterOfPosition(d.start).line;
      errors[Math.floor(line / 2)].push(text);
    } else {
      throw new Error(`type-checking the planned objects failed: ${text}`);
    }
  }
  return errors;
}
