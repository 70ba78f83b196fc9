import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import {
  acquisitionDatasources,
  containerLogGlob,
  renderAcquisition,
  type CrowdSecAcquisitionArgs,
} from "../../components/crowdsec-acquisition";
import { renderAcquisYaml } from "../../lib/charts/crowdsec";
import { OWNER_VALUES } from "../../tools/world/crowdsec-agent";
import { toolMissing } from "../helpers/tools";
import {
  CrowdSecSandbox,
  HUB,
  REPO_ROOT,
  crowdsecMissing,
  type ReplayResult,
} from "./crowdsec-sandbox";

const ARGS: CrowdSecAcquisitionArgs = {
  namespace: "crowdsec",
  mailNamespace: "mailserver",
  podPrefix: "mailserver",
  containerName: "docker-mailserver",
  containerRuntime: "containerd",
  collections: ["crowdsecurity/postfix", "crowdsecurity/dovecot"],
  agent: {
    daemonSet: "crowdsec-agent",
    container: "crowdsec-agent",
    acquisitionConfigMaps: ["acquis-configmap"],
  },
};

const SMTP_ATTACKER = "203.0.113.45";
const IMAP_ATTACKER = "198.51.100.23";
const BENIGN = "192.0.2.10";
const SIDECAR_ONLY = "192.0.2.99";
const SLOW_GUESSER = "198.51.100.77";

// Log files named as the kubelet names them: <pod>_<namespace>_<container>-<container id>.log
const POD = "mailserver-7d9f8c6b5-x2k4p";
const CONTAINER_ID = "3f1c0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
const LOG_FILES: Record<string, string> = {
  mail: `${POD}_mailserver_docker-mailserver-${CONTAINER_ID}.log`,
  exporter: `${POD}_mailserver_dovecot-exporter-${CONTAINER_ID}.log`,
};

/** Writes the fixture as CRI log files stamped from `start`; returns their directory. */
function writeContainerLogs(dir: string, start: Date): string {
  const fixture = path.join(REPO_ROOT, "tests/fixtures/crowdsec/dms15-mail.txt");
  const out = path.join(dir, "containers");
  fs.mkdirSync(out, { recursive: true });
  const lines: Record<string, string[]> = { mail: [], exporter: [] };
  for (const raw of fs.readFileSync(fixture, "utf8").split("\n")) {
    if (raw.trim() === "" || raw.startsWith("#")) continue;
    const m = /^(\S+) (\d+) (.*)$/.exec(raw);
    if (!m || !lines[m[1]]) throw new Error(`bad fixture line: ${raw}`);
    const at = new Date(start.getTime() + Number(m[2]) * 1000).toISOString();
    const cri = at.replace(/\.(\d{3})Z$/, ".$1000000Z");
    const syslog = at.replace(/\.(\d{3})Z$/, ".$1000+00:00");
    lines[m[1]].push(`${cri} stdout F ${syslog} ${m[3]}`);
  }
  for (const [container, file] of Object.entries(LOG_FILES)) {
    fs.writeFileSync(path.join(out, file), lines[container].join("\n") + "\n");
  }
  return out;
}

/** The one field Debian's CrowdSec 1.4.6 does not know (see forReplay). */
const POLL = "poll_without_inotify";

/**
 * The rendered acquisition, adapted for a replay: the node's /var/log/containers becomes the
 * fixture directory (the glob itself is kept, so CrowdSec expands it), every datasource reads its
 * files once (`mode: cat`) instead of tailing them, and `poll_without_inotify` is dropped: 1.4.6
 * parses datasources strictly and predates the field (crowdsecurity/crowdsec 2701454f, v1.5.0),
 * while it always polls (v1.4.6 pkg/acquisition/modules/file/file.go `Poll: true`), which is what
 * the field asks of the v1.7.8 agent. A test below shows 1.4.6 refusing the field.
 */
function forReplay(acquisition: string, containersDir: string, keepPoll = false): string {
  return parseAllDocuments(acquisition)
    .map((doc) => {
      const { [POLL]: poll, ...ds } = doc.toJS() as { filenames: string[] } & Record<
        string,
        unknown
      >;
      const filenames = ds.filenames.map((f) => f.replace("/var/log/containers", containersDir));
      return stringify({ ...ds, ...(keepPoll ? { [POLL]: poll } : {}), filenames, mode: "cat" });
    })
    .join("---\n");
}

/** The mistake this component exists to avoid: one `program: postfix` label for all postfix. */
function postfixLabelVariant(args: CrowdSecAcquisitionArgs): string {
  const dovecot = acquisitionDatasources(args).filter(
    (ds) => (ds.labels as { program: string }).program === "dovecot",
  );
  const postfix = {
    source: "file",
    filenames: [containerLogGlob(args)],
    labels: { type: args.containerRuntime, program: "postfix" },
  };
  return [postfix, ...dovecot].map((ds) => stringify(ds)).join("---\n");
}

interface Datasource {
  source: string;
  filenames: string[];
  labels: { type: string; program: string };
}
const datasources = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS() as Datasource);

const byIp = (r: ReplayResult) =>
  Object.fromEntries(r.decisions.map((d) => [d.value, d.scenario])) as Record<string, string>;

