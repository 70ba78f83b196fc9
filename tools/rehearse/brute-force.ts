/**
 * Scenario "4 CrowdSec brute force": a bounded password-guessing client (at most 10 wrong
 * guesses, from one RFC 5737 address added to the host side of the pod's veth) against the real
 * Postfix's SMTP AUTH on 587 after STARTTLS and the real Dovecot's IMAP LOGIN on 993, and one
 * benign client from another RFC 5737 address that logs in correctly to both. Both names resolve
 * forward and back for the pod (its /etc/hosts and the rehearsal's DNS), as OUTSIDE_NAME does.
 *
 * Then the real CrowdSec (Debian bookworm's 1.4.6, ./crowdsec-replay.ts) replays the pod's
 * container log with the program's own acquisition (the rendered ConfigMap
 * crowdsec-mail-acquisition, key acquis-mail.yaml): the log lines the scenario caused, in the CRI
 * format the kubelet writes, in a file named as the kubelet names the mail container's log, and
 * the acquisition's globs with only their directory moved there, so CrowdSec itself expands the
 * glob. It passes when the attacker is banned, the benign address has neither alert nor decision,
 * and Dovecot's dovecot_auth_failures_total rose by exactly the number of wrong guesses.
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import type { ProgramRun } from "../offline/mock-program";
import { poll } from "./mail-in";
import { deploymentPod } from "./mounts";
import { POD_ADDRESS, type MailPod } from "./pod";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";
import {
  CROWDSEC_INSTALL,
  HUB,
  crowdsecMissing,
  hubScenarioPath,
  startCrowdSec,
  type Alert,
  type CrowdSec,
  type Decision,
  type ReplayOutcome,
} from "./crowdsec-replay";
import { guess, type Client, type Session } from "./guess";

const NAME = "4 CrowdSec brute force";
const DIR = "crowdsec";
const MAIL_LOG = "/var/log/mail/mail.log";
const DOVECOT_CF = "/tmp/docker-mailserver/dovecot.cf";
const ACQUISITION_CONFIGMAP = "crowdsec-mail-acquisition";
const ACQUISITION_KEY = "acquis-mail.yaml";
const COLLECTIONS_KEY = "collections";
/** Where the kubelet links container logs; the rendered globs must start with it. */
const NODE_LOG_DIR = "/var/log/containers/";
/** CrowdSec 1.4.6 refuses this field (see forReplay). */
const POLL = "poll_without_inotify";
/** The mail Deployment, as pod.ts reads it. */
const NAMESPACE = "mailserver";
const DEPLOYMENT = "mailserver";
const FAILURES = "dovecot_auth_failures_total";
const SUCCESSES = "dovecot_auth_success_total";
/** The bound on the guessing client, whatever the options say. */
const MAX_GUESSES = 10;

/** TEST-NET-3 and TEST-NET-2 (RFC 5737): outside every range crowdsecurity/whitelists lists. */
export const ATTACKER: Client = { address: "203.0.113.66", name: "guesser.example.net" };
export const BENIGN: Client = { address: "198.51.100.77", name: "reader.example.net" };

export interface BruteForceOptions {
  /** Wrong SMTP AUTH guesses (default 6: one over crowdsecurity/postfix-spam's capacity 5). */
  smtpGuesses?: number;
  /** Wrong IMAP LOGIN guesses (default 4: one over crowdsecurity/dovecot-spam's capacity 3). */
  imapGuesses?: number;
  attacker?: Client;
  benign?: Client;
}

