/**
 * Rehearsal scenario 6 "MTA-STS": the Worker the program plans runs in workerd (miniflare) and
 * mailauth's strict RFC 8461 client fetches the policy through it. The plan as it stands passes;
 * each negative control breaks one link (the path served, the backup MX in the policy, the
 * `_mta-sts` id) and must turn the verdict to "fail". No test may leave a workerd process behind.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";
import { mtaSts } from "../../tools/rehearse/mta-sts";
import type { ScenarioResult } from "../../tools/rehearse/scenario";
import { find, prodRun } from "../helpers/program";
import { requireTool } from "../helpers/tools";
import { pids, useReportDirs } from "./support";

/**
 * The policy file the prod stack must serve: RFC 8461 §3.2 fields with CRLF lines, mode and max_age
 * from Pulumi.prod.yaml `dns.mtaSts`, the MX hosts of the zone (world/today/cloudflare.yaml: mail,
 * and mx2, the backup MX of stacks/cloudflared).
 */
const POLICY =
  "version: STSv1\r\nmode: enforce\r\nmx: mail.viktorbarzin.me\r\nmx: mx2.viktorbarzin.me\r\nmax_age: 604800\r\n";
/** The first 20 hex digits of SHA-256(POLICY), as `_mta-sts` publishes it. */
const POLICY_ID = "90d64a1e4cf4e46ff28b";

const FETCH_OK =
  "pass: Worker mta-sts-viktorbarzin-me (mta-sts.mjs, compatibility date 2025-06-01) on " +
  "mta-sts.viktorbarzin.me via mta-sts-domain (custom domain): " +
  "GET https://mta-sts.viktorbarzin.me/.well-known/mta-sts.txt: workerd 200 " +
  "text/plain; charset=utf-8, 99 bytes; mailauth strict getPolicy: found, mode enforce, " +
  "max_age 604800, mx mail.viktorbarzin.me mx2.viktorbarzin.me";
const MAIL_OK =
  "pass: MX mail.viktorbarzin.me (planned DnsRecord dns-mx-mail.viktorbarzin.me): validateMx valid (mode enforce)";
const MX2_OK =
  "pass: MX mx2.viktorbarzin.me (another stack's record in the zone, world/): validateMx valid (mode enforce)";
const ATTACKER_OK = "pass: MX mx.attacker.example (no MX of the zone): validateMx refused";
const ID_OK =
  `pass: _mta-sts TXT "v=STSv1; id=${POLICY_ID}" vs SHA-256 of the 99 bytes workerd served, ` +
  `first 20 hex digits ${POLICY_ID}: match`;

/** workerd processes running now, by pid. */
function workerdPids(): Set<number> {
  return new Set(pids([{ cmdline: "workerd" }]).map(Number));
}

/** A copy of the run with one planned resource's inputs edited. */
function edited(
  run: ProgramRun,
  type: string,
  name: string,
  edit: (inputs: Record<string, unknown>) => void,
): ProgramRun {
  const copy = structuredClone(run);
  edit(find(copy, type, name).inputs);
  return copy;
}

/** Node's own `https.request`, which the scenario may reroute only for its one policy fetch. */
const request = https.request;
const SCRIPT = "cloudflare:index/workersScript:WorkersScript";
const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";

