/**
 * The rehearsal CLI's ways out once the mail pod is up (tools/rehearse/pod.ts): Ctrl-C ends it
 * with exit 130 and leaves no namespace, mount, work directory or daemon; a SIGKILL runs no
 * handler at all, yet the pod's init sees the CLI gone and takes every daemon with it (its
 * watchdog), and the next pod removes the namespace and work directory the killed one left.
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startPod } from "../../tools/rehearse/pod";
import { rehearsalProgram } from "../../tools/rehearse/program";
import { ROOT, startTool } from "../plan/support";
import {
  assertNothingLeft,
  leftovers,
  pids,
  POD_DAEMONS,
  requirePodTools,
  useReportDirs,
  type Leftovers,
} from "./support";

const RUN = path.join(ROOT, "bin/tools/rehearse/run.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The work directories of the pod of process `pid` (/var/tmp/rehearse-pod-<pid>-*). */
function workDirsOf(pid: number): string[] {
  return fs
    .readdirSync("/var/tmp")
    .filter((n) => n.startsWith(`rehearse-pod-${pid}-`))
    .map((n) => path.join("/var/tmp", n));
}

function netnsOf(pid: number): string[] {
  return leftovers([]).netns.filter((n) => n.startsWith(`rehearse-${pid}-`));
}

/**
 * Waits until the pod of `child` is up: its CRI copy of mail.log exists once startPod returned
 * (it follows the log only after the daemons listen).
 */
async function podUp(child: ChildProcess, output: () => string): Promise<void> {
  for (const until = Date.now() + 120_000; Date.now() < until; await sleep(200)) {
    if (child.exitCode !== null) break;
    const [dir] = workDirsOf(child.pid ?? 0);
    if (dir && fs.existsSync(path.join(dir, "cri", "mailserver.log"))) return;
  }
  assert.fail(`the rehearsal's pod did not come up: ${output().trim().split("\n").pop()}`);
}

describe("rehearsal CLI: the mail pod is undone on every way out", function () {
  this.timeout(240_000);
  const reportDir = useReportDirs("rehearse-teardown-");
  let baseline: Leftovers;
  let killed: ChildProcess | undefined;

  before(function () {
    requirePodTools(this, []);
    baseline = leftovers(POD_DAEMONS);
  });

  after(() => {
    // A failed SIGKILL test must not leave its pod: what is left of its group (unshare) goes now.
    try {
      if (killed?.pid) process.kill(-killed.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  });

  it("Ctrl-C with the pod up exits 130 and leaves no namespace, mount, work directory or daemon", async () => {
    const { child, result } = startTool("tools/rehearse/run.js", ["--out", reportDir()]);
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    await podUp(child, () => stderr);
    assert.ok(pids(POD_DAEMONS).length > baseline.processes.length, "the pod's daemons run");
    child.kill("SIGINT");
    const r = await result;
    assert.equal(r.code, 130, `exit ${r.code} ${r.signal}\n${r.stderr}`);
    assert.deepEqual(r.leftover, [], "processes left in the rehearsal's group");
    assert.deepEqual(workDirsOf(child.pid ?? 0), [], "the pod's work directory");
    await assertNothingLeft(baseline, POD_DAEMONS);
  });

  it("SIGKILL with the pod up: the daemons end with the CLI, the next pod removes the rest", async () => {
    killed = spawn(process.execPath, [RUN, "--out", reportDir()], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    let stderr = "";
    killed.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const pid = killed.pid ?? 0;
    await podUp(killed, () => stderr);
    killed.kill("SIGKILL");
    // The init looks for the CLI's /proc entry once a second; its end ends the pid namespace.
    for (let i = 0; i < 50 && pids(POD_DAEMONS).length > baseline.processes.length; i++) {
      await sleep(100);
    }
    assert.deepEqual(pids(POD_DAEMONS), baseline.processes, "daemons 5 s after the SIGKILL");
    assert.equal(netnsOf(pid).length, 1, "the killed pod's namespace is left for the next pod");
    assert.equal(workDirsOf(pid).length, 1, "and its work directory");
    const pod = await startPod((await rehearsalProgram()).run);
    await pod.stop();
    assert.deepEqual([...netnsOf(pid), ...workDirsOf(pid)], [], "what the killed pod left");
    await assertNothingLeft(baseline, POD_DAEMONS);
  });
});
