/**
 * Every file the planned stack mounts from a ConfigMap, fed to the daemon that reads it (Postfix,
 * Dovecot, Rspamd, PHP, Python from Debian bookworm), each with a negative control that breaks the
 * same file and must make the same check fail. The files are read from the planned ConfigMaps.
 */
import * as assert from "node:assert/strict";
import type { ProgramRun } from "../../tools/mock-program";
import { prodRun } from "../helpers/program";
import { requireTool } from "../helpers/tools";
import { CHECKERS, run, type Checker } from "./checkers";
import { renderedFiles, type RenderedFile } from "./rendered";

describe("rendered files under their daemons", function () {
  this.timeout(300_000);
  let planned: ProgramRun;
  let files: RenderedFile[];
  before(async () => {
    planned = await prodRun();
    files = renderedFiles(planned);
  });

  it("every mounted file has exactly one daemon check", () => {
    const unowned = files
      .map((f) => ({ f, owners: CHECKERS.filter((c) => c.owns(f.mountPath)) }))
      .filter(({ owners }) => owners.length !== 1)
      .map(
        ({ f, owners }) => `${f.mountPath} (${f.source}, ${f.workload}): ${owners.length} checks`,
      );
    assert.deepEqual(unowned, [], "add a checker in tests/daemons/checkers.ts for these files");
  });

  for (const checker of CHECKERS) describeChecker(checker);

  function describeChecker(checker: Checker): void {
    describe(checker.daemon, () => {
      let owned: RenderedFile[];
      before(function () {
        requireTool(this, checker.tool, checker.version[0], checker.version[1]);
        checker.requires?.(this);
        owned = files.filter((f) => checker.owns(f.mountPath));
        const version = run(...checker.version).out.split("\n")[0];
        console.log(
          `      ${checker.daemon}: ${version}; ${owned.map((f) => f.mountPath).join(", ")}`,
        );
      });

      it("accepts every file the program renders for it", () => {
        assert.ok(owned.length > 0, `no planned file for ${checker.daemon}: drop its checker`);
        for (const f of owned) {
          assert.deepEqual(
            checker.check(f.mountPath, f.content),
            [],
            `${f.mountPath} (${f.source})`,
          );
        }
      });

      for (const control of checker.controls) {
        it(`rejects each file with a negative control: ${control.what}`, () => {
          for (const f of owned) {
            const broken = control.corrupt(f.content);
            assert.notEqual(
              broken,
              f.content,
              `${control.what}: nothing changed in ${f.mountPath}`,
            );
            const problems = checker.check(f.mountPath, broken);
            assert.ok(problems.length > 0, `${control.what} in ${f.mountPath} went unnoticed`);
          }
        });
      }
    });
  }
});
