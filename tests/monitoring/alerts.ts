/**
 * Every alert the program ships, written out once for the monitoring tests: promtool's coverage
 * check holds this list to the count `promtool check rules` reports for the shipped file, so a new
 * alert needs its entry here and its own test.
 */
export const SHIPPED_ALERTS = [
  "MailServerDown",
  "EmailRoundtripFailing",
  "EmailRoundtripStale",
  "MailCertificateExpiresSoon",
  "EmailRoundtripNeverRun",
  "DovecotAuthFailureBurst",
  "DovecotMetricsMissing",
  "DovecotCountersNotMoving",
] as const;