describe("rehearsal 6 MTA-STS: the planned Worker in workerd, fetched by mailauth", function () {
  let run: ProgramRun;
  let preexisting: Set<number>;
  const reportDir = useReportDirs();

  before(async function () {
    requireTool(this, "openssl", "openssl", ["version"]);
    run = await prodRun();
  });
  beforeEach(() => {
    preexisting = workerdPids();
  });
  afterEach(() => {
    assert.equal(https.request, request, "https.request was not restored");
    const left = [...workerdPids()].filter((pid) => !preexisting.has(pid));
    assert.deepEqual(left, [], `workerd left running: ${left.join(", ")}`);
  });

  async function rehearse(r: ProgramRun, signal = new AbortController().signal) {
    const out = reportDir();
    const start = performance.now();
    const result: ScenarioResult = await mtaSts({ run: r, out, signal });
    return { result, out, ms: performance.now() - start };
  }

  it("passes on the plan: policy served, every zone MX valid, the attacker refused, id follows the bytes", async () => {
    const { result, out, ms } = await rehearse(run);
    console.log(`      scenario wall time: ${Math.round(ms)} ms`);
    assert.deepEqual(result, {
      name: "6 MTA-STS",
      verdict: "pass",
      evidence: [FETCH_OK, MAIL_OK, MX2_OK, ATTACKER_OK, ID_OK],
      files: ["mta-sts/served.txt"],
    });
    assert.equal(readFileSync(path.join(out, "mta-sts/served.txt"), "utf8"), POLICY);
  });

  it("fails when the Worker answers on another path: the sender gets 404 and no policy", async () => {
    const wrongPath = edited(run, SCRIPT, "mta-sts-worker", (inputs) => {
      const content = String(inputs.content);
      assert.ok(content.includes('"/.well-known/mta-sts.txt"'));
      inputs.content = content.replace('"/.well-known/mta-sts.txt"', '"/.well-known/mta-sts.text"');
    });
    const { result } = await rehearse(wrongPath);
    assert.equal(result.verdict, "fail");
    assert.match(
      result.evidence[0],
      /^FAIL: .*: workerd 404 text\/plain, body not read; mailauth strict getPolicy: errored \(http_status_404: Invalid response code 404\)$/,
    );
    assert.ok(
      result.evidence.includes(
        "FAIL: MX mx.attacker.example (no MX of the zone): validateMx valid (mode none): an attacker's MX would be trusted",
      ),
      result.evidence.join("\n"),
    );
    assert.equal(
      result.evidence.at(-1),
      `FAIL: _mta-sts id=${POLICY_ID}: no policy bytes served to hash`,
    );
    assert.deepEqual(result.files, []);
  });

  it("fails when the policy binding lists no mx2: the backup MX would be refused", async () => {
    const noMx2 = edited(run, SCRIPT, "mta-sts-worker", (inputs) => {
      const [binding] = inputs.bindings as { text: string }[];
      assert.equal(binding.text, POLICY);
      binding.text = POLICY.replace("mx: mx2.viktorbarzin.me\r\n", "");
    });
    const { result } = await rehearse(noMx2);
    assert.equal(result.verdict, "fail");
    assert.ok(result.evidence.includes(MAIL_OK), result.evidence.join("\n"));
    assert.ok(
      result.evidence.includes(
        "FAIL: MX mx2.viktorbarzin.me (another stack's record in the zone, world/): validateMx refused (mode enforce)",
      ),
      result.evidence.join("\n"),
    );
    assert.ok(result.evidence.includes(ATTACKER_OK));
  });

  it("fails when the _mta-sts id does not follow the served bytes", async () => {
    const offId = edited(run, DNS_RECORD, "dns-mta-sts", (inputs) => {
      assert.equal(inputs.content, `"v=STSv1; id=${POLICY_ID}"`);
      inputs.content = '"v=STSv1; id=0123456789abcdef0123"';
    });
    const { result } = await rehearse(offId);
    assert.equal(result.verdict, "fail");
    assert.deepEqual(result.evidence.slice(0, 4), [FETCH_OK, MAIL_OK, MX2_OK, ATTACKER_OK]);
    assert.equal(
      result.evidence[4],
      'FAIL: _mta-sts TXT "v=STSv1; id=0123456789abcdef0123" vs SHA-256 of the 99 bytes workerd ' +
        `served, first 20 hex digits ${POLICY_ID}: mismatch`,
    );
  });

  it("fails without a custom domain for the Worker, starting no workerd", async () => {
    const noDomain = structuredClone(run);
    noDomain.resources = noDomain.resources.filter(
      (r: CapturedResource) =>
        r.type !== "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
    );
    const { result } = await rehearse(noDomain);
    assert.equal(result.verdict, "fail");
    assert.match(result.evidence[0], /^FAIL: no cloudflare:index\/workersCustomDomain/);
  });

  it("stops workerd when the rehearsal is aborted mid-run", async () => {
    const controller = new AbortController();
    let settled = false;
    const pending = rehearse(run, controller.signal).finally(() => (settled = true));
    // Abort once workerd is up, so the dispose path is the abort's, not the normal end's.
    while (!settled && ![...workerdPids()].some((pid) => !preexisting.has(pid))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(settled, false, "the scenario ended before workerd was seen running");
    controller.abort();
    await assert.rejects(pending, { name: "AbortError" });
  });
});
