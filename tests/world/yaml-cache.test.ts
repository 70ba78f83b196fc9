/**
 * tools/world/yaml-cache.ts must give what the `yaml` package's own parse gives, whether the value
 * comes from the YAML, this process's map or the JSON cache a previous process wrote.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { WORLD_DIR } from "../../tools/world/load";
import { parseYamlCached } from "../../tools/world/yaml-cache";

const worldFiles = ["today", "ready", "dms-15.0.0"].flatMap((d) =>
  readdirSync(path.join(WORLD_DIR, d))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => path.join(WORLD_DIR, d, f)),
);

describe("the world's YAML parse cache (tools/world/yaml-cache.ts)", () => {
  it("gives yaml's parse of every world file, twice, each time a copy of its own", () => {
    for (const file of worldFiles) {
      const text = readFileSync(file, "utf8");
      const first = parseYamlCached(text);
      assert.deepEqual(first, parse(text), file);
      (first as Record<string, unknown>).mutated = true;
      assert.deepEqual(parseYamlCached(text), parse(text), `${file}: a copy was shared`);
    }
  });

  it("gives yaml's parse in a new process that reads the JSON the cache wrote", () => {
    const file = worldFiles[0];
    parseYamlCached(readFileSync(file, "utf8"));
    const script =
      'require("ts-node/register/transpile-only");' +
      'const { parseYamlCached } = require("./tools/world/yaml-cache");' +
      `process.stdout.write(JSON.stringify(parseYamlCached(require("fs").readFileSync(${JSON.stringify(file)}, "utf8"))));`;
    const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), parse(readFileSync(file, "utf8")));
  });

  it("keeps values JSON cannot hold as yaml parses them", () => {
    const text = "a: .inf\nb: -.inf\nc: .nan\nd: -0\n";
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(parseYamlCached(text), { a: Infinity, b: -Infinity, c: NaN, d: -0 });
    }
  });
});
