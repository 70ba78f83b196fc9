/**
 * Scenario "4 CrowdSec brute force": a bounded password-guessing client (at most 10 wrong
 * guesses, from one RFC 5737 address added to the host side of the pod's veth) against the real
 * Postfix's SMTP AUTH on 587 after STARTTLS and the real Dovecot's IMAP LOGIN on 993, and one
 * benign client from another RFC 5737 address that logs in correctly to both. Both names resolve
 * forward and back for the pod (its /etc/hosts and the rehearsal's DNS), as OUTSIDE_NAME does.
 *
 * Then the real CrowdSec (Debian bookworm's 1.4.6, ./crowdsec-replay.ts) replays the pod's
 * container log with the program's own acquisition (./brute-force/acquisition.ts): the log lines
 * the scenario caused, in the CRI format the kubelet writes, in a file named as the kubelet names
 * the mail container's log, and the acquisition's globs with only their directory moved there, so
 * CrowdSec itself expands the glob. It passes when the attacker is banned, the benign address has
 * neither alert nor decision, and Dovecot's dovecot_auth_failures_total rose by exactly the
 * number of wrong guesses.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ProgramRun } from "../offline/mock-program";
import type { MailPod } from "./pod";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";
import { CROWDSEC_INSTALL, crowdsecMissing, startCrowdSec, type CrowdSec } from "./crowdsec-replay";
import {
  forReplay,
  NODE_LOG_DIR,
  plannedAcquisition,
  replayFiles,
  type Acquisition,
} from "./brute-force/acquisition";
import { addClients } from "./brute-force/clients";
import {
  FAILURES,
  SUCCESSES,
  metricLines,
  metrics,
  metricsUntil,
  statsPort,
  type Metrics,
} from "./brute-force/dovecot-metrics";
import { judge, sessionLines, whitelisted, type Caught } from "./brute-force/evidence";
import { guess, type Client, type GuessPlan, type Session } from "./brute-force/guess";
import { logOffsets, settledLog, type LogOffsets } from "./brute-force/logs";

const NAME = "4 CrowdSec brute force";
const DIR = "crowdsec";
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

/** One run of the scenario: the pod, the plan, where its files go and what it found so far. */
interface Run {
  pod: MailPod;
  plan: GuessPlan;
  program: ProgramRun;
  signal: AbortSignal;
  /** A temporary directory for CrowdSec and the replayed files. */
  work: string;
  evidence: string[];
  files: string[];
  save(name: string, text: string): void;
}

/** Scenario 4 against a started pod; `passwords` are the placeholder mailbox passwords. */
export function bruteForce(
  pod: MailPod,
  passwords: Record<string, string>,
  opts: BruteForceOptions = {},
): Scenario {
  return async (ctx: RehearsalContext): Promise<ScenarioResult> => {
    const plan = guessPlan(passwords, opts);
    const missing = crowdsecMissing();
    if (missing) {
      return {
        name: NAME,
        verdict: "not rehearsed",
        evidence: [`CrowdSec unavailable (${missing}): install it with ${CROWDSEC_INSTALL}`],
        files: [],
      };
    }
    const acq = plannedAcquisition(ctx.run);
    const r = newRun(pod, plan, ctx);
    r.evidence.push(acq.line);
    const undo = addClients(pod, [plan.attacker, plan.benign]);
    let crowdsec: CrowdSec | undefined;
    try {
      const port = statsPort(pod);
      const before = await metrics(port);
      const start = logOffsets(pod);
      const guessed = await guessWhileStarting(r, acq, (c) => (crowdsec = c));
      const cri = await savedLog(r, start);
      const delta = await countedFailures(r, port, before);
      const replayed = await replay(r, acq, guessed.crowdsec, cri);
      const result = verdict(r, guessed.sessions, replayed, delta);
      return { name: NAME, verdict: result, evidence: r.evidence, files: r.files };
    } catch (err) {
      r.evidence.push(`error: ${(err as Error).message.split("\n")[0]}`);
      return { name: NAME, verdict: "fail", evidence: r.evidence, files: r.files };
    } finally {
      await crowdsec?.stop();
      undo();
      fs.rmSync(r.work, { recursive: true, force: true });
    }
  };
}

/** The guesses asked for, within the bound, against the mailbox `me@` (or the first one). */
function guessPlan(passwords: Record<string, string>, opts: BruteForceOptions): GuessPlan {
  const smtpGuesses = opts.smtpGuesses ?? 6;
  const imapGuesses = opts.imapGuesses ?? 4;
  if (smtpGuesses + imapGuesses > MAX_GUESSES || smtpGuesses < 0 || imapGuesses < 0) {
    throw new Error(`at most ${MAX_GUESSES} guesses in all`);
  }
  const mailbox =
    Object.keys(passwords).find((a) => a.startsWith("me@")) ?? Object.keys(passwords)[0];
  return {
    attacker: opts.attacker ?? ATTACKER,
    benign: opts.benign ?? BENIGN,
    mailbox,
    passwords,
    smtpGuesses,
    imapGuesses,
  };
}

