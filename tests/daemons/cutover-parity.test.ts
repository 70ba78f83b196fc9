/**
 * What the live Terraform mail stack does (ViktorBarzin/infra @ 0cd4afb6,
 * stacks/mailserver/modules/mailserver) and the program's pod must keep, asked of the real
 * daemons' tools (Debian bookworm's Postfix 3.7, Dovecot 2.3.19.1 with Pigeonhole, Rspamd 3.4)
 * with the planned files, set up as docker-mailserver 15.0.0 leaves them
 * (world/dms-15.0.0/startup.yaml): SRS off, the PROXY-v2 listeners, the backup MX drain's
 * permit and Rspamd overrides, the Dovecot auth delay, the docs@ Sieve allowlist and the
 * repository's aliases. Expected values are the live ones, written out.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ProgramRun } from "../../tools/offline/mock-program";
import {
  applyDovecotAppend,
  applyRspamdLocalD,
  dmsEnvironment,
  dovecotConfPath,
  dovecotLocalConfPath,
  dovecotStatsConf,
  postfixAsDmsLeavesIt,
  runUserPatches,
} from "../../tools/rehearse/dms-startup";
import { at, find, prodRun } from "../helpers/program";
import { requireTool, toolMissing } from "../helpers/tools";
import { postconfWarnings, postfixAsPodStarts, run, userPatchesPath, type Pod } from "./checkers";
import { renderedFiles } from "./rendered";

const DMS = "/tmp/docker-mailserver";

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe("cutover parity with the live mail stack, under the real tools", function () {
  this.timeout(300_000);
  let planned: ProgramRun;
  let pod: Pod;
  const dirs: string[] = [];
  const dir = (prefix: string) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };

  before(async () => {
    planned = await prodRun();
    const env = at<Record<string, string>>(
      find(planned, "kubernetes:core/v1:ConfigMap", "mailserver-env"),
      "data",
    );
    const files = renderedFiles(planned).filter((f) => f.workload.startsWith("Deployment/mail"));
    pod = { env, files: Object.fromEntries(files.map((f) => [f.mountPath, f.content])) };
  });
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  describe("Postfix", () => {
    let etc: string;
    const postconf = (...args: string[]) => run("postconf", ["-c", etc, ...args]);
    before(function () {
      requireTool(this, "postconf", "postconf", ["-d", "mail_version"]);
      etc = dir("postfix-pod-");
      assert.deepEqual(postfixAsPodStarts(etc, pod), []);
    });

    it("keeps SRS off (infra main.tf:84-96): no canonical maps to postsrsd", () => {
      assert.equal(pod.env.ENABLE_SRS, "0");
      assert.equal(postconf("-h", "sender_canonical_maps").stdout.trim(), "");
      assert.equal(postconf("-h", "recipient_canonical_maps").stdout.trim(), "");
    });

    it("negative control: with ENABLE_SRS=1 the same startup points Postfix at postsrsd", () => {
      const srs = dir("postfix-srs-");
      postfixAsDmsLeavesIt(srs, dmsEnvironment({ ...pod.env, ENABLE_SRS: "1" }), pod.files);
      const r = run("postconf", ["-c", srs, "-h", "sender_canonical_maps"]);
      assert.equal(r.stdout.trim(), "tcp:localhost:10001");
    });

    it("adds the three PROXY-v2 listeners of the live user-patches.sh to master.cf", () => {
      const entries = postconf("-M", "2525/inet", "4465/inet", "5587/inet")
        .stdout.trim()
        .split("\n")
        .map((l) => l.split(/\s+/).slice(0, 8).join(" "));
      assert.deepEqual(entries, [
        "2525 inet n - n - 1 postscreen",
        "4465 inet n - n - - smtpd",
        "5587 inet n - n - - smtpd",
      ]);
      const params = (svc: string) =>
        postconf(
          "-P",
          ...["syslog_name", "smtpd_sasl_auth_enable", "smtpd_sender_restrictions"]
            .concat(["smtpd_upstream_proxy_protocol", "postscreen_upstream_proxy_protocol"])
            .concat(["smtpd_tls_wrappermode", "smtpd_tls_security_level", "smtpd_tls_auth_only"])
            .map((p) => `${svc}/${p}`),
        )
          .stdout.trim()
          .split("\n")
          .sort();
      // Sorted: postconf prints them in master.cf order.
      assert.deepEqual(params("2525/inet"), [
        "2525/inet/postscreen_upstream_proxy_protocol = haproxy",
        "2525/inet/syslog_name = postfix/smtpd-proxy25",
      ]);
      assert.deepEqual(params("4465/inet"), [
        "4465/inet/smtpd_sasl_auth_enable = yes",
        "4465/inet/smtpd_sender_restrictions = $mua_sender_restrictions",
        "4465/inet/smtpd_tls_auth_only = yes",
        "4465/inet/smtpd_tls_wrappermode = yes",
        "4465/inet/smtpd_upstream_proxy_protocol = haproxy",
        "4465/inet/syslog_name = postfix/smtpd-proxy465",
      ]);
      assert.deepEqual(params("5587/inet"), [
        "5587/inet/smtpd_sasl_auth_enable = yes",
        "5587/inet/smtpd_sender_restrictions = $mua_sender_restrictions",
        "5587/inet/smtpd_tls_auth_only = yes",
        "5587/inet/smtpd_tls_security_level = encrypt",
        "5587/inet/smtpd_upstream_proxy_protocol = haproxy",
        "5587/inet/syslog_name = postfix/smtpd-proxy587",
      ]);
      // The stock listeners stay PROXY-free for in-cluster clients.
      for (const svc of ["smtp/inet", "submission/inet", "submissions/inet"]) {
        const stock = postconf("-P", `${svc}/smtpd_upstream_proxy_protocol`).stdout.trim();
        assert.equal(stock, "", svc);
      }
      assert.deepEqual(postconfWarnings(etc), []);
    });

    it("gives the same master.cf when user-patches.sh runs a second time", () => {
      const once = fs.readFileSync(path.join(etc, "master.cf"), "utf8");
      const again = runUserPatches(pod.files[userPatchesPath()], etc, { "/etc/postfix": etc });
      assert.equal(again.status, 0, again.out);
      assert.equal(fs.readFileSync(path.join(etc, "master.cf"), "utf8"), once);
    });

    it("negative control: without user-patches.sh there is no PROXY listener", () => {
      const bare = dir("postfix-bare-");
      const files = { ...pod.files };
      delete files[userPatchesPath()];
      assert.deepEqual(postfixAsPodStarts(bare, { ...pod, files }), []);
      assert.equal(run("postconf", ["-c", bare, "-M", "2525/inet"]).stdout.trim(), "");
    });

    it("lets the backup MX's tunnel address past the sender restrictions (ADR-0019)", () => {
      // DMS's list (with POSTFIX_REJECT_UNKNOWN_CLIENT_HOSTNAME=1) after the permit.
      assert.equal(
        postconf("-x", "-h", "smtpd_sender_restrictions").stdout.trim(),
        `check_client_access cidr:${DMS}/backup-mx-permit.cidr, permit_sasl_authenticated, permit_mynetworks, reject_unknown_sender_domain, reject_unknown_client_hostname`,
      );
      // Submission keeps DMS's own list: the permit is for port 25 only.
      assert.doesNotMatch(postconf("-x", "-h", "mua_sender_restrictions").stdout, /cidr:/);
      const cidr = path.join(dir("cidr-"), "backup-mx-permit.cidr");
      fs.writeFileSync(cidr, pod.files[`${DMS}/backup-mx-permit.cidr`]);
      assert.equal(run("postmap", ["-q", "10.3.2.10", `cidr:${cidr}`]).stdout.trim(), "OK");
      const other = run("postmap", ["-q", "10.3.2.11", `cidr:${cidr}`]);
      assert.equal(other.status, 1, "a neighbour of the tunnel address is not permitted");
      assert.equal(
        postconf("-h", "smtpd_client_event_limit_exceptions").stdout.trim(),
        "$mynetworks 10.3.2.10/32",
      );
      // Relay rights are untouched: mynetworks stays empty (PERMIT_DOCKER=none).
      assert.equal(postconf("-h", "mynetworks").stdout.trim(), "");
    });
  });

  describe("Dovecot", () => {
    let conf: string;
    const doveconf = (...args: string[]) => run("doveconf", ["-c", conf, ...args]);
    before(function () {
      requireTool(this, "doveconf", "doveconf", ["-d"]);
      const etc = dir("dovecot-pod-");
      const inCopy = (file: string) => path.join(etc, path.relative("/etc/dovecot", file));
      conf = inCopy(dovecotConfPath());
      fs.cpSync(dovecotConfPath(), conf);
      fs.cpSync("/etc/dovecot/conf.d", path.join(etc, "conf.d"), { recursive: true });
      fs.writeFileSync(path.join(etc, "conf.d", "60-stats.conf"), dovecotStatsConf());
      fs.writeFileSync(inCopy(dovecotLocalConfPath()), pod.files[`${DMS}/dovecot.cf`]);
      applyDovecotAppend(conf);
      const r = runUserPatches(pod.files[userPatchesPath()], etc, { "/etc/dovecot/": `${etc}/` });
      assert.equal(r.status, 0, r.out);
    });

    it("waits 5 s before answering a failed login, as live", () => {
      assert.equal(doveconf("-h", "auth_failure_delay").stdout.trim(), "5 secs");
    });

    it("serves IMAPS with PROXY v2 on 10993 to the nodes' subnet, beside the stock 993", () => {
      assert.equal(doveconf("-h", "haproxy_trusted_networks").stdout.trim(), "10.0.20.0/24");
      const n = doveconf("-n").stdout;
      const login = /^service imap-login \{\n([\s\S]*?)^\}/m.exec(n)?.[1] ?? "";
      assert.match(
        login,
        /inet_listener imaps_proxy \{\n\s+haproxy = yes\n\s+port = 10993\n\s+ssl = yes\n\s+\}/,
      );
      // The stock listener keeps Dovecot's default (993, TLS, no PROXY).
      const all = doveconf("-a").stdout;
      const imaps = /inet_listener imaps \{\n([\s\S]*?)\}/.exec(all)?.[1] ?? "";
      assert.match(imaps, /haproxy = no/);
      assert.match(imaps, /port = 993/);
    });
  });

  describe("Rspamd overrides of the backup MX drain", () => {
    let tree: string;
    const rspamadm = (...args: string[]) =>
      run("rspamadm", [
        `--var=CONFDIR=${tree}`,
        `--var=LOCAL_CONFDIR=${tree}`,
        args[0],
        "-c",
        path.join(tree, "rspamd.conf"),
        ...args.slice(1),
      ]);
    const install = (files: Record<string, string>) => {
      tree = path.join(dir("rspamd-"), "rspamd");
      fs.cpSync("/etc/rspamd", tree, { recursive: true });
      applyRspamdLocalD(tree);
      for (const [name, content] of Object.entries(files)) {
        fs.writeFileSync(path.join(tree, "override.d", name), content);
      }
    };
    const overrides = () =>
      Object.fromEntries(
        Object.entries(pod.files)
          .filter(([p]) => p.startsWith(`${DMS}/rspamd/override.d/`))
          .map(([p, c]) => [path.basename(p), c]),
      );
    before(function () {
      requireTool(this, "rspamadm");
    });

    it("accepts the whole override set, every module configured (no schema error)", () => {
      assert.deepEqual(Object.keys(overrides()).sort(), [
        "dkim_signing.conf",
        "external_relay.conf",
        "force_actions.conf",
      ]);
      install(overrides());
      const test = rspamadm("configtest");
      assert.equal(test.status, 0, test.out);
      assert.match(test.out, /syntax OK/);
      assert.doesNotMatch(test.out, /config schema error/);
      const relay = JSON.parse(rspamadm("configdump", "-j", "external_relay").stdout) as {
        rules: Record<string, { strategy: string }>;
      };
      assert.deepEqual(relay.rules, { BACKUP_MX_DRAIN: { strategy: "local" } });
      const force = JSON.parse(rspamadm("configdump", "-j", "force_actions").stdout) as {
        rules: Record<string, { action: string; expression: string; require_action: string[] }>;
      };
      const rule = force.rules.BACKUP_MX_DRAIN_NO_REJECT;
      assert.equal(rule.action, "add header");
      assert.equal(rule.expression, "BACKUP_MX_DRAIN");
      assert.deepEqual(rule.require_action, ["reject", "soft reject"]);
    });

    it("negative control: the live file's ip_map strategy fails external_relay's schema", () => {
      install({
        "external_relay.conf":
          'enabled = true;\nrules {\n  BACKUP_MX_DRAIN {\n    strategy = "ip_map";\n    ip_map = ["10.3.2.10/32"];\n  }\n}\n',
      });
      const test = rspamadm("configtest");
      assert.match(test.out, /syntax OK/, "UCL is fine: only the module's schema refuses it");
      assert.match(test.out, /config schema error/);
    });
  });

  describe("the docs@ Sieve allowlist", () => {
    const script = () => pod.files[`${DMS}/docs@viktorbarzin.me.dovecot.sieve`];
    let work: string;
    before(function () {
      const r = run("sh", ["-c", "command -v sieve-test"]);
      if (r.status !== 0)
        toolMissing(this, "doveconf", "sieve-test: apt-get install dovecot-sieve");
      work = dir("sieve-");
      // sieve-test reads the files as the uid it drops to.
      fs.chmodSync(work, 0o755);
      fs.writeFileSync(path.join(work, "docs.sieve"), script());
    });

    /** Pigeonhole's own run of the script on a message from `from`: the actions it would take. */
    function actions(from: string): string {
      const mail = path.join(work, "mail.eml");
      fs.writeFileSync(
        mail,
        `From: ${from}\r\nTo: docs@viktorbarzin.me\r\nSubject: scan\r\n\r\nattached\r\n`,
      );
      // As root it must be told whom to run as; the delivery user's uid does not matter here.
      const r = run("sieve-test", [
        "-o",
        "mail_uid=65534",
        "-o",
        "mail_gid=65534",
        path.join(work, "docs.sieve"),
        mail,
      ]);
      assert.equal(r.status, 0, r.out);
      return r.stdout;
    }

    it("is mounted under the login's real file name (the key cannot hold '@')", () => {
      const mount = renderedFiles(planned).find((f) => f.mountPath.endsWith(".dovecot.sieve"));
      assert.equal(mount?.mountPath, `${DMS}/docs@viktorbarzin.me.dovecot.sieve`);
      assert.equal(
        mount?.source,
        "mailserver/mailserver-config:docs-at-viktorbarzin.me.dovecot.sieve",
      );
    });

    it("keeps mail from each sender of the live list, in any letter case", () => {
      for (const sender of [
        "me@viktorbarzin.me",
        "vbarzin@gmail.com",
        "viktorbarzin@meta.com",
        "ancaelena98@gmail.com",
        "emil.barzin@gmail.com",
        "Someone <VBarzin@Gmail.com>",
      ]) {
        const out = actions(sender);
        assert.match(out, /store message in folder: INBOX/, sender);
        assert.doesNotMatch(out, /discard/, sender);
      }
    });

    it("discards mail from anyone else", () => {
      for (const sender of ["spammer@example.com", "vbarzin@gmail.com.example.net"]) {
        const out = actions(sender);
        assert.match(out, /discard/, sender);
        assert.doesNotMatch(out, /store message/, sender);
      }
    });
  });

  describe("the repository's aliases in postfix-virtual.cf", () => {
    let table: string;
    let virtual: string;
    before(function () {
      requireTool(this, "postconf", "postconf", ["-d", "mail_version"]);
      const secret = find(planned, "kubernetes:core/v1:Secret", "mailserver-accounts");
      virtual = at<Record<string, string>>(secret, "stringData")["postfix-virtual.cf"];
      // DMS copies postfix-virtual.cf to /etc/postfix/virtual, read as texthash (main.cf base).
      table = path.join(dir("virtual-"), "virtual");
      fs.writeFileSync(table, virtual);
    });
    const lookup = (key: string) => run("postmap", ["-q", key, `texthash:${table}`]);

    it("carries each line of the live extra/aliases.txt, after Vault's aliases", () => {
      // The owner's file, alias lines as written there (infra extra/aliases.txt @ 0cd4afb6).
      const live = [
        "firmly-gerardo-generated@viktorbarzin.me me@viktorbarzin.me",
        "closely-keith-generated@viktorbarzin.me vbarzin@gmail.com",
        "literally-paolo-generated@viktorbarzin.me viktorbarzin@fb.com",
        "hastily-stefanie-generated@viktorbarzin.me elliestamenova@gmail.com",
        "vaultwarden@viktorbarzin.me me@viktorbarzin.me",
        "plans@viktorbarzin.me spam@viktorbarzin.me",
        "trips@viktorbarzin.me spam@viktorbarzin.me",
        "docs@viktorbarzin.me docs@viktorbarzin.me",
      ];
      const lines = virtual.trim().split("\n");
      // The placeholder Vault aliases (tools/offline/placeholders.ts) come first, then the file's.
      assert.deepEqual(lines, [
        "postmaster@viktorbarzin.me me@viktorbarzin.me",
        "@viktorbarzin.me spam@viktorbarzin.me",
        ...live,
      ]);
      for (const line of live) {
        const [address, target] = line.split(" ");
        assert.equal(lookup(address).stdout.trim(), target, address);
      }
    });

    it("keeps docs@ out of the @domain catch-all", () => {
      // virtual(5): user@domain is looked up before @domain, so the self-alias wins for docs@,
      // while an address without its own line falls to the catch-all.
      assert.equal(lookup("docs@viktorbarzin.me").stdout.trim(), "docs@viktorbarzin.me");
      assert.equal(lookup("@viktorbarzin.me").stdout.trim(), "spam@viktorbarzin.me");
      const stray = lookup("nobody-in-particular@viktorbarzin.me");
      assert.equal(stray.status, 1, "no own line: the catch-all decides");
    });
  });
});
