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
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { ATTACKER, BENIGN, bruteForce } from "../../tools/rehearse/brute-force";
import { crowdsecMissing } from "../../tools/rehearse/crowdsec-replay";
import type { MailPod } from "../../tools/rehearse/pod";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { toolMissing } from "../helpers/tools";
import { pids, usePod, writtenText } from "./support";

const ACQUISITION = "crowdsec-mail-acquisition";
const KEY = "acquis-mail.yaml";
/** Another RFC 5737 address: Dovecot's auth penalty for the first guesser outlasts its test. */
const IMAP_GUESSER = { address: "203.0.113.67", name: "imap-guesser.example.net" };

const CROWDSEC = ["crowdsec"];

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
  let baseline: string[];
  let hosts: string;
  let link: string;

  before(() => {
    baseline = pids(CROWDSEC);
  });
  const f = usePod({
    require(ctx) {
      const missing = crowdsecMissing();
      if (missing) toolMissing(ctx, "crowdsec", missing);
    },
    processes: CROWDSEC,
  });
  before(() => {
    hosts = f.running().read("/etc/hosts");
    link = linkAddresses(f.running());
  });

  it("bans the guessing address, not the benign one, and Dovecot counts every wrong guess", async () => {
    const started = Date.now();
    const r = await bruteForce(f.running(), f.program.passwords)(f.ctx);
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
    for (const file of r.files)
      assert.ok(fs.existsSync(path.join(f.ctx.out, file)), `${file} not written`);
  });

  it("negative control: without its dovecot datasource an IMAP-only guesser goes unbanned", async () => {
    const r = await bruteForce(f.running(), f.program.passwords, {
      smtpGuesses: 0,
      imapGuesses: 4,
      attacker: IMAP_GUESSER,
    })({ ...f.ctx, run: withoutDovecotDatasource(f.program.run) });
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
    const stop = new AbortController();
    const running = bruteForce(f.running(), f.program.passwords, {
      attacker: { address: "203.0.113.68", name: "stopped-guesser.example.net" },
    })({ ...f.ctx, signal: stop.signal });
    // The Local API is up and the guesses wait on Dovecot's auth_failure_delay by then.
    await new Promise((r) => setTimeout(r, 3000));
    const during = pids(CROWDSEC).length;
    stop.abort(new Error("stopped"));
    const r = await running;
    assert.equal(r.verdict, "fail", r.evidence.join("\n"));
    assert.ok(during > baseline.length, "no CrowdSec process ran before the stop");
    assert.deepEqual(pids(CROWDSEC), baseline);
  });

  it("writes no mailbox password to the evidence or the files", () => {
    const written = writtenText(f.ctx.out);
    assert.ok(written.length > 0);
    for (const pass of Object.values(f.program.passwords)) {
      assert.ok(!written.includes(pass), "a mailbox password was written");
      assert.ok(!written.includes(Buffer.from(pass).toString("base64")), "one was written encoded");
    }
  });

  it("leaves no CrowdSec process, client address or /etc/hosts line behind", () => {
    const pod = f.running();
    assert.deepEqual(pids(CROWDSEC), baseline);
    assert.equal(linkAddresses(pod), link);
    assert.equal(pod.read("/etc/hosts"), hosts);
    assert.ok(!pod.records.some((r) => r.content === ATTACKER.address));
  });

  it("once the pod is stopped, leaves no namespace, mount, work directory or daemon", () =>
    f.assertNothingLeft());
});
