/**
 * The part of the pod's logs a scenario caused: mail.log and its CRI copy from an offset on, once
 * the daemons have logged every guess and the copy has caught up.
 */
import * as fs from "node:fs";
import { poll } from "../mail-in";
import type { MailPod } from "../pod";
import type { Client } from "./guess";

const MAIL_LOG = "/var/log/mail/mail.log";

export interface LogOffsets {
  mail: number;
  cri: number;
}

function size(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}

function readFrom(file: string, offset: number): string {
  return fs.existsSync(file) ? fs.readFileSync(file).subarray(offset).toString("utf8") : "";
}

/** Where the pod's logs end now. */
export function logOffsets(pod: MailPod): LogOffsets {
  return { mail: size(pod.hostPath(MAIL_LOG)), cri: size(pod.criLog) };
}

/**
 * The mail.log and CRI lines since `start`, once Postfix and Dovecot have logged every guess and
 * the CRI copy has caught up with mail.log.
 */
export async function settledLog(
  pod: MailPod,
  start: LogOffsets,
  guesses: { attacker: Client; smtp: number; imap: number },
  signal: AbortSignal,
) {
  const count = (text: string, re: RegExp) => text.split("\n").filter((l) => re.test(l)).length;
  const ip = guesses.attacker.address.replace(/\./g, "\\.");
  const sasl = new RegExp(`\\[${ip}\\]: SASL \\S+ authentication failed`);
  const imapFailed = new RegExp(`auth failed.*rip=${ip},`);
  const read = () => ({
    mail: readFrom(pod.hostPath(MAIL_LOG), start.mail),
    cri: readFrom(pod.criLog, start.cri),
  });
  const logged = await poll(
    () => {
      const r = read();
      const all = count(r.mail, sasl) >= guesses.smtp && count(r.mail, imapFailed) >= guesses.imap;
      return all ? r : undefined;
    },
    15_000,
    signal,
  );
  const last = (logged ?? read()).mail.trimEnd().split("\n").pop() ?? "";
  const caughtUp = () => {
    const r = read();
    return r.cri.includes(` F ${last}\n`) ? r : undefined;
  };
  return (await poll(caughtUp, 5_000, signal)) ?? read();
}