/** Scenario 4 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function bruteForce(
  pod: MailPod,
  passwords: Record<string, string>,
  opts: BruteForceOptions = {},
): Scenario {
  return async (ctx: RehearsalContext): Promise<ScenarioResult> => {
    const smtpGuesses = opts.smtpGuesses ?? 6;
    const imapGuesses = opts.imapGuesses ?? 4;
    const attacker = opts.attacker ?? ATTACKER;
    const benign = opts.benign ?? BENIGN;
    if (smtpGuesses + imapGuesses > MAX_GUESSES || smtpGuesses < 0 || imapGuesses < 0) {
      throw new Error(`at most ${MAX_GUESSES} guesses in all`);
    }
    const missing = crowdsecMissing();
    if (missing) {
      return {
        name: NAME,
        verdict: "not rehearsed",
        evidence: [`CrowdSec unavailable (${missing}): install it with ${CROWDSEC_INSTALL}`],
        files: [],
      };
    }
    const out = path.join(ctx.out, DIR);
    fs.mkdirSync(out, { recursive: true });
    const evidence: string[] = [];
    const files: string[] = [];
    const save = (name: string, text: string) => {
      fs.writeFileSync(path.join(out, name), text);
      files.push(path.posix.join(DIR, name));
    };
    const acq = plannedAcquisition(ctx.run);
    evidence.push(acq.line);
    const mailbox =
      Object.keys(passwords).find((a) => a.startsWith("me@")) ?? Object.keys(passwords)[0];
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-crowdsec-"));
    const undo = addClients(pod, [attacker, benign]);
    let crowdsec: CrowdSec | undefined;
    try {
      const port = statsPort(pod);
      const before = await metrics(port);
      const start = { mail: size(pod.hostPath(MAIL_LOG)), cri: size(pod.criLog) };
      // The Local API starts while the clients guess; whichever fails, the other is waited for
      // (so that `finally` stops a Local API that did start).
      const [cs, guessed] = await Promise.allSettled([
        startCrowdSec(path.join(work, "crowdsec"), acq.collections, acq.runtime, ctx.signal).then(
          (c) => (crowdsec = c),
        ),
        guess(pod, { attacker, benign, mailbox, passwords, smtpGuesses, imapGuesses }, ctx.signal),
      ]);
      if (cs.status === "rejected") throw cs.reason;
      if (guessed.status === "rejected") throw guessed.reason;
      const sessions = guessed.value;
      evidence.push(...sessionLines(sessions, attacker, benign));
      const mailLog = await settledLog(pod, start, attacker, smtpGuesses, imapGuesses, ctx.signal);
      save("mail.log", mailLog.mail);
      const named = (c: Client) =>
        `${c.name}[${c.address}] ${mailLog.mail.includes(`connect from ${c.name}[${c.address}]`) ? "yes" : "no"}`;
      evidence.push(
        `Postfix named its clients (forward and reverse agree): ${(smtpGuesses ? [attacker, benign] : [benign]).map(named).join(", ")}`,
      );
      const expected = smtpGuesses + imapGuesses;
      const after = await metricsUntil(port, before, expected, ctx.signal);
      save(
        "dovecot-metrics.txt",
        `# before\n${metricLines(before.text)}\n# after\n${metricLines(after.text)}\n`,
      );
      const delta = after.failures - before.failures;
      evidence.push(
        `Dovecot ${FAILURES}: ${before.failures} before, ${after.failures} after (+${delta}); expected +${expected} = ${imapGuesses} IMAP + ${smtpGuesses} SMTP guesses: Postfix's SASL asks the same Dovecot auth service and the rendered metric's filter (event=auth_request_finished AND NOT success=yes) names no service; ${SUCCESSES} +${after.successes - before.successes} (the benign logins)`,
      );
      const replayed = replayFiles(work, ctx.run, mailLog.cri);
      save("replayed.cri.log", mailLog.cri);
      const acquisition = forReplay(acq.text, path.join(work, "containers") + "/");
      save("acquis.yaml", acquisition);
      evidence.push(
        `replayed ${replayed.lines} CRI lines from ${replayed.link.replace(work, "<tmp>")} (named as the kubelet names the mail container's log; the rendered glob ${acq.globs.join(", ")} with only ${NODE_LOG_DIR} moved)`,
      );
      const outcome = await cs.value.replay(acquisition);
      save("crowdsec.log", outcome.log);
      save("alerts.json", JSON.stringify(outcome.alerts, null, 2));
      save("decisions.json", JSON.stringify(outcome.decisions, null, 2));
      const caught = judge(outcome, replayed.link, attacker, benign, evidence);
      const listed = whitelisted([attacker, benign]);
      evidence.push(
        `crowdsecurity/whitelists (the hub's private ranges) lists ${listed.join(", ") || "neither address"}`,
      );
      const asPlanned = sessions.every((s) => s.accepted === (s.client === benign));
      const ok = caught.ok && listed.length === 0 && delta === expected && asPlanned;
      evidence.unshift(
        `${attacker.address} after ${expected} wrong guesses: ${caught.scenarios.length ? `banned by ${caught.scenarios.join(", ")}` : "not banned"}; benign ${benign.address}: ${caught.benignClean ? "no alert, no decision" : "alerted or banned"}; ${FAILURES} +${delta} (expected +${expected})`,
      );
      return { name: NAME, verdict: ok ? "pass" : "fail", evidence, files };
    } catch (err) {
      evidence.push(`error: ${(err as Error).message.split("\n")[0]}`);
      return { name: NAME, verdict: "fail", evidence, files };
    } finally {
      await crowdsec?.stop();
      undo();
      fs.rmSync(work, { recursive: true, force: true });
    }
  };
}

/** Evidence lines and the ban check of one replay; `ok` when only the attacker is caught. */
function judge(
  r: ReplayOutcome,
  link: string,
  attacker: Client,
  benign: Client,
  evidence: string[],
) {
  evidence.push(`CrowdSec ${r.version} (Debian bookworm's package), its hub snapshot ${HUB}`);
  const added = r.log.split("\n").some((l) => l.includes(`Adding file ${link} to datasources`));
  evidence.push(`CrowdSec expanded the glob to that file: ${added ? "yes" : "no"}`);
  const of = (ip: string) => ({
    alerts: r.alerts.filter((a) => a.source?.ip === ip || a.source?.value === ip),
    decisions: r.decisions.filter((d) => d.value === ip),
  });
  for (const line of r.log.split("\n").filter((l) => l.includes("performed '"))) {
    evidence.push(`CrowdSec alert: ${/msg="([^"]*)"/.exec(line)?.[1] ?? line}`);
  }
  const bad = of(attacker.address);
  for (const name of [...new Set(bad.alerts.map((a) => a.scenario))]) {
    evidence.push(`scenario fired: ${name} (${scenarioSource(name)})`);
  }
  const bans = bad.decisions.filter((d) => d.type === "ban");
  const decision = (d: Decision) => `${d.type} ${d.duration.replace(/\.\d+s$/, "s")}`;
  const alert = (a: Alert) =>
    `${a.scenario} (${a.events_count ?? "?"} events: ${(a.decisions ?? []).map(decision).join(", ") || "no decision"})`;
  evidence.push(
    `attacker ${attacker.address}: ${bad.alerts.length} alert(s)${bad.alerts.length ? ` ${bad.alerts.map(alert).join(", ")}` : ""}; active decisions: ${bad.decisions.map((d) => `${decision(d)} (${d.scenario})`).join(", ") || "none"}`,
  );
  const good = of(benign.address);
  evidence.push(
    `benign ${benign.address}: ${good.alerts.length} alert(s), ${good.decisions.length} decision(s)`,
  );
  const benignClean = good.alerts.length === 0 && good.decisions.length === 0;
  return {
    ok: added && bans.length > 0 && benignClean,
    scenarios: [
      ...new Set(
        bad.alerts
          .filter((a) => (a.decisions ?? []).some((d) => d.type === "ban"))
          .map((a) => a.scenario),
      ),
    ].sort(),
    benignClean,
  };
}

