/**
 * Nothing deployable is older than its sources: the build stamp, and the compiled entry points of
 * the pack (started by run-policy-pack, as the CLI starts it) and of the program refusing a stale
 * build. Each case works on a copy in a temporary directory; the real tree is never touched.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  assertFreshBuild,
  rootsOf,
  staleSources,
  STAMP_FILE,
  writeBuildStamp,
} from "../../policy/build/fresh-build";
import { PolicyPackClient } from "../../tools/analyzer/client";

const ROOT = path.resolve(__dirname, "..", "..");

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A small project: tsconfig, a top-level source, a source dir with an asset, "compiled" output. */
function miniProject(): string {
  const dir = tempDir("fresh-");
  writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({ include: ["*.ts", "lib/**/*.ts"], compilerOptions: { outDir: "out" } }),
  );
  mkdirSync(path.join(dir, "lib", "probe"), { recursive: true });
  writeFileSync(path.join(dir, "main.ts"), "export {};\n");
  writeFileSync(path.join(dir, "lib", "a.ts"), "export const a = 1;\n");
  writeFileSync(path.join(dir, "lib", "probe", "probe.py"), "print('hi')\n");
  mkdirSync(path.join(dir, "out", "lib"), { recursive: true });
  writeFileSync(path.join(dir, "out", "main.js"), "");
  writeFileSync(path.join(dir, "out", "lib", "a.js"), "");
  return dir;
}

describe("build: the stamp written after tsc", () => {
  it("reads the roots from the tsconfig include patterns", () => {
    assert.deepEqual(rootsOf(["*.ts", "lib/**/*.ts", "types/**/*.d.ts", "policy/build/*.ts"]), [
      "*.ts",
      "lib",
      "types",
      "policy/build",
    ]);
  });

  it("copies assets beside the output, prunes orphans, and is fresh right after", () => {
    const dir = miniProject();
    writeFileSync(path.join(dir, "out", "lib", "gone.js"), "");
    const out = writeBuildStamp(dir, "tsconfig.json");
    assert.equal(out, path.join(dir, "out"));
    assert.equal(readFileSync(path.join(out, "lib", "probe", "probe.py"), "utf8"), "print('hi')\n");
    assert.ok(!existsSync(path.join(out, "lib", "gone.js")), "compiled file without a source");
    assert.ok(existsSync(path.join(out, "lib", "a.js")));
    const stamp = JSON.parse(readFileSync(path.join(out, STAMP_FILE), "utf8")) as {
      files: Record<string, string>;
    };
    assert.deepEqual(Object.keys(stamp.files), ["lib/a.ts", "lib/probe/probe.py", "main.ts"]);
    assert.deepEqual(staleSources(out), []);
  });

  it("names every changed, added and removed source, assets included", () => {
    const dir = miniProject();
    const out = writeBuildStamp(dir, "tsconfig.json");
    appendFileSync(path.join(dir, "lib", "a.ts"), "// edited\n");
    writeFileSync(path.join(dir, "lib", "b.ts"), "export const b = 2;\n");
    writeFileSync(path.join(dir, "lib", "probe", "probe.py"), "print('changed')\n");
    rmSync(path.join(dir, "main.ts"));
    assert.deepEqual(staleSources(out).sort(), [
      "lib/a.ts",
      "lib/b.ts",
      "lib/probe/probe.py",
      "main.ts (removed)",
    ]);
    writeBuildStamp(dir, "tsconfig.json");
    assert.deepEqual(staleSources(out), []);
  });

  it("refuses a stale build from compiled code, never from TypeScript", () => {
    const dir = miniProject();
    const out = writeBuildStamp(dir, "tsconfig.json");
    appendFileSync(path.join(dir, "lib", "a.ts"), "// edited\n");
    assert.throws(
      () => assertFreshBuild(path.join(out, "main.js"), out),
      /older than its sources \(lib\/a\.ts\): run `npm run build`/,
    );
    assert.doesNotThrow(() => assertFreshBuild(path.join(dir, "main.ts"), out));
  });

  it("refuses output that npm run build did not stamp", () => {
    const dir = miniProject();
    assert.throws(
      () => assertFreshBuild(path.join(dir, "out", "main.js"), path.join(dir, "out")),
      /no build-stamp\.json/,
    );
  });

  it("treats a published pack (build only, no sources) as fresh", () => {
    const dir = miniProject();
    const out = writeBuildStamp(dir, "tsconfig.json");
    const published = tempDir("published-");
    cpSync(out, path.join(published, "out"), { recursive: true });
    assert.deepEqual(staleSources(path.join(published, "out")), []);
  });
});

