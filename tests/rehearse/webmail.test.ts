/**
 * Scenario 5 (tools/rehearse/webmail.ts): Debian's Roundcube 1.6.5 with the rendered webmail
 * configuration, in headless Chromium, logs in, sends over submission and sees the message in the
 * inbox; the screenshot is a PNG. Negative control: the rendered ROUNDCUBEMAIL_DEFAULT_HOST
 * pointed at a host the cluster does not have fails the login, and so does a tls-peer.inc.php naming
 * another peer (the certificate check is on). Afterwards no php or chromium runs.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CHROMIUM, ROUNDCUBE_PUBLIC, webmail } from "../../tools/rehearse/webmail";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { toolMissing } from "../helpers/tools";
import { usePod, writtenText } from "./support";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The php and chromium processes (none run on this machine outside a rehearsal). */
const BROWSER_AND_PHP = ["php", "chromium"];

/** The planned run with the webmail Deployment's env var `name` set to `value`. */
function withWebmailEnv(run: ProgramRun, name: string, value: string): ProgramRun {
  const clone = structuredClone(run);
  const d = clone.resources.find(
    (r) =>
      r.type === "kubernetes:apps/v1:Deployment" &&
      (r.inputs.metadata as { name?: string }).name === "roundcubemail",
  );
  const env = (
    d?.inputs.spec as
      | { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }
      | undefined
  )?.template.spec.containers[0].env.find((e) => e.name === name);
  assert.ok(env, `no ${name} in the planned webmail Deployment`);
  env.value = value;
  return clone;
}

describe("rehearsal: Roundcube in Chromium against the mail pod", function () {
  this.timeout(180_000);
  const evidence: string[] = [];
  const f = usePod({
    tools: [
      ["php", "php", ["--version"]],
      ["chromium", CHROMIUM, ["--version"]],
    ],
    require(ctx) {
      if (!fs.existsSync(path.join(ROUNDCUBE_PUBLIC, "index.php")))
        toolMissing(ctx, "roundcube-core", `no ${ROUNDCUBE_PUBLIC}/index.php`);
    },
    processes: BROWSER_AND_PHP,
    out: "rehearse-webmail-",
  });

  it("logs in, sends through the compose form over submission and finds the message in the inbox", async () => {
    const start = Date.now();
    const r = await webmail(f.running(), f.program.passwords)(f.ctx);
    evidence.push(...r.evidence);
    assert.equal(r.verdict, "pass", r.evidence.join("\n"));
    assert.ok(Date.now() - start < 40_000, `took ${Date.now() - start} ms`);
    assert.ok(r.evidence.some((e) => /^login as .*: page "Roundcube Webmail :: /.test(e)));
    assert.ok(r.evidence.some((e) => /^submission: .*sasl_username=/.test(e)));
    assert.ok(
      r.evidence.some((e) => /^arrival: "rehearsal: webmail [0-9a-f]+" in the inbox/.test(e)),
    );
    assert.ok(r.evidence.some((e) => /^not rehearsed: composer plugins /.test(e)));
    assert.ok(r.files.includes("webmail/inbox.png"));
    const png = fs.readFileSync(path.join(f.ctx.out, "webmail", "inbox.png"));
    assert.ok(png.subarray(0, 8).equals(PNG_MAGIC), "inbox.png is no PNG");
    assert.ok(png.length > 10_000, `inbox.png is only ${png.length} bytes`);
  });

  /** A negative control: the scenario on `run` fails, its login failed and its evidence says `why`. */
  async function failsLogin(run: ProgramRun, why: RegExp): Promise<void> {
    const r = await webmail(f.running(), f.program.passwords)({ ...f.ctx, run });
    evidence.push(...r.evidence);
    const all = r.evidence.join("\n");
    assert.equal(r.verdict, "fail", all);
    assert.ok(
      r.evidence.some((e) => /^login as .* failed/.test(e)),
      all,
    );
    assert.ok(
      r.evidence.some((e) => why.test(e)),
      all,
    );
  }

  it("negative control: ROUNDCUBEMAIL_DEFAULT_HOST pointed at a wrong host fails the login", async () => {
    const run = withWebmailEnv(f.program.run, "ROUNDCUBEMAIL_DEFAULT_HOST", "ssl://mail-wrong");
    await failsLogin(run, /getaddrinfo for mail-wrong failed/);
  });

  it("negative control: tls-peer.inc.php naming another peer fails the login (verification is on)", async () => {
    const run = structuredClone(f.program.run);
    const cm = run.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:ConfigMap" &&
        (r.inputs.metadata as { name?: string }).name === "roundcubemail-config",
    );
    const data = cm?.inputs.data as Record<string, string> | undefined;
    assert.ok(data?.["tls-peer.inc.php"].includes("'peer_name' => '") && data, "no peer_name");
    data["tls-peer.inc.php"] = data["tls-peer.inc.php"].replace(
      /'peer_name' => '[^']+'/g,
      "'peer_name' => 'wrong.example.org'",
    );
    await failsLogin(run, /did not match expected name `wrong\.example\.org'/);
  });

  it("no password reaches the evidence or the report files", () => {
    const written = writtenText(f.ctx.out, "latin1");
    assert.ok(evidence.length > 0);
    for (const pass of Object.values(f.program.passwords))
      assert.ok(!evidence.join("\n").includes(pass), "a mailbox password reached the evidence");
    for (const pass of Object.values(f.program.passwords))
      assert.ok(!written.includes(pass), "a mailbox password was written");
  });

  it("leaves no php or chromium process behind, nor (stopped) the pod's", () =>
    f.assertNothingLeft());
});