/** The clients the hub's crowdsecurity/whitelists parser would drop (it must be none). */
function whitelisted(clients: Client[]): string[] {
  const file = path.join(HUB, "parsers/s02-enrich/crowdsecurity/whitelists.yaml");
  const wl = (parseAllDocuments(fs.readFileSync(file, "utf8"))[0]?.toJS() ?? {}) as {
    whitelist?: { ip?: string[]; cidr?: string[] };
  };
  const list = new net.BlockList();
  const family = (a: string) => (net.isIPv6(a) ? "ipv6" : "ipv4");
  for (const ip of wl.whitelist?.ip ?? []) list.addAddress(ip, family(ip));
  for (const c of wl.whitelist?.cidr ?? []) {
    const [addr, bits] = c.split("/");
    list.addSubnet(addr, Number(bits), family(addr));
  }
  return clients.map((c) => c.address).filter((a) => list.check(a, family(a)));
}

/** A hub scenario's file and bucket, e.g. `scenarios/crowdsecurity/x.yaml: capacity 3, leakspeed 360s`. */
function scenarioSource(name: string): string {
  const file = hubScenarioPath(name);
  if (!file) return "not in the hub snapshot";
  const doc = parseAllDocuments(fs.readFileSync(path.join(HUB, file), "utf8"))
    .map((d) => d.toJS() as { name?: string; capacity?: number; leakspeed?: string })
    .find((d) => d.name === name);
  return `hub ${file}: capacity ${doc?.capacity ?? "?"}, leakspeed ${doc?.leakspeed ?? "?"}`;
}

function sessionLines(sessions: Session[], attacker: Client, benign: Client): string[] {
  return [attacker, benign].map((c) => {
    const mine = sessions.filter((s) => s.client === c);
    const part = (proto: string) => {
      const s = mine.filter((x) => x.proto === proto);
      const replies = [...new Set(s.map((x) => x.reply))].join(" / ");
      return `${s.length} ${proto} (${s.filter((x) => !x.accepted).length} refused: ${replies || "-"})`;
    };
    const what = c === attacker ? "wrong guesses" : "logins with the right password";
    return `${c === attacker ? "attacker" : "benign"} ${c.address} (${c.name}), ${what}: ${part("SMTP AUTH PLAIN on 587 after STARTTLS")}, ${part("IMAP LOGIN on 993")}`;
  });
}