describe("CrowdSec acquisition (rendered)", () => {
  const docs = datasources(renderAcquisition(ARGS));

  it("declares the mail container's log once per parser family", () => {
    assert.deepEqual(
      docs.map((d) => d.labels.program),
      ["postfix/submission/smtpd", "postfix/postscreen", "dovecot"],
    );
    for (const d of docs) {
      assert.equal(d.source, "file");
      assert.deepEqual(d.filenames, [
        "/var/log/containers/mailserver-*_mailserver_docker-mailserver-*.log",
      ]);
      assert.equal(d.labels.type, "containerd");
    }
  });

  it("never uses a bare `postfix` program, which no hub parser matches", () => {
    assert.ok(docs.every((d) => d.labels.program !== "postfix"));
  });

  it("follows the node's runtime in labels.type", () => {
    const docker = datasources(renderAcquisition({ ...ARGS, containerRuntime: "docker" }));
    assert.ok(docker.every((d) => d.labels.type === "docker"));
  });

  it("polls every datasource instead of trusting inotify on the pods' symlinked logs", () => {
    const raw = parseAllDocuments(renderAcquisition(ARGS)).map(
      (d) => d.toJS() as Record<string, unknown>,
    );
    for (const d of raw) {
      assert.equal(d[POLL], true);
      assert.equal(d.force_inotify, true);
    }
  });
});

describe("CrowdSec acquisition replayed by the real CrowdSec (Debian 1.4.6, offline)", function () {
  this.timeout(120_000);
  let work: string;
  let containers: string;
  const sandboxes: CrowdSecSandbox[] = [];

  before(function () {
    const unavailable = crowdsecMissing();
    if (unavailable) toolMissing(this, "crowdsec", unavailable);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "crowdsec-mail-"));
    // Near now: bans last 4h from the log's own timestamps.
    containers = writeContainerLogs(work, new Date(Date.now() - 10 * 60_000));
  });

  after(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function replay(
    name: string,
    acquisition: string,
    keepPoll = false,
  ): Promise<ReplayResult> {
    const sandbox = new CrowdSecSandbox(path.join(work, name), ARGS.collections, "containerd");
    sandboxes.push(sandbox);
    await sandbox.start();
    try {
      return sandbox.replay(forReplay(acquisition, containers, keepPoll));
    } finally {
      await sandbox.stop();
    }
  }

  it("drops only poll_without_inotify for 1.4.6, which refuses it (it predates the field)", async () => {
    const rendered = renderAcquisition(ARGS);
    // Apart from the replay's own changes (files, mode), the replay runs what the program renders.
    const strip = (yaml: string) =>
      parseAllDocuments(yaml).map((d) => {
        const ds = d.toJS() as Record<string, unknown>;
        for (const key of [POLL, "mode", "filenames"]) delete ds[key];
        return ds;
      });
    assert.deepEqual(strip(forReplay(rendered, containers)), strip(rendered));
    await assert.rejects(
      replay("with-poll-field", rendered, true),
      /field poll_without_inotify not found/,
    );
  });

  it("the fixture's addresses are not whitelisted by the hub (the benign one must pass for real)", () => {
    const wl = parse(
      fs.readFileSync(path.join(HUB, "parsers/s02-enrich/crowdsecurity/whitelists.yaml"), "utf8"),
    ) as { whitelist: { ip: string[]; cidr: string[] } };
    const list = new net.BlockList();
    for (const ip of wl.whitelist.ip) list.addAddress(ip, net.isIPv6(ip) ? "ipv6" : "ipv4");
    for (const c of wl.whitelist.cidr) {
      const [addr, bits] = c.split("/");
      list.addSubnet(addr, Number(bits), net.isIPv6(addr) ? "ipv6" : "ipv4");
    }
    for (const ip of [SMTP_ATTACKER, IMAP_ATTACKER, BENIGN, SIDECAR_ONLY, SLOW_GUESSER]) {
      assert.equal(list.check(ip), false, `${ip} is whitelisted`);
    }
  });

  it("bans exactly the SMTP AUTH and the IMAP brute-forcers", async () => {
    const result = await replay("rendered", renderAcquisition(ARGS));
    assert.deepEqual(
      byIp(result),
      {
        [SMTP_ATTACKER]: "crowdsecurity/postfix-spam",
        [IMAP_ATTACKER]: "crowdsecurity/dovecot-spam",
      },
      `active decisions differ; replay log:\n${result.log}`,
    );
    for (const d of result.decisions) assert.equal(d.type, "ban");
    assert.deepEqual(result.alerts.map((a) => a.scenario).sort(), [
      "crowdsecurity/dovecot-spam",
      "crowdsecurity/postfix-spam",
    ]);
  });

  it("with one `program: postfix` label, the SMTP AUTH brute force goes unnoticed", async () => {
    const result = await replay("program-postfix", postfixLabelVariant(ARGS));
    assert.deepEqual(
      byIp(result),
      { [IMAP_ATTACKER]: "crowdsecurity/dovecot-spam" },
      `active decisions differ; replay log:\n${result.log}`,
    );
    assert.ok(!result.alerts.some((a) => a.scenario === "crowdsecurity/postfix-spam"));
  });

  it("next to the chart's mail entries (the CrowdSec stack today), two IMAP failures ban", async () => {
    // The owner's chart acquisition as the chart renders it: traefik, then the mailserver pod's
    // `program: postfix` and `program: dovecot`; only the mail ones matter here.
    const chart = parseAllDocuments(renderAcquisYaml(OWNER_VALUES))
      .map((d) => d.toJS() as { labels: { program: string } })
      .filter((d) => d.labels.program !== "traefik")
      .map((d) => stringify(d));
    const result = await replay("double", [renderAcquisition(ARGS), ...chart].join("---\n"));
    assert.equal(
      byIp(result)[SLOW_GUESSER],
      "crowdsecurity/dovecot-spam",
      `the doubled dovecot lines should ban ${SLOW_GUESSER}; replay log:\n${result.log}`,
    );
    assert.equal(byIp(result)[BENIGN], undefined, "one failure counted twice stays under 4");
  });
});
