/**
 * The pack's version moves with its content (tools/cli/pack-version.ts): published versions are
 * immutable, so a pull request that changes policy/ without bumping `version` fails here.
 */
import { strict as assert } from "node:assert";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PACK_DIR } from "../../tools/cli/project";
import {
  checkRecord,
  packDigest,
  readRecord,
  RECORD_FILE,
  run,
} from "../../tools/cli/pack-version";

/** The pack's own files in a temporary directory (no bin/, no node_modules/). */
function copyPack(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pack-version-"));
  cpSync(PACK_DIR, dir, {
    recursive: true,
    filter: (src) => !/[/\\](bin|node_modules)$/.test(src),
  });
  return dir;
}

function collector(): { lines: string[]; log: (s: string) => void; error: (s: string) => void } {
  const lines: string[] = [];
  return { lines, log: (s) => lines.push(s), error: (s) => lines.push(s) };
}

function setVersion(dir: string, version: string): void {
  const file = path.join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  writeFileSync(file, `${JSON.stringify({ ...pkg, version }, null, 2)}\n`);
}

describe("the pack's version record", () => {
  it("matches the pack as committed", () => {
    const check = checkRecord(PACK_DIR);
    assert.equal(check.state, "current", check.message);
  });

  describe("on a copy of the pack", () => {
    let dir: string;
    beforeEach(() => (dir = copyPack()));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("refuses a changed policy without a version bump, then records the bump", () => {
      const before = readRecord(dir);
      const policy = path.join(dir, "policies", "fail2ban-disabled.ts");
      writeFileSync(policy, `${readFileSync(policy, "utf8")}\n// changed\n`);
      const out = collector();
      assert.equal(run(["--pack", dir], out), 1);
      assert.match(out.lines.join("\n"), /bump "version" in policy\/package\.json/);
      assert.deepEqual(readRecord(dir), before, "nothing recorded");

      setVersion(dir, "99.0.0");
      assert.equal(run(["--pack", dir], collector()), 0);
      assert.equal(readRecord(dir).version, "99.0.0");
      assert.equal(checkRecord(dir).state, "current");
    });

    it("counts the pack config as content: a waiver is a new version too", () => {
      const config = path.join(dir, "config.prod.json");
      const digest = packDigest(dir);
      writeFileSync(config, readFileSync(config, "utf8").replace(/\s*$/, " \n"));
      assert.notEqual(packDigest(dir), digest);
      assert.equal(checkRecord(dir).state, "unbumped");
    });

    it("leaves out the version itself, the build and the dependencies", () => {
      const digest = packDigest(dir);
      setVersion(dir, "99.0.0");
      mkdirSync(path.join(dir, "bin"));
      writeFileSync(path.join(dir, "bin", "main.js"), "// build output\n");
      mkdirSync(path.join(dir, "node_modules"));
      writeFileSync(path.join(dir, "node_modules", "x.js"), "// a dependency\n");
      writeFileSync(path.join(dir, RECORD_FILE), '{"version":"0","digest":"x"}\n');
      assert.equal(packDigest(dir), digest);
    });
  });
});