// ------------------------------------------------------------------------------ the program

/** The rendered acquisition: its text, globs, runtime label and the collections it asks for. */
function plannedAcquisition(run: ProgramRun) {
  const cm = run.resources.find(
    (r) =>
      r.type === "kubernetes:core/v1:ConfigMap" &&
      (r.inputs.metadata as { name?: string } | undefined)?.name === ACQUISITION_CONFIGMAP,
  );
  const data = (cm?.inputs.data ?? {}) as Record<string, string>;
  const text = data[ACQUISITION_KEY];
  if (!cm || !text) throw new Error(`the plan has no ConfigMap ${ACQUISITION_CONFIGMAP}`);
  const ns = (cm.inputs.metadata as { namespace?: string }).namespace ?? "default";
  const docs = datasources(text);
  const globs = [...new Set(docs.flatMap((d) => d.filenames ?? []))];
  const runtime = docs[0]?.labels?.type ?? "containerd";
  const polls = docs.some((d) => d[POLL] !== undefined);
  return {
    text,
    globs,
    runtime,
    collections: (data[COLLECTIONS_KEY] ?? "").split(/\s+/).filter(Boolean),
    line:
      `acquisition: ConfigMap ${ns}/${ACQUISITION_CONFIGMAP} key ${ACQUISITION_KEY}, ${docs.length} datasources (programs ${docs.map((d) => d.labels?.program).join(", ")}; type ${runtime}), collections ${data[COLLECTIONS_KEY] ?? "-"}` +
      (polls
        ? `; it sets ${POLL}, which 1.4.6 refuses (yaml.UnmarshalStrict, crowdsec v1.4.6 pkg/acquisition/modules/file/file.go:58; the field came in v1.5.0), so the replay drops it: 1.4.6 always polls (tail.Config{Poll: true}, file.go:292)`
        : ""),
  };
}

interface Datasource extends Record<string, unknown> {
  filenames?: string[];
  labels?: { type?: string; program?: string };
}

/** The YAML documents that are datasources: CrowdSec skips an empty one (v1.4.6 pkg/acquisition/acquisition.go:198). */
function datasources(text: string): Datasource[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Datasource | null)
    .filter((d): d is Datasource => d !== null && typeof d === "object");
}

/**
 * The rendered acquisition for one replay: each glob's directory (the node's
 * /var/log/containers/) replaced by `dir`, its file pattern kept; `mode: cat` (read once, not
 * tailed); `poll_without_inotify` dropped (CrowdSec 1.4.6 parses file datasources strictly and
 * predates the field). Nothing else changes.
 */
export function forReplay(acquisition: string, dir: string): string {
  return datasources(acquisition)
    .map(({ [POLL]: _poll, ...ds }) => {
      const filenames = (ds.filenames ?? []).map((f) => {
        if (!f.startsWith(NODE_LOG_DIR)) throw new Error(`glob ${f} is not under ${NODE_LOG_DIR}`);
        return dir + f.slice(NODE_LOG_DIR.length);
      });
      return stringify({ ...ds, filenames, mode: "cat" });
    })
    .join("---\n");
}

/**
 * The kubelet's layout under `work`: the container's log at pods/<ns>_<pod>_<uid>/<container>/0.log
 * and the link containers/<pod>_<ns>_<container>-<container id>.log to it.
 */
function replayFiles(work: string, run: ProgramRun, cri: string) {
  const container = deploymentPod(run, NAMESPACE, DEPLOYMENT).container.name;
  const alnum = (n: number) =>
    Array.from(randomBytes(n), (b) => "bcdfghjklmnpqrstvwxz2456789"[b % 27]).join("");
  const podName = `${DEPLOYMENT}-${alnum(10)}-${alnum(5)}`;
  const uid = [8, 4, 4, 4, 12].map((n) => randomBytes(n / 2).toString("hex")).join("-");
  const log = path.join(work, "pods", `${NAMESPACE}_${podName}_${uid}`, container, "0.log");
  fs.mkdirSync(path.dirname(log), { recursive: true });
  fs.writeFileSync(log, cri);
  const id = randomBytes(32).toString("hex");
  const link = path.join(work, "containers", `${podName}_${NAMESPACE}_${container}-${id}.log`);
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(log, link);
  return { link, lines: cri.split("\n").filter(Boolean).length };
}

// ---------------------------------------------------------------------------------- the pod