function newRun(pod: MailPod, plan: GuessPlan, ctx: RehearsalContext): Run {
  const out = path.join(ctx.out, DIR);
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  return {
    pod,
    plan,
    program: ctx.run,
    signal: ctx.signal,
    work: fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-crowdsec-")),
    evidence: [],
    files,
    save: (name, text) => {
      fs.writeFileSync(path.join(out, name), text);
      files.push(path.posix.join(DIR, name));
    },
  };
}

/**
 * The clients guess while CrowdSec's Local API starts; whichever fails, the other is waited for
 * (so that the scenario's `finally` stops a Local API that did start: `started` hands it over).
 */
async function guessWhileStarting(
  r: Run,
  acq: Acquisition,
  started: (c: CrowdSec) => void,
): Promise<{ crowdsec: CrowdSec; sessions: Session[] }> {
  const dir = path.join(r.work, "crowdsec");
  const [cs, guessed] = await Promise.allSettled([
    startCrowdSec(dir, acq.collections, acq.runtime, r.signal).then((c) => (started(c), c)),
    guess(r.pod, r.plan, r.signal),
  ]);
  if (cs.status === "rejected") throw cs.reason;
  if (guessed.status === "rejected") throw guessed.reason;
  r.evidence.push(...sessionLines(guessed.value, r.plan.attacker, r.plan.benign));
  return { crowdsec: cs.value, sessions: guessed.value };
}

/** The logs the guesses caused, saved once complete; the CRI lines for the replay. */
async function savedLog(r: Run, start: LogOffsets): Promise<string> {
  const { attacker, benign, smtpGuesses: smtp, imapGuesses: imap } = r.plan;
  const log = await settledLog(r.pod, start, { attacker, smtp, imap }, r.signal);
  r.save("mail.log", log.mail);
  const named = (c: Client) =>
    `${c.name}[${c.address}] ${log.mail.includes(`connect from ${c.name}[${c.address}]`) ? "yes" : "no"}`;
  r.evidence.push(
    `Postfix named its clients (forward and reverse agree): ${(smtp ? [attacker, benign] : [benign]).map(named).join(", ")}`,
  );
  return log.cri;
}

/** How much Dovecot's failure counter rose since `before` (it must by every wrong guess). */
async function countedFailures(r: Run, port: number, before: Metrics): Promise<number> {
  const { smtpGuesses: smtp, imapGuesses: imap } = r.plan;
  const expected = smtp + imap;
  const after = await metricsUntil(port, before, expected, r.signal);
  r.save(
    "dovecot-metrics.txt",
    `# before\n${metricLines(before.text)}\n# after\n${metricLines(after.text)}\n`,
  );
  const delta = after.failures - before.failures;
  r.evidence.push(
    `Dovecot ${FAILURES}: ${before.failures} before, ${after.failures} after (+${delta}); expected +${expected} = ${imap} IMAP + ${smtp} SMTP guesses: Postfix's SASL asks the same Dovecot auth service and the rendered metric's filter (event=auth_request_finished AND NOT success=yes) names no service; ${SUCCESSES} +${after.successes - before.successes} (the benign logins)`,
  );
  return delta;
}

/** CrowdSec's replay of the CRI lines, laid out as the kubelet would, with the acquisition. */
async function replay(r: Run, acq: Acquisition, crowdsec: CrowdSec, cri: string) {
  const { attacker, benign } = r.plan;
  const files = replayFiles(r.work, r.program, cri);
  r.save("replayed.cri.log", cri);
  const acquisition = forReplay(acq.text, path.join(r.work, "containers") + "/");
  r.save("acquis.yaml", acquisition);
  r.evidence.push(
    `replayed ${files.lines} CRI lines from ${files.link.replace(r.work, "<tmp>")} (named as the kubelet names the mail container's log; the rendered glob ${acq.globs.join(", ")} with only ${NODE_LOG_DIR} moved)`,
  );
  const outcome = await crowdsec.replay(acquisition);
  r.save("crowdsec.log", outcome.log);
  r.save("alerts.json", JSON.stringify(outcome.alerts, null, 2));
  r.save("decisions.json", JSON.stringify(outcome.decisions, null, 2));
  const caught = judge(outcome, files.link, { attacker, benign }, r.evidence);
  const listed = whitelisted([attacker, benign]);
  r.evidence.push(
    `crowdsecurity/whitelists (the hub's private ranges) lists ${listed.join(", ") || "neither address"}`,
  );
  return { caught, listed };
}

/** Pass when only the attacker is caught, no client is whitelisted, every guess counted once. */
function verdict(
  r: Run,
  sessions: Session[],
  { caught, listed }: { caught: Caught; listed: string[] },
  delta: number,
): "pass" | "fail" {
  const { attacker, benign } = r.plan;
  const expected = r.plan.smtpGuesses + r.plan.imapGuesses;
  const asPlanned = sessions.every((s) => s.accepted === (s.client === benign));
  r.evidence.unshift(
    `${attacker.address} after ${expected} wrong guesses: ${caught.scenarios.length ? `banned by ${caught.scenarios.join(", ")}` : "not banned"}; benign ${benign.address}: ${caught.benignClean ? "no alert, no decision" : "alerted or banned"}; ${FAILURES} +${delta} (expected +${expected})`,
  );
  return caught.ok && listed.length === 0 && delta === expected && asPlanned ? "pass" : "fail";
}
