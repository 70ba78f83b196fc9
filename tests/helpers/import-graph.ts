/**
 * The project's TypeScript import graph, read with the compiler's own parser and module
 * resolution (no type checking, so it is fast), and the cycles in it. tests/build/imports.test.ts
 * holds the rules; this file only reads and searches.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

/**
 * How an import binds: `load` runs when the importing module loads (an `import`/`export … from`
 * the emit keeps, a top-level `require`); `deferred` runs when a function calls it (`require` or
 * `import()` inside a function); `type` never runs (`import type`, `export type … from`, named
 * bindings all marked `type`, `typeof import("…")`): the compiler drops it from the JavaScript.
 * An unmarked import used only as a type is dropped too; telling that needs the type checker, so
 * it counts as `load` here.
 */
export type ImportKind = "load" | "deferred" | "type";

/** One module naming another inside the graph (the strongest way it does, if several). */
export interface ImportEdge {
  from: string;
  to: string;
  kind: ImportKind;
}

export interface ImportGraph {
  /** Files, relative to the root, `/`-separated, sorted. */
  files: string[];
  edges: ImportEdge[];
}

/** A file system the graph is read from: the real one, or a test's in-memory one. */
export interface GraphHost {
  fileExists(file: string): boolean;
  readFile(file: string): string | undefined;
}

const OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  resolveJsonModule: true,
  allowJs: false,
};

/**
 * Files under `dir` (a path relative to `root`, or one file), relative to `root` and
 * `/`-separated, skipping node_modules and the `skip` directories (also relative to `root`).
 */
