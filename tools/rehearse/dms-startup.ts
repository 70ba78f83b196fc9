/**
 * docker-mailserver 15.0.0's startup edits, applied from world/dms-15.0.0/startup.yaml (the data,
 * with its sources) so a real-daemon test sees the daemon's config as the pod does: the image's
 * files, DMS's edits before and after the user's files, then user-patches.sh. Nothing here knows
 * an edit by itself: every path, text and parameter comes from the world file; Postfix edits are
 * made by the real `postconf`. One module per part, under ./dms-startup/.
 */
export {
  applies,
  dmsEnvironment,
  expand,
  startupFact,
  startupFacts,
  validLines,
  type StartupFact,
} from "./dms-startup/facts";
export {
  applyDovecotAppend,
  dovecotConfPath,
  dovecotLocalConfPath,
  dovecotStatsConf,
  DOVECOT_STATS_CONF,
} from "./dms-startup/dovecot";
export { coolPostfixConfig, postfixAsDmsLeavesIt } from "./dms-startup/postfix";
export { applyRspamdLocalD } from "./dms-startup/rspamd";
export { runUserPatches, USER_PATCHES } from "./dms-startup/user-patches";