/** A copy of policy/ with its build, on the real node_modules. */
function packCopy(): string {
  const dir = path.join(tempDir("pack-copy-"), "policy");
  cpSync(path.join(ROOT, "policy"), dir, {
    recursive: true,
    filter: (src) => !src.includes(`${path.sep}node_modules`),
  });
  symlinkSync(path.join(ROOT, "policy", "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

describe("build: compiled entry points refuse a stale build", () => {
  it("the pack starts from its build under run-policy-pack, and refuses once a policy changes", async function () {
    this.timeout(240_000);
    const dir = packCopy();
    const main = (
      JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { main: string }
    ).main;
    assert.equal(main, "bin/main.js", "the CLI must load compiled JavaScript");
    const fresh = await PolicyPackClient.start(dir);
    const info = await fresh.getAnalyzerInfo();
    await fresh.close();
    assert.equal(info.name, "mailserver-invariants");

    appendFileSync(path.join(dir, "policies", "fail2ban-disabled.ts"), "// edited\n");
    await assert.rejects(
      PolicyPackClient.start(dir, {}, { startTimeoutMs: 120_000 }),
      /older than its sources \(policies\/fail2ban-disabled\.ts\): run `npm run build`/,
    );
  });

  it("the program's main refuses once a component changes, before anything is registered", function () {
    this.timeout(120_000);
    const dir = tempDir("program-copy-");
    for (const part of [
      "bin",
      "components",
      "lib",
      "tools",
      "bench",
      "types",
      "index.ts",
      "main.ts",
    ]) {
      cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
    }
    mkdirSync(path.join(dir, "policy"));
    cpSync(path.join(ROOT, "policy", "build"), path.join(dir, "policy", "build"), {
      recursive: true,
    });
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    assert.deepEqual(staleSources(path.join(dir, "bin")), [], "the copy starts fresh");

    appendFileSync(path.join(dir, "components", "mailserver.ts"), "// edited\n");
    const res = spawnSync(process.execPath, [path.join(dir, "bin", "main.js")], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.notEqual(res.status, 0);
    assert.match(
      res.stderr,
      /older than its sources \(components\/mailserver\.ts\): run `npm run build`/,
    );
  });
});

describe("build: what `pulumi policy publish` uploads", () => {
  // The CLI (and @pulumi/pulumiservice's PolicyPack) publish `npm pack` of the pack directory and
  // read the tarball name from npm's stdout, which a lifecycle script's output breaks
  // (pulumi/pulumi#6594): the pack is built beforehand by `npm run build`, never by npm itself.
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "policy", "package.json"), "utf8")) as {
    main: string;
    scripts?: Record<string, string>;
  };

  it("has no npm lifecycle script that would run during npm pack or install", () => {
    const lifecycle = ["prepare", "prepack", "postpack", "prepublish", "preinstall", "install"];
    const found = Object.keys(pkg.scripts ?? {}).filter((s) => lifecycle.includes(s));
    assert.deepEqual(found, []);
  });

  it("packs the compiled pack and its stamp, no TypeScript", function () {
    this.timeout(60_000);
    const res = spawnSync("npm", ["pack", "--dry-run", "--json"], {
      cwd: path.join(ROOT, "policy"),
      encoding: "utf8",
    });
    assert.equal(res.status, 0, res.stderr);
    const files = (JSON.parse(res.stdout) as { files: { path: string }[] }[])[0].files.map(
      (f) => f.path,
    );
    for (const needed of [pkg.main, "bin/index.js", `bin/${STAMP_FILE}`, "PulumiPolicy.yaml"]) {
      assert.ok(files.includes(needed), `${needed} must be published`);
    }
    assert.deepEqual(
      files.filter((f) => f.endsWith(".ts")),
      [],
      "sources are not published",
    );
  });
});
