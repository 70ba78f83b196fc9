/** DMS 15.0.0's Dovecot edits the daemon tests and the pod share: stats and local.conf. */
import * as fs from "node:fs";
import { need } from "./facts";

export const DOVECOT_STATS_CONF = "dovecot:conf.d/60-stats.conf";
const DOVECOT_STATS_APPEND = "dovecot:stats_writer_socket_path appended";
const DOVECOT_LOCAL_CONF = "dovecot:local.conf from dovecot.cf";

/** The image's conf.d/60-stats.conf text. */
export function dovecotStatsConf(): string {
  return need(DOVECOT_STATS_CONF, "text").text;
}

/** Where DMS puts dovecot.cf (local.conf under /etc/dovecot). */
export function dovecotLocalConfPath(): string {
  return need(DOVECOT_LOCAL_CONF, "file", "from").file;
}

/** The file DMS appends its stats line to (the image's dovecot.conf). */
export function dovecotConfPath(): string {
  return need(DOVECOT_STATS_APPEND, "file").file;
}

/**
 * DMS's append to dovecot.conf, applied to `conf` (a test's stand-in for it): the text at the end,
 * unless a line already matches (dovecot.sh's grep guard).
 */
export function applyDovecotAppend(conf: string): void {
  const edit = need(DOVECOT_STATS_APPEND, "text", "unless_line_matches");
  if (edit.op !== "append") throw new Error(`${DOVECOT_STATS_APPEND}: op ${edit.op}, not append`);
  const guard = new RegExp(edit.unless_line_matches, "m");
  if (!guard.test(fs.readFileSync(conf, "utf8"))) fs.appendFileSync(conf, edit.text);
}
