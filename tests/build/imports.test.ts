/**
 * The shape of the code: no modules importing each other in a circle, tools/ kept in files a
 * reader can hold (300 lines at most), and importing the tools starts no work.
 *
 * Type-only imports count. The compiler drops `import type` from the JavaScript, so a circle
 * closed only by one never runs at load time (no half-initialised module); it is still the
 * tangle this rule is about: each module needs the other's definitions to be read, moved or
 * compiled, and turning the type import into a value import (or adding a value beside the type)
 * makes it a load-time circle without changing the graph. So is an import inside a function
 * (`require` when called). The message says which kind each circle is.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "../../tools/cli/project";
import {
  buildImportGraph,
  describeCycles,
  findCycles,
  listFiles,
  listTsFiles,
  longFiles,
} from "../helpers/import-graph";

/** The project's own TypeScript: everything but tests/. */
function projectGraph() {
  const files = [
    ...listTsFiles(ROOT, "index.ts"),
    ...listTsFiles(ROOT, "main.ts"),
    ...listTsFiles(ROOT, "components"),
    ...listTsFiles(ROOT, "lib"),
    ...listTsFiles(ROOT, "tools"),
    ...listTsFiles(ROOT, "policy", ["policy/bin"]),
    ...listTsFiles(ROOT, "bench"),
    ...listTsFiles(ROOT, "deploy"),
  ];
  return buildImportGraph(ROOT, files);
}

const MAX_TOOL_LINES = 300;

describe("the import graph", () => {
  it("covers the program, the tools, the pack, the bench and deploy", () => {
    const { files, edges } = projectGraph();
    for (const file of [
      "index.ts",
      "components/mailserver.ts",
      "lib/config.ts",
      "tools/offline/mock-program.ts",
      "tools/rehearse/pod.ts",
      "policy/index.ts",
      "bench/run.ts",
      "deploy/index.ts",
    ]) {
      assert.ok(files.includes(file), `${file} is not in the graph`);
    }
    assert.ok(!files.some((f) => f.startsWith("policy/bin/")));
    assert.ok(!files.some((f) => f.includes("node_modules/")));
    // A graph without edges would have no cycles: the resolution must find the real imports.
    const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
    assert.ok(
      has("tools/analyzer/client.ts", "tools/analyzer/config.ts"),
      "tools/analyzer/client.ts imports",
    );
    assert.ok(has("index.ts", "components/mailserver.ts"), "index.ts imports");
  });

  it("has no modules importing each other in a circle", () => {
    const cycles = findCycles(projectGraph());
    assert.deepEqual(cycles, [], `import cycles:\n${describeCycles(cycles)}`);
  });

  it("finds every circle in a small graph, named by its chain (negative control)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "import-graph-"));
    try {
      const write = (file: string, text: string) => {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
      };
      write("a.ts", 'import { b } from "./b";\nexport const a = b;\n');
      write("b.ts", 'import { c } from "./sub";\nexport const b = c;\n');
      write("sub/index.ts", 'export { a as c } from "../a";\nimport "./d";\n');
      write("sub/d.ts", 'import type { E } from "./e";\nexport type D = E;\n');
      write("sub/e.ts", 'import { type D } from "./d";\nexport type E = D | string;\n');
      write("f.ts", "export function f() {\n  return require('./g');\n}\n");
      write("g.ts", 'import { f } from "./f";\nexport const g = f;\n');
      write(
        "h.ts",
        'import { a } from "./a";\nimport * as fs from "node:fs";\nexport { a, fs };\n',
      );
      write("x.ts", 'import { y } from "./y";\nexport const x = 1 + y;\n');
      write(
        "y.ts",
        'import { x } from "./x";\nimport { z } from "./z";\nexport const y = x + z;\n',
      );
      write("z.ts", 'import { x } from "./x.js";\nexport const z = x;\n');
      write("node_modules/n/index.ts", 'import "../../a";\n');
      const files = listTsFiles(dir, ".");
      assert.ok(!files.some((f) => f.includes("node_modules")));
      const cycles = findCycles(buildImportGraph(dir, files));
      assert.equal(
        describeCycles(cycles),
        [
          "a.ts → b.ts → sub/index.ts → a.ts (runs at load time)",
          "f.ts → g.ts → f.ts (through a require inside a function)",
          "sub/d.ts → sub/e.ts → sub/d.ts (through a type-only import)",
          "x.ts → y.ts → x.ts (runs at load time)",
          "x.ts → y.ts → z.ts → x.ts (runs at load time)",
        ].join("\n"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tools/ files", () => {
  it(`are at most ${MAX_TOOL_LINES} lines`, () => {
    const files = listFiles(ROOT, "tools");
    assert.ok(files.includes("tools/offline/mock-program.ts"));
    assert.ok(files.includes("tools/rehearse/pod.ts"));
    const long = longFiles(ROOT, files, MAX_TOOL_LINES);
    assert.deepEqual(long, [], `over ${MAX_TOOL_LINES} lines: ${long.join(", ")}`);
  });

  it("the line count catches a long file (negative control)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "long-files-"));
    try {
      writeFileSync(path.join(dir, "short.ts"), "x\n".repeat(MAX_TOOL_LINES));
      writeFileSync(path.join(dir, "long.ts"), "x\n".repeat(MAX_TOOL_LINES + 1));
      assert.deepEqual(longFiles(dir, listFiles(dir, "."), MAX_TOOL_LINES), [
        `long.ts (${MAX_TOOL_LINES + 1})`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("importing tools/offline/mock-program.ts", () => {
  it("starts no placeholder key generation; the first use starts it, once", () => {
    // Every RSA key pair Node generates asynchronously (callback, promisified or WebCrypto) is an
    // async resource of this type, so the hook sees a generation however the module starts it;
    // a synchronous one at import would block the import and show in `atImport` as well.
    const script = `
      const hooks = require("node:async_hooks");
      let generations = 0;
      hooks.createHook({ init(_id, type) { if (type === "KEYPAIRGENREQUEST") generations++; } }).enable();
      const crypto = require("node:crypto");
      const sync = crypto.generateKeyPairSync;
      crypto.generateKeyPairSync = (...args) => { generations++; return sync(...args); };
      require("./tools/offline/mock-program");
      setTimeout(async () => {
        const atImport = generations;
        const { placeholderKeys } = require("./tools/offline/placeholder-keys");
        const [first, second] = await Promise.all([placeholderKeys(), placeholderKeys()]);
        console.log(JSON.stringify({ atImport, afterUse: generations, same: first === second }));
      }, 50);
    `;
    const out = execFileSync(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "-e", script],
      { cwd: ROOT, encoding: "utf8" },
    );
    const result = JSON.parse(out.trim().split("\n").pop() ?? "") as Record<string, unknown>;
    // afterUse shows the hook sees the two keys (2048 and 1024 bits) being generated.
    assert.deepEqual(result, { atImport: 0, afterUse: 2, same: true });
  });
});
