/**
 * Scenario 4 against the rehearsal's mail pod (tools/rehearse/pod.ts) with the real Postfix,
 * Dovecot and CrowdSec: the guessing client is banned and the benign one is not, and Dovecot's
 * failure counter rises by the guesses. The negative control is the rendered acquisition without
 * its dovecot datasource: an IMAP-only guesser then goes unbanned and the scenario fails.
 * Afterwards no CrowdSec process, client address or /etc/hosts line is left.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { ATTACKER, BENIGN, bruteForce } from "../../tools/rehearse/brute-force";
import { crowdsecMissing } from "../../tools/rehearse/crowdsec-replay";
import { startPod, type MailPod } from "../../tools/rehearse/pod";
import { rehearsalProgram, type RehearsalProgram } from "../../tools/rehearse/program";
import type { RehearsalContext } from "../../tools/rehearse/scenario";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { requireTool, toolMissing } from "../helpers/tools";

const ACQUISITION = "crowdsec-mail-acquisition";
const KEY = "acquis-mail.yaml";
/** Another RFC 5737 address: Dovecot's auth penalty for the first guesser outlasts its test. */
const IMAP_GUESSER = { address: "203.0.113.67", name: "imap-guesser.example.net" };

function crowdsecProcesses(): string[] {
  return spawnSync("pgrep", ["-x", "crowdsec"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
}

/** The host end of the pod's veth and the addresses on it. */
function linkAddresses(pod: MailPod): string {
  return spawnSync("ip", ["-o", "addr", "show", "dev", `rh${pod.netns.split("-").pop()}h`], {
    encoding: "utf8",
  }).stdout;
}

/** The planned run with the acquisition's `labels.program: dovecot` datasource removed. */
function withoutDovecotDatasource(run: ProgramRun): ProgramRun {
  const clone = structuredClone(run);
  const cm = clone.resources.find(
    (r) =>
      r.type === "kubernetes:core/v1:ConfigMap" &&
      (r.inputs.metadata as { name?: string }).name === ACQUISITION,
  );
  assert.ok(cm, `no planned ConfigMap ${ACQUISITION}`);
  const data = cm.inputs.data as Record<string, string>;
  const docs = parseAllDocuments(data[KEY]);
  const kept = docs.filter(
    (d) => (d.toJS() as { labels?: { program?: string } }).labels?.program !== "dovecot",
  );
  assert.equal(kept.length, docs.length - 1, "exactly one dovecot datasource to remove");
  // Each document but the first prints its own `---`.
  data[KEY] = kept.map((d) => d.toString()).join("");
  return clone;
}

describe("rehearsal: scenario 4, CrowdSec against a brute force on the mail pod", function () {
  this.timeout(240_000);
  let program: RehearsalProgram;
  let pod: MailPod | undefined;
  let ctx: RehearsalContext;
  let baseline: string[];
  let hosts: string;
  let link: string;

  before(async function () {
    for (const [tool, cmd, args] of [
      ["postconf", "postconf", ["-d", "mail_version"]],
      ["dovecot", "dovecot", ["--version"]],
      ["rspamadm", "rspamadm", ["--version"]],
      ["openssl", "openssl", ["version"]],
      ["unshare", "unshare", ["--version"]],
      ["ip", "ip", ["-V"]],
    ] as const) {
      requireTool(this, tool, cmd, [...args]);
    }
    if (!/^pcre$/m.test(spawnSync("postconf", ["-m"], { encoding: "utf8" }).stdout)) {
      toolMissing(this, "postfix-pcre", "postconf -m lists no pcre");
    }
    if (!fs.existsSync("/usr/lib/dovecot/lmtp"))
      toolMissing(this, "dovecot-lmtpd", "no /usr/lib/dovecot/lmtp");
    const missing = crowdsecMissing();
    if (missing) toolMissing(this, "crowdsec", missing);
    baseline = crowdsecProcesses();
    program = await rehearsalProgram();
    pod = await startPod(program.run);
    hosts = pod.read("/etc/hosts");
    link = linkAddresses(pod);
    ctx = {
      run: program.run,
      out: fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-out-")),
      signal: new AbortController().signal,
    };
  });

  after(async () => {
    await pod?.stop();
    if (ctx) fs.rmSync(ctx.out, { recursive: true, force: true });
  });

  it("bans the guessing address, not the benign one, and Dovecot counts every wrong guess", async () => {
    assert.ok(pod);
    const started = Date.now();
    const r = await bruteForce(pod, program.passwords)(ctx);
    const all = r.evidence.join("\n");
    assert.equal(r.verdict, "pass", all);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.match(all, new RegExp(`performed 'crowdsecurity/(dovecot|postfix)-spam'`));
    assert.match(
      all,
      new RegExp(`attacker ${ATTACKER.address}: \\d+ alert.*active decisions: ban`),
    );
    assert.match(all, new RegExp(`benign ${BENIGN.address}: 0 alert\\(s\\), 0 decision\\(s\\)`));
    assert.match(
      all,
      new RegExp(
        `agree\\): ${ATTACKER.name}\\[${ATTACKER.address}\\] yes, ${BENIGN.name}\\[${BENIGN.address}\\] yes`,
      ),
    );
    assert.match(all, /dovecot_auth_failures_total: \d+ before, \d+ after \(\+10\); expected \+10/);
    for (const f of r.files) assert.ok(fs.existsSync(path.join(ctx.out, f)), `${f} not written`);
  });

  it("negative control: without its dovecot datasource an IMAP-only guesser goes unbanned", async () => {
    assert.ok(pod);
    const r = await bruteForce(pod, program.passwords, {
      smtpGuesses: 0,
      imapGuesses: 4,
      attacker: IMAP_GUESSER,
    })({ ...ctx, run: withoutDovecotDatasource(program.run) });
    const all = r.evidence.join("\n");
    assert.equal(r.verdict, "fail", all);
    // The guesses happened and were counted; only the acquisition missed them.
    assert.match(all, /dovecot_auth_failures_total: \d+ before, \d+ after \(\+4\); expected \+4/);
    assert.match(
      all,
      new RegExp(`attacker ${IMAP_GUESSER.address}: 0 alert\\(s\\); active decisions: none`),
    );
    assert.doesNotMatch(all, /performed '/);
    assert.match(all, /CrowdSec expanded the glob to that file: yes/, "the replay read the log");
  });

  it("ends its clients and CrowdSec when the rehearsal is stopped mid-scenario", async () => {
    assert.ok(pod);
    const stop = new AbortController();
    const running = bruteForce(pod, program.passwords, {
      attacker: { address: "203.0.113.68", name: "stopped-guesser.example.net" },
    })({ ...ctx, signal: stop.signal });
    // The Local API is up and the guesses wait on Dovecot's auth_failure_delay by then.
    await new Promise((r) => setTimeout(r, 3000));
    const during = crowdsecProcesses().length;
    stop.abort(new Error("stopped"));
    const r = await running;
    assert.equal(r.verdict, "fail", r.evidence.join("\n"));
    assert.ok(during > baseline.length, "no CrowdSec process ran before the stop");
    assert.deepEqual(crowdsecProcesses(), baseline);
  });

  it("writes no mailbox password to the evidence or the files", () => {
    const written = fs
      .readdirSync(ctx.out, { recursive: true, encoding: "utf8" })
      .map((f) => path.join(ctx.out, f))
      .filter((f) => fs.statSync(f).isFile())
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
    assert.ok(written.length > 0);
    for (const pass of Object.values(program.passwords)) {
      assert.ok(!written.includes(pass), "a mailbox password was written");
      assert.ok(!written.includes(Buffer.from(pass).toString("base64")), "one was written encoded");
    }
  });

  it("leaves no CrowdSec process, client address or /etc/hosts line behind", () => {
    assert.ok(pod);
    assert.deepEqual(crowdsecProcesses(), baseline);
    assert.equal(linkAddresses(pod), link);
    assert.equal(pod.read("/etc/hosts"), hosts);
    assert.ok(!pod.records.some((r) => r.content === ATTACKER.address));
  });
});
