import { strict as assert } from "node:assert";
import { ConfigError, parseConfig, runsPerDay } from "../../lib/config";
import type { CapturedResource } from "../../tools/offline/mock-program";
import { problemsOf, prodRaw, set } from "../helpers/config";
import { loadStackConfig, runProgram } from "../helpers/program";

describe("stack configuration", () => {
  it("accepts Pulumi.prod.yaml as it is", () => {
    const config = parseConfig(prodRaw());
    assert.equal(config.domain, "viktorbarzin.me");
    assert.equal(config.mailserver.loadBalancerIp, "10.0.20.202");
    assert.equal(config.monitoring.probe.schedule, "*/20 * * * *");
  });

  const cases: [string, string, unknown, string][] = [
    [
      "an IP out of range",
      "mailserver.loadBalancerIp",
      "10.0.20.300",
      'mailserver:mailserver.loadBalancerIp = "10.0.20.300": expected an IPv4 address',
    ],
    [
      "a bad IPv6 address",
      "dns.publicIpv6",
      "2001:470:6e:43d::zz",
      'mailserver:dns.publicIpv6 = "2001:470:6e:43d::zz": expected an IPv6 address',
    ],
    [
      "a bad CIDR",
      "mailserver.trustedNetworks",
      ["10.0.20.0/33"],
      'mailserver:mailserver.trustedNetworks.0 = "10.0.20.0/33": expected an IPv4 CIDR',
    ],
    [
      "a node port outside Kubernetes' NodePort range",
      "mailserver.proxy.nodePorts.smtp",
      25,
      "mailserver:mailserver.proxy.nodePorts.smtp = 25: expected a node port in Kubernetes' default range 30000-32767",
    ],
    [
      "a node port used twice",
      "mailserver.proxy.nodePorts.imaps",
      30125,
      "mailserver:mailserver.proxy.nodePorts.imaps = 30125: expected a node port not used by another key: 30125 is also nodePorts.smtp",
    ],
    [
      "no network trusted to send PROXY headers",
      "mailserver.proxy.trustedNetworks",
      [],
      "mailserver:mailserver.proxy.trustedNetworks = []: expected at least one CIDR allowed to send PROXY headers",
    ],
    [
      "a backup MX drain source that is not a CIDR",
      "mailserver.backupMx.drainSource",
      "10.3.2.10",
      'mailserver:mailserver.backupMx.drainSource = "10.3.2.10": expected an IPv4 CIDR',
    ],
    [
      "an extra alias without a target",
      "mailserver.extraAliases.0.targets",
      [],
      "mailserver:mailserver.extraAliases.0.targets = []: expected at least one target address",
    ],
    [
      "an extra alias listed twice",
      "mailserver.extraAliases.1.address",
      "firmly-gerardo-generated@viktorbarzin.me",
      'mailserver:mailserver.extraAliases.1.address = "firmly-gerardo-generated@viktorbarzin.me": expected an address not listed by another alias',
    ],
    [
      "an allowlist mailbox that cannot name a file",
      "mailserver.senderAllowlists.0.mailbox",
      "docs+x@viktorbarzin.me",
      'mailserver:mailserver.senderAllowlists.0.mailbox = "docs+x@viktorbarzin.me": expected a mailbox whose local part',
    ],
    [
      "a hostname without a dot",
      "mailserver.hostname",
      "mail",
      'mailserver:mailserver.hostname = "mail": expected a fully qualified hostname',
    ],
    [
      "an invalid cron schedule",
      "monitoring.probe.schedule",
      "*/20 * * *",
      'mailserver:monitoring.probe.schedule = "*/20 * * *": expected a five-field cron schedule',
    ],
    [
      "a probe over the Mailgun quota",
      "monitoring.probe.schedule",
      "*/10 * * * *",
      'mailserver:monitoring.probe.schedule = "*/10 * * * *": expected at most 80 runs a day (80% of the 100/day Mailgun quota); this schedule runs 144 times a day',
    ],
    [
      "a Prometheus setup that is neither chart nor operator",
      "monitoring.prometheus.setup",
      "kube-prometheus",
      'mailserver:monitoring.prometheus.setup = "kube-prometheus": expected setup "chart" (the prometheus-community chart) or "operator"',
    ],
    [
      "a relative rules mount path",
      "monitoring.prometheus.rulesMountPath",
      "etc/rules",
      'mailserver:monitoring.prometheus.rulesMountPath = "etc/rules": expected an absolute directory path',
    ],
    [
      "a storage size that is not a quantity",
      "mailserver.storage.size",
      "2GB",
      'mailserver:mailserver.storage.size = "2GB": expected a Kubernetes quantity such as 2Gi',
    ],
    [
      "a max size below the size",
      "mailserver.storage.maxSize",
      "1Gi",
      'mailserver:mailserver.storage.maxSize = "1Gi": expected at least the initial size 5Gi',
    ],
    [
      "an unpinned image",
      "mailserver.image",
      "docker.io/mailserver/docker-mailserver:latest",
      'mailserver:mailserver.image = "docker.io/mailserver/docker-mailserver:latest": expected an image pinned to a version tag or digest',
    ],
    [
      "a mail server image pinned by digest alone (its release, so its env table, unknown)",
      "mailserver.image",
      `docker.io/mailserver/docker-mailserver@sha256:${"ab".repeat(32)}`,
      `mailserver:mailserver.image = "docker.io/mailserver/docker-mailserver@sha256:${"ab".repeat(32)}": expected a version tag`,
    ],
    [
      "an image without a tag",
      "webmail.image",
      "roundcube/roundcubemail",
      'mailserver:webmail.image = "roundcube/roundcubemail": expected an image pinned',
    ],
    [
      "a malformed image reference",
      "monitoring.probe.image",
      "Python 3",
      'mailserver:monitoring.probe.image = "Python 3": expected an image reference',
    ],
    [
      "a bad email address",
      "dns.tlsRptRua",
      "postmaster",
      'mailserver:dns.tlsRptRua = "postmaster": expected an email address',
    ],
    [
      "DMARC p=none",
      "dns.dmarc.policy",
      "none",
      'mailserver:dns.dmarc.policy = "none": expected quarantine or reject',
    ],
    ["SPF +all", "dns.spf.all", "+all", 'mailserver:dns.spf.all = "+all": expected ~all or -all'],
    [
      "SPF without Brevo",
      "dns.spf.includes",
      ["mailgun.org"],
      'mailserver:dns.spf.includes = ["mailgun.org"]: expected spf.brevo.com among the includes',
    ],
    [
      "a DMARC rua outside the domain and not listed as authorised",
      "dns.dmarc.rua",
      ["dmarc@viktorbarzin.me", "e21c0ff8@dmarc.mailgun.org"],
      'mailserver:dns.dmarc.rua.1 = "e21c0ff8@dmarc.mailgun.org": expected an address @viktorbarzin.me or a domain listed in dns.dmarc.externalDestinations',
    ],
    [
      "an outside DMARC destination whose authorisation is removed",
      "dns.dmarc.externalDestinations",
      [],
      'mailserver:dns.dmarc.rua.1 = "adb84997@inbox.ondmarc.com": expected an address @viktorbarzin.me or a domain listed',
    ],
    [
      "a DMARC fo outside RFC 7489",
      "dns.dmarc.fo",
      "2",
      'mailserver:dns.dmarc.fo = "2": expected 0, 1, d or s, colon-separated',
    ],
    [
      "a backup MX that is not a host name",
      "dns.otherMxHosts",
      [{ hostname: "mx2", owner: "stacks/cloudflared" }],
      'mailserver:dns.otherMxHosts.0.hostname = "mx2": expected a fully qualified hostname',
    ],
    [
      "a missing key",
      "webmail.database",
      undefined,
      "mailserver:webmail.database = (missing): required object is missing",
    ],
    [
      "an unknown key",
      "mailserver.enableFail2ban",
      true,
      "mailserver:mailserver.enableFail2ban = true: unknown key",
    ],
    [
      "a namespace that is not a Kubernetes name",
      "namespace",
      "Mail_Server",
      'mailserver:namespace = "Mail_Server": expected a Kubernetes name',
    ],
    [
      "a port out of range",
      "mailserver.relay.port",
      70000,
      "mailserver:mailserver.relay.port = 70000:",
    ],
  ];

  for (const [what, key, value, message] of cases) {
    it(`refuses ${what} with key, value and expectation`, () => {
      const problems = problemsOf(set(prodRaw(), key, value));
      assert.ok(
        problems.some((p) => p.startsWith(message)),
        `no problem starts with ${message}:\n${problems.join("\n")}`,
      );
    });
  }

  it("lists every problem at once", () => {
    const raw = prodRaw();
    set(raw, "mailserver.loadBalancerIp", "10.0.20");
    set(raw, "dns.dmarc.policy", "none");
    set(raw, "monitoring.probe.schedule", "* * * * *");
    const err = (() => {
      try {
        parseConfig(raw);
      } catch (e) {
        return e as ConfigError;
      }
      return assert.fail("expected a ConfigError");
    })();
    assert.equal(err.problems.length, 3, err.message);
    assert.match(err.message, /^Invalid stack configuration \(3 problems\):\n {2}- mailserver:/);
  });

  it("counts the probe's runs per day from the schedule", () => {
    assert.equal(runsPerDay("*/20 * * * *"), 72);
    assert.equal(runsPerDay("*/10 * * * *"), 144);
    assert.equal(runsPerDay("0 */2 * * 1-5"), 12);
  });

  it("fails the program before any resource is registered", async () => {
    const config = loadStackConfig("prod");
    config["mailserver:mailserver"] = config["mailserver:mailserver"].replace(
      "10.0.20.202",
      "10.0.20.999",
    );
    const record: CapturedResource[] = [];
    await assert.rejects(runProgram({ config, record }), /mailserver:mailserver\.loadBalancerIp/);
    assert.deepEqual(
      record.filter((r) => r.type !== "pulumi:pulumi:Stack"),
      [],
      "only the stack itself may exist when the config is refused",
    );
  });
});