export function listFiles(root: string, dir: string, skip: string[] = []): string[] {
  const full = path.join(root, dir);
  const stat = statSync(full, { throwIfNoEntry: false });
  if (!stat) return [];
  if (!stat.isDirectory()) return [path.posix.normalize(dir)];
  const out: string[] = [];
  for (const entry of readdirSync(full, { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.name === "node_modules" || skip.includes(rel)) continue;
    if (entry.isDirectory()) out.push(...listFiles(root, rel, skip));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

/** The TypeScript modules (`.ts`, not `.d.ts`) among `listFiles`. */
export function listTsFiles(root: string, dir: string, skip: string[] = []): string[] {
  return listFiles(root, dir, skip).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
}

/** `file (lines)` for each of `files` with more than `max` lines (as `wc -l` counts them). */
export function longFiles(root: string, files: string[], max: number): string[] {
  return files.flatMap((file) => {
    const lines = readFileSync(path.join(root, file), "utf8").split("\n").length - 1;
    return lines > max ? [`${file} (${lines})`] : [];
  });
}

function allTypeOnly(clause: ts.ImportClause): boolean {
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    clause.name === undefined &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

const STRENGTH: Record<ImportKind, number> = { type: 0, deferred: 1, load: 2 };

function insideFunction(node: ts.Node): boolean {
  for (let n = node.parent; n !== undefined; n = n.parent) if (ts.isFunctionLike(n)) return true;
  return false;
}

/** The module specifiers a file names with a string literal, each with how it binds. */
export function importsOf(file: string, text: string): { specifier: string; kind: ImportKind }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: { specifier: string; kind: ImportKind }[] = [];
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) {
      out.push({ specifier: specifier.text, kind: typeOnly ? "type" : "load" });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, node.importClause !== undefined && allTypeOnly(node.importClause));
    } else if (ts.isExportDeclaration(node)) {
      const clause = node.exportClause;
      const named = clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0;
      add(
        node.moduleSpecifier,
        node.isTypeOnly || (named && clause.elements.every((e) => e.isTypeOnly)),
      );
    } else if (ts.isImportEqualsDeclaration(node)) {
      if (ts.isExternalModuleReference(node.moduleReference)) {
        add(node.moduleReference.expression, node.isTypeOnly);
      }
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(arg.literal, true);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const callee = node.expression;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if (isRequire || callee.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = node.arguments[0];
        if (ts.isStringLiteralLike(arg)) {
          out.push({ specifier: arg.text, kind: insideFunction(node) ? "deferred" : "load" });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/**
 * The graph over `files` (relative to `root`): relative specifiers resolved the way tsc resolves
 * them (node16); imports of packages and of files outside `files` are left out.
 */
export function buildImportGraph(
  root: string,
  files: string[],
  host: GraphHost = ts.sys,
): ImportGraph {
  const inGraph = new Set(files);
  const edges = new Map<string, ImportEdge>();
  for (const from of [...files].sort()) {
    const absolute = path.join(root, from);
    const text = host.readFile(absolute);
    if (text === undefined) throw new Error(`cannot read ${from}`);
    for (const { specifier, kind } of importsOf(absolute, text)) {
      if (!specifier.startsWith(".")) continue;
      const resolved = ts.resolveModuleName(specifier, absolute, OPTIONS, {
        fileExists: (f) => host.fileExists(f),
        readFile: (f) => host.readFile(f),
      }).resolvedModule?.resolvedFileName;
      if (!resolved) throw new Error(`${from}: cannot resolve "${specifier}"`);
      const to = path.relative(root, resolved).split(path.sep).join("/");
      if (!inGraph.has(to)) continue;
      const key = `${from}\0${to}`;
      const earlier = edges.get(key);
      if (!earlier) edges.set(key, { from, to, kind });
      else if (STRENGTH[kind] > STRENGTH[earlier.kind]) earlier.kind = kind;
    }
  }
  return { files: [...files].sort(), edges: [...edges.values()] };
}

export interface ImportCycle {
  /** The modules in order, the first repeated at the end: `a.ts → b.ts → a.ts`. */
  chain: string[];
  /** The weakest way a step of it binds: `load` when the whole circle runs as the modules load. */
  kind: ImportKind;
}

/**
 * Every elementary cycle, each once (started at its least module), found within the graph's
 * strongly connected components. `limit` bounds the count for a badly tangled graph.
 */
export function findCycles(graph: ImportGraph, limit = 200): ImportCycle[] {
  const next = new Map<string, ImportEdge[]>(graph.files.map((f) => [f, []]));
  for (const e of graph.edges) next.get(e.from)?.push(e);
  for (const list of next.values()) list.sort((a, b) => a.to.localeCompare(b.to));

  const cycles: ImportCycle[] = [];
  for (const component of stronglyConnected(graph.files, next)) {
    const members = new Set(component);
    for (const start of [...component].sort()) {
      // Cycles through `start` over members not less than it: each cycle found exactly once.
      const walk = (at: string, chain: string[], steps: ImportEdge[]): void => {
        for (const edge of next.get(at) ?? []) {
          if (cycles.length >= limit) return;
          if (!members.has(edge.to) || edge.to < start) continue;
          if (edge.to === start) {
            cycles.push({
              chain: [...chain, start],
              kind: weakest([...steps, edge]),
            });
          } else if (!chain.includes(edge.to)) {
            walk(edge.to, [...chain, edge.to], [...steps, edge]);
          }
        }
      };
      walk(start, [start], []);
    }
  }
  return cycles.sort((a, b) => a.chain.join("\0").localeCompare(b.chain.join("\0")));
}

function weakest(steps: ImportEdge[]): ImportKind {
  return steps.reduce<ImportKind>((k, s) => (STRENGTH[s.kind] < STRENGTH[k] ? s.kind : k), "load");
}

/** Tarjan's algorithm; components of one module count only with a self-import. */
function stronglyConnected(files: string[], next: Map<string, ImportEdge[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const { to } of next.get(v) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v)!, index.get(to)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (next.get(v) ?? []).some((e) => e.to === v);
      if (component.length > 1 || selfLoop) out.push(component);
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

const KIND_TEXT: Record<ImportKind, string> = {
  load: "runs at load time",
  deferred: "through a require inside a function",
  type: "through a type-only import",
};

/** `a.ts → b.ts → a.ts (runs at load time)`, one line a cycle. */
export function describeCycles(cycles: ImportCycle[]): string {
  return cycles.map((c) => `${c.chain.join(" → ")} (${KIND_TEXT[c.kind]})`).join("\n");
}
