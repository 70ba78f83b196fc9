/**
 * The probe script exactly as the ConfigMap carries it: compiled by python3, its helpers checked,
 * then run end to end against loopback fakes of Mailgun, the Pushgateway, Uptime Kuma and an IMAPS
 * server with a throw-away certificate (so TLS verification stays on, as in the cluster).
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { alertRuleGroups, PROBE_SCRIPT, PROBE_SCRIPT_FILE } from "../../components/monitoring";
import { requireTool, toolMissing } from "../helpers/tools";
import { exposedMetrics, promqlMetrics } from "./promql";

/**
 * kube-state-metrics names every metric `kube_<object>_...` (kubernetes/kube-state-metrics,
 * docs/metrics/workload/deployment-metrics.md); the cluster's prometheus chart runs it.
 */
const KUBE_STATE_METRICS = /^kube_/;
/** Served by Dovecot itself, not pushed: tests/monitoring/dovecot-metrics.test.ts proves each one. */
const DOVECOT_METRICS = /^dovecot_/;
/** The interpreter itself: version-manager shims cost a second a start. */
function findPython(): string | undefined {
  const r = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
const TLS_NAME = "mail.probe-test.invalid";
const USER = "spam@viktorbarzin.me";
const PASSWORD = "PLACEHOLDER-imap-password";
const API_KEY = "key-PLACEHOLDER";
/** The fake IMAPS server's certificate lives this many days: a notAfter no default would give. */
const CERT_DAYS = 37;
const CERT_SERIES = "email_roundtrip_imaps_certificate_expiry_timestamp_seconds";

describe("probe script", function () {
  this.timeout(60_000);
  let dir: string;
  let script: string;
  let python: string;

  before(function () {
    python = findPython() ?? toolMissing(this, "python3", "`python3 -c ...` did not run");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "probe-"));
    script = path.join(dir, PROBE_SCRIPT_FILE);
    fs.writeFileSync(script, PROBE_SCRIPT);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("compiles (python3 -m py_compile)", () => {
    execFileSync(python, ["-m", "py_compile", script], { stdio: "pipe" });
  });

  it("parses SEARCH answers and formats metrics, Mailgun and Kuma requests", () => {
    const checks = `
import email_roundtrip as p
assert p.search_uids([b"12 15"]) == [b"12", b"15"]
assert p.search_uids([b""]) == [] and p.search_uids([None]) == []
ok = p.metrics_body(True, 12.3456, 1700000000.4)
assert "email_roundtrip_success 1\\n" in ok, ok
assert "email_roundtrip_last_success_timestamp 1700000000\\n" in ok, ok
assert "email_roundtrip_duration_seconds 12.346\\n" in ok, ok
bad = p.metrics_body(False, 300, 1700000000)
assert "email_roundtrip_success 0\\n" in bad and "last_success" not in bad, bad
assert "certificate" not in ok and "certificate" not in bad, "expiry pushed without a certificate"
# 2027-06-01T12:00:00Z is 1811851200 (date -u -d 2027-06-01T12:00:00Z +%s)
seen = p.certificate_not_after({"subject": (), "notAfter": "Jun  1 12:00:00 2027 GMT"})
assert seen == 1811851200, seen
assert p.certificate_not_after({}) is None and p.certificate_not_after(None) is None
failed_with_cert = p.metrics_body(False, 300, 1700000000, 1811851200)
assert "# TYPE email_roundtrip_imaps_certificate_expiry_timestamp_seconds gauge\\n" in failed_with_cert
assert "\\nemail_roundtrip_imaps_certificate_expiry_timestamp_seconds 1811851200\\n" in failed_with_cert
assert p.push_url("http://pg:9091/", "email-roundtrip-monitor") == "http://pg:9091/metrics/job/email-roundtrip-monitor"
k = p.kuma_url("https://kuma/api/push/T0k?status=up&msg=OK&ping=", False, "not delivered", 1500.7)
assert k == "https://kuma/api/push/T0k?status=down&msg=not+delivered&ping=1500", k
cfg = dict(MAILGUN_API_BASE="https://api.eu.mailgun.net/", MAILGUN_DOMAIN="viktorbarzin.me",
           MAILGUN_API_KEY="k", PROBE_FROM="e2e-probe@viktorbarzin.me", PROBE_TO="smoke-test@viktorbarzin.me")
r = p.mailgun_request(cfg, "abc")
assert r.full_url == "https://api.eu.mailgun.net/v3/viktorbarzin.me/messages", r.full_url
assert r.get_method() == "POST" and r.get_header("Authorization") == "Basic YXBpOms="
assert b"subject=e2e-roundtrip+abc" in r.data, r.data
try:
    p.load_config({"MAILGUN_API_KEY": "k"})
    raise AssertionError("missing settings accepted")
except SystemExit as e:
    assert "IMAP_PASSWORD" in str(e) and "k" not in str(e).split(": ")[0], e
print("ok")
`;
    const out = execFileSync(python, ["-c", checks], { cwd: dir, encoding: "utf8" });
    assert.equal(out.trim(), "ok");
  });

  describe("end to end against loopback fakes", () => {
    let fake: ChildProcess | undefined;
    let cert: string;
    let key: string;
    /** notAfter of the fake server's certificate, seconds since the epoch. */
    let notAfter: number;

    before(function () {
      requireTool(this, "openssl", "openssl", ["version"]);
      cert = path.join(dir, "cert.pem");
      key = path.join(dir, "key.pem");
      execFileSync(
        "openssl",
        // prettier-ignore
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(CERT_DAYS), "-keyout", key, "-out", cert,
          "-subj", `/CN=${TLS_NAME}`, "-addext", `subjectAltName=DNS:${TLS_NAME}`],
        { stdio: "ignore" },
      );
      // The certificate's real notAfter, as openssl reads it back (ISO 8601, UTC).
      const end = execFileSync(
        "openssl",
        ["x509", "-in", cert, "-noout", "-enddate", "-dateopt", "iso_8601"],
        { encoding: "utf8" },
      ).trim();
      const iso = /^notAfter=(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)Z$/.exec(end);
      assert.ok(iso, end);
      notAfter = Date.parse(`${iso[1]}T${iso[2]}Z`) / 1000;
      // -days counts from now: the date openssl wrote is CERT_DAYS days ahead.
      const ahead = notAfter - Date.now() / 1000;
      assert.ok(Math.abs(ahead - CERT_DAYS * 86400) < 120, `${end}: ${ahead} s ahead`);
    });

    afterEach(async () => stopFake());

    async function stopFake(): Promise<void> {
      const p = fake;
      fake = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    }

    interface FakeState {
      mailgun: { path: string; auth: string; form: Record<string, string> }[];
      pushes: { path: string; body: string }[];
      kuma: string[];
      imap_logins: string[];
      store: Record<string, unknown>;
    }

    /** Starts the fakes, runs the probe once, stops the fakes; returns the exit and what they saw. */
    async function probe(opts: { drop?: boolean; tlsName?: string }) {
      const state = path.join(dir, "state.json");
      const fakeArgs = [
        path.join(__dirname, "fake_mail_services.py"),
        "--cert",
        cert,
        "--key",
        key,
      ];
      fakeArgs.push("--state", state, "--user", USER, "--password", PASSWORD);
      if (opts.drop) fakeArgs.push("--drop");
      fake = spawn(python, fakeArgs, { stdio: ["ignore", "pipe", "inherit"] });
      const first = await new Promise<string>((resolve, reject) => {
        readline.createInterface({ input: fake!.stdout! }).once("line", resolve);
        fake!.once("exit", (code) => reject(new Error(`fake exited with ${code}`)));
      });
      const ports = JSON.parse(first) as { http: number; imap: number };
      const http = `http://127.0.0.1:${ports.http}`;
      const run = spawnSync(python, [script], {
        encoding: "utf8",
        timeout: 30_000,
        env: {
          PATH: process.env.PATH,
          SSL_CERT_FILE: cert, // trust the fake's certificate, and nothing else
          MAILGUN_API_BASE: http,
          MAILGUN_DOMAIN: "viktorbarzin.me",
          MAILGUN_API_KEY: API_KEY,
          PROBE_FROM: "e2e-probe@viktorbarzin.me",
          PROBE_TO: "smoke-test@viktorbarzin.me",
          IMAP_HOST: "127.0.0.1",
          IMAP_PORT: String(ports.imap),
          IMAP_TLS_NAME: opts.tlsName ?? TLS_NAME,
          IMAP_USER: USER,
          IMAP_PASSWORD: PASSWORD,
          PUSHGATEWAY_URL: http,
          PUSH_JOB: "email-roundtrip-monitor",
          POLL_TIMEOUT_SECONDS: "1",
          POLL_INTERVAL_SECONDS: "0.2",
          UPTIME_KUMA_PUSH_URL: `${http}/api/push/T0ken?status=up&msg=OK&ping=`,
        },
      });
      await stopFake();
      const seen = JSON.parse(fs.readFileSync(state, "utf8")) as FakeState;
      return { status: run.status, output: run.stdout + run.stderr, seen };
    }

    it("sends, finds and deletes the mail, pushes success and pings Kuma up", async () => {
      const { status, output, seen } = await probe({});
      assert.equal(status, 0, output);
      assert.equal(seen.mailgun.length, 1);
      const sent = seen.mailgun[0];
      assert.equal(sent.path, "/v3/viktorbarzin.me/messages");
      assert.equal(sent.auth, `Basic ${Buffer.from(`api:${API_KEY}`).toString("base64")}`);
      assert.equal(sent.form.to, "smoke-test@viktorbarzin.me");
      assert.match(sent.form.subject, /^e2e-roundtrip [0-9a-f]{32}$/);
      assert.deepEqual(seen.store, {}, "the probe mail was not deleted");
      assert.deepEqual(seen.imap_logins.slice(0, 1), [USER]);
      assert.equal(seen.pushes.length, 1);
      assert.equal(seen.pushes[0].path, "/metrics/job/email-roundtrip-monitor");
      assert.match(seen.pushes[0].body, /^email_roundtrip_success 1$/m);
      assert.match(seen.pushes[0].body, /^email_roundtrip_last_success_timestamp \d+$/m);
      // The served certificate's notAfter, pushed with the other series.
      assert.ok(
        seen.pushes[0].body.includes(`\n${CERT_SERIES} ${notAfter}\n`),
        seen.pushes[0].body,
      );
      assert.ok(seen.pushes[0].body.includes(`# TYPE ${CERT_SERIES} gauge\n`));
      assert.equal(seen.kuma.length, 1);
      assert.match(seen.kuma[0], /^\/api\/push\/T0ken\?status=up&msg=delivered&ping=\d+$/);
      assert.ok(!output.includes(PASSWORD) && !output.includes(API_KEY), output);
    });

    it("fails when the mail never arrives: pushes 0 without a success time, Kuma down", async () => {
      const { status, output, seen } = await probe({ drop: true });
      assert.equal(status, 1, output);
      assert.match(seen.pushes[0].body, /^email_roundtrip_success 0$/m);
      assert.doesNotMatch(seen.pushes[0].body, /last_success/);
      assert.match(seen.kuma[0], /status=down/);
      // The mail never came, but the IMAPS handshake did: its certificate is still reported.
      assert.ok(
        seen.pushes[0].body.includes(`\n${CERT_SERIES} ${notAfter}\n`),
        seen.pushes[0].body,
      );
    });

    it("verifies the IMAP certificate against the mail host name", async () => {
      const { status, output, seen } = await probe({ tlsName: "other.invalid" });
      assert.equal(status, 1, output);
      assert.match(output, /CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError/);
      assert.deepEqual(seen.imap_logins, [], "logged in over an unverified connection");
      assert.match(seen.pushes[0].body, /^email_roundtrip_success 0$/m);
      // Nothing verified, nothing reported: the previous value stays in the Pushgateway group.
      assert.ok(!seen.pushes[0].body.includes(CERT_SERIES), seen.pushes[0].body);
    });

    it("pushes every metric the alert rules read, beside kube-state-metrics' own", async () => {
      const runs = [await probe({}), await probe({ drop: true })];
      const pushed = new Set(
        runs.flatMap((r) => r.seen.pushes.flatMap((p) => exposedMetrics(p.body))),
      );
      const unproduced = (names: string[]) =>
        names.filter(
          (m) => !pushed.has(m) && !KUBE_STATE_METRICS.test(m) && !DOVECOT_METRICS.test(m),
        );
      const rules = alertRuleGroups({ namespace: "mailserver", deploymentName: "mailserver" });
      const read = rules.flatMap((g) => g.rules).flatMap((r) => promqlMetrics(r.expr));
      assert.ok(
        read.some((m) => pushed.has(m)),
        `no alert reads what the probe pushes: ${read.join(", ")}`,
      );
      assert.deepEqual(unproduced(read), [], `pushed: ${[...pushed].join(", ")}`);
      // Negative control: a rule reading a misspelt probe metric is caught.
      const typo = [...pushed][0].replace(/_(\w)/, "$1");
      assert.deepEqual(unproduced(promqlMetrics(`absent(${typo}) or time() - ${typo} > 60`)), [
        typo,
      ]);
    });
  });
});
