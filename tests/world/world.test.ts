/**
 * world/ is data about other systems: every fact carries its source, the runbook's edits name
 * their step, and neither the files nor the code that loads them take a value from the program
 * (components/, lib/): the world can never be the program's own picture of it.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { loadWorld, mergePatch, WORLD_DIR, worldFileProblems } from "../../tools/world/load";
import { ROOT } from "../../tools/cli/project";

/** Value imports (not `import type`, not type-only specifiers) of a TypeScript file. */
function valueImports(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022);
  const out: string[] = [];
  for (const st of src.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const clause = st.importClause;
    if (clause?.isTypeOnly) continue;
    const named = clause?.namedBindings;
    const allTypes =
      clause !== undefined &&
      clause.name === undefined &&
      named !== undefined &&
      ts.isNamedImports(named) &&
      named.elements.every((e) => e.isTypeOnly);
    if (!allTypes) out.push(st.moduleSpecifier.text);
  }
  return out;
}

/** Every project file reachable through value imports from `entry`. */
function valueClosure(entry: string): string[] {
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of valueImports(file).filter((s) => s.startsWith("."))) {
      walk(require.resolve(path.resolve(path.dirname(file), spec)));
    }
  };
  walk(entry);
  return [...seen].map((f) => path.relative(ROOT, f));
}

describe("world/: the recorded world", () => {
  it("loads today's and the ready world; every fact names its source", () => {
    const today = loadWorld("today");
    assert.ok(Object.keys(today.files).length >= 4, Object.keys(today.files).join(", "));
    const ready = loadWorld("ready");
    assert.ok(ready.edits.length > 0);
  });

  it("refuses a fact without a source, with a source missing its commit, and a duplicate id", () => {
    const problems = worldFileProblems("x.yaml", {
      system: "kubernetes",
      as_of: "0cd4afb6",
      facts: [
        { id: "a", value: 1 },
        { id: "b", source: [{ repo: "ViktorBarzin/infra", path: "x.tf" }], value: 1 },
        { id: "b", source: [{ release: "docker-mailserver v15.0.0", path: "x" }], value: 1 },
      ],
    });
    assert.deepEqual(problems, [
      "x.yaml facts[0] (a): no source",
      "x.yaml facts[1] (b): a repository source needs commit and path",
      'x.yaml facts[2]: id "b" appears twice',
    ]);
  });

  it("every runbook edit names a step that docs/cutover.md has, and changes a fact that exists", () => {
    const runbook = readFileSync(path.join(ROOT, "docs", "cutover.md"), "utf8");
    const edits = loadWorld("ready").edits.map(
      (e) => /^docs\/cutover\.md step (\d+)/.exec(e.step)?.[1],
    );
    for (const n of edits) {
      assert.match(
        runbook,
        new RegExp(`^### Step ${n}\\b`, "m"),
        `docs/cutover.md has no step ${n}`,
      );
    }
  });

  it("applies edits as RFC 7386 merge patches (the RFC's own examples, appendix A)", () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: "b" }, { a: "c" }, { a: "c" }],
      [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
      [{ a: "b" }, { a: null }, {}],
      [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
      [{ a: ["b"] }, { a: "c" }, { a: "c" }],
      [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
      [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
      [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
      [
        ["a", "b"],
        ["c", "d"],
        ["c", "d"],
      ],
      [{ a: "b" }, ["c"], ["c"]],
      [{ a: "foo" }, null, null],
      [{ a: "foo" }, "bar", "bar"],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: "b", c: null }, { a: "b" }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) {
      assert.deepEqual(mergePatch(target, patch), result, JSON.stringify([target, patch]));
    }
  });

  it("neither the loader nor the mocks' answers import a value from components/ or lib/", () => {
    for (const entry of ["tools/world/load.ts", "tools/offline/world-answers.ts"]) {
      const closure = valueClosure(path.join(ROOT, entry));
      const program = closure.filter((f) => /^(components|lib)\//.test(f));
      assert.deepEqual(program, [], `${entry} reaches ${program.join(", ")}`);
    }
  });

  it("world/ holds data only: no code", () => {
    const files = ts.sys.readDirectory(WORLD_DIR, undefined, undefined, ["**/*"]);
    const code = files.filter((f) => !/\.(ya?ml|md)$/.test(f));
    assert.deepEqual(code, []);
  });
});