/** The host end of the pod's veth (pod.ts names it `rh<tag>h`, the tag ending the netns name). */
function hostLink(pod: MailPod): string {
  return `rh${pod.netns.split("-").pop()}h`;
}

/**
 * Puts the clients' addresses on the host end of the veth and their names into the pod's
 * /etc/hosts (both ways, as pod.ts does for OUTSIDE_NAME) and the rehearsal's DNS; the returned
 * function undoes all three.
 */
function addClients(pod: MailPod, clients: Client[]): () => void {
  const link = hostLink(pod);
  const hostsFile = pod.hostPath("/etc/hosts");
  const hosts = fs.readFileSync(hostsFile, "utf8");
  const added: string[] = [];
  const records = clients.map((c) => ({ name: c.name, type: "A" as const, content: c.address }));
  const undo = () => {
    for (const a of added) spawnSync("ip", ["addr", "del", `${a}/32`, "dev", link]);
    added.length = 0;
    fs.writeFileSync(hostsFile, hosts);
    for (const r of records) {
      const i = pod.records.indexOf(r);
      if (i >= 0) pod.records.splice(i, 1);
    }
  };
  try {
    for (const c of clients) {
      const r = spawnSync("ip", ["addr", "add", `${c.address}/32`, "dev", link], {
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`ip addr add ${c.address} dev ${link}: ${r.stderr}`);
      added.push(c.address);
    }
    fs.writeFileSync(hostsFile, hosts + clients.map((c) => `${c.address} ${c.name}\n`).join(""));
    pod.records.push(...records);
  } catch (err) {
    undo();
    throw err;
  }
  return undo;
}

function size(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}

function readFrom(file: string, offset: number): string {
  return fs.existsSync(file) ? fs.readFileSync(file).subarray(offset).toString("utf8") : "";
}

/**
 * The mail.log and CRI lines since `start`, once Postfix and Dovecot have logged every guess and
 * the CRI copy has caught up with mail.log.
 */
async function settledLog(
  pod: MailPod,
  start: { mail: number; cri: number },
  attacker: Client,
  smtp: number,
  imap: number,
  signal: AbortSignal,
) {
  const count = (text: string, re: RegExp) => text.split("\n").filter((l) => re.test(l)).length;
  const ip = attacker.address.replace(/\./g, "\\.");
  const sasl = new RegExp(`\\[${ip}\\]: SASL \\S+ authentication failed`);
  const imapFailed = new RegExp(`auth failed.*rip=${ip},`);
  const read = () => ({
    mail: readFrom(pod.hostPath(MAIL_LOG), start.mail),
    cri: readFrom(pod.criLog, start.cri),
  });
  const logged = await poll(
    () => {
      const r = read();
      return count(r.mail, sasl) >= smtp && count(r.mail, imapFailed) >= imap ? r : undefined;
    },
    15_000,
    signal,
  );
  const last = (logged ?? read()).mail.trimEnd().split("\n").pop() ?? "";
  return (
    (await poll(
      () => {
        const r = read();
        return r.cri.includes(` F ${last}\n`) ? r : undefined;
      },
      5_000,
      signal,
    )) ?? read()
  );
}

/** The stats listener's port in the rendered dovecot.cf. */
function statsPort(pod: MailPod): number {
  const cf = pod.files.find((f) => f.mountPath === DOVECOT_CF)?.content ?? "";
  const port = Number(/inet_listener http \{\s*port = (\d+)/.exec(cf)?.[1]);
  if (!(port > 0)) throw new Error(`the rendered dovecot.cf opens no stats http listener`);
  return port;
}

interface Metrics {
  text: string;
  failures: number;
  successes: number;
}

async function metrics(port: number): Promise<Metrics> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.get({ host: POD_ADDRESS, port, path: "/metrics", timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    if (line === undefined) throw new Error(`Dovecot serves no ${series}`);
    return Number(line.slice(series.length + 1));
  };
  return { text, failures: value(FAILURES), successes: value(SUCCESSES) };
}

/** Scrapes until the failures counter reached `before + expected` (the stats process aggregates as events arrive), at most 3 s. */
async function metricsUntil(port: number, before: Metrics, expected: number, signal: AbortSignal) {
  let m = await metrics(port);
  for (let i = 0; i < 15 && !signal.aborted && m.failures < before.failures + expected; i++) {
    await new Promise((r) => setTimeout(r, 200));
    m = await metrics(port);
  }
  // Once more a moment later: a counter that overshoots must show it.
  await new Promise((r) => setTimeout(r, 300));
  return metrics(port);
}

function metricLines(text: string): string {
  return text
    .split("\n")
    .filter((l) => l.startsWith("dovecot_auth_"))
    .join("\n");
}
