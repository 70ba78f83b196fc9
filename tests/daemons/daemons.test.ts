/**
 * Every file the planned stack mounts from a ConfigMap, fed to the daemon that reads it (Postfix,
 * Dovecot, Rspamd, PHP, Python from Debian bookworm), each with a negative control that breaks the
 * same file and must make the same check fail. The files are read from the planned ConfigMaps;
 * each check sees the files mounted beside it and the mail environment, so docker-mailserver's
 * startup edits (world/dms-15.0.0/startup.yaml) and user-patches.sh apply as in the pod.
 */
import * as assert from "node:assert/strict";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { at, find, prodRun } from "../helpers/program";
import { requireTool } from "../helpers/tools";
import { CHECKERS, run, type Checker, type Pod } from "./checkers";
import { renderedFiles, type RenderedFile } from "./rendered";

describe("rendered files under their daemons", function () {
  this.timeout(300_000);
  let planned: ProgramRun;
  let files: RenderedFile[];
  let env: Record<string, string>;
  before(async () => {
    planned = await prodRun();
    files = renderedFiles(planned);
    env = at(find(planned, "kubernetes:core/v1:ConfigMap", "mailserver-env"), "data");
  });

  /** The files mounted into the same container as `f`, and the mail environment. */
  function podOf(f: RenderedFile): Pod {
    const beside = files.filter((x) => x.workload === f.workload);
    return { env, files: Object.fromEntries(beside.map((x) => [x.mountPath, x.content])) };
  }

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
            checker.check(f.mountPath, f.content, podOf(f)),
            [],
            `${f.mountPath} (${f.source})`,
          );
        }
      });

      for (const control of checker.controls) {
        it(`rejects each file with a negative control: ${control.what}`, () => {
          for (const f of owned) {
            const pod = podOf(f);
            const broken = control.corrupt(f.content, pod);
            const drop = control.dropSibling;
            if (drop !== undefined) {
              assert.ok(drop in pod.files, `${control.what}: ${drop} is not mounted beside it`);
              delete pod.files[drop];
            } else {
              assert.notEqual(
                broken,
                f.content,
                `${control.what}: nothing changed in ${f.mountPath}`,
              );
            }
            pod.files[f.mountPath] = broken;
            const problems = checker.check(f.mountPath, broken, pod);
            assert.ok(problems.length > 0, `${control.what} in ${f.mountPath} went unnoticed`);
          }
        });
      }
    });
  }
});
