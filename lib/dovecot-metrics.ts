/**
 * Dovecot's own metrics: the `dovecot.cf` lines that make Dovecot 2.3 serve OpenMetrics itself
 * (no exporter sidecar), and the alerts that read them.
 *
 * Verified with Debian bookworm's dovecot 2.3.19.1, the version docker-mailserver 15.0.0 ships,
 * by tests/monitoring/dovecot-metrics.test.ts: the real daemon with the rendered file serves every
 * `dovecot_*` name the alerts read. Filters follow Dovecot 2.3's event reference
 * (doc.dovecot.org admin_manual/list_of_events: auth_request_finished, imap_command_finished,
 * mail_delivery_finished; the last is emitted by the delivery library LMTP uses).
 */

/** Port of Dovecot's stats HTTP listener inside the mail pod (Dovecot's own docs use 9900). */
export const DOVECOT_METRICS_PORT = 9900;
/** Container port name (at most 15 characters). */
export const DOVECOT_METRICS_PORT_NAME = "dovecot-metrics";
/** The stats process serves OpenMetrics on this path. */
export const DOVECOT_METRICS_PATH = "/metrics";

export interface DovecotMetric {
  /** Served as `dovecot_<name>_total` (plus `_duration_seconds_total`). */
  name: string;
  filter: string;
  groupBy?: string[];
  /** What an operator reads it for. */
  why: string;
}

export const DOVECOT_METRICS: readonly DovecotMetric[] = [
  {
    name: "auth_success",
    filter: "event=auth_request_finished AND success=yes",
    why: "logins that succeeded (IMAP, and SMTP AUTH through Dovecot's auth)",
  },
  {
    name: "auth_failures",
    filter: "event=auth_request_finished AND NOT success=yes",
    why: "failed logins: the brute-force signal CrowdSec bans on, counted whatever the source IP",
  },
  {
    name: "imap_command",
    filter: "event=imap_command_finished",
    groupBy: ["cmd_name", "tagged_reply_state"],
    why: "IMAP commands by name and result (OK/NO/BAD)",
  },
  {
    name: "mail_deliveries",
    filter: "event=mail_delivery_finished",
    why: "messages delivered into mailboxes (Postfix hands them to Dovecot over LMTP)",
  },
];

/**
 * The `dovecot.cf` block for metrics. docker-mailserver 15.0.0's `60-stats.conf` sets the stats
 * sockets to `mode = 0`, which disables them: with stats-writer closed no process can send events
 * and every counter stays 0 (seen with the real daemon). stats-writer goes back to Dovecot's
 * default (0660, group dovecot); stats-reader, which only doveadm and the old exporter read, stays
 * closed.
 */
export function dovecotMetricsCf(port: number = DOVECOT_METRICS_PORT): string[] {
  const metrics = DOVECOT_METRICS.flatMap((m) => [
    `metric ${m.name} {`,
    `  filter = ${m.filter}`,
    ...(m.groupBy ? [`  group_by = ${m.groupBy.join(" ")}`] : []),
    "}",
  ]);
  return [
    "service stats {",
    "  unix_listener stats-writer {",
    "    mode = 0660",
    "  }",
    "  inet_listener http {",
    `    port = ${port}`,
    "  }",
    "}",
    ...metrics,
  ];
}

/** The Dovecot config file docker-mailserver 15.0.0 appends its stats line to. */
export const DOVECOT_CONF = "/etc/dovecot/dovecot.conf";

/**
 * The `user-patches.sh` lines that let the counters move. dovecot.cf cannot do it alone:
 * docker-mailserver 15.0.0 appends an empty `stats_writer_socket_path=` after
 * `!include_try local.conf` (target/scripts/startup/setup.d/dovecot.sh:55-57), so it beats
 * dovecot.cf and no process reaches the stats process (every counter stays 0, seen with the real
 * daemon). user-patches.sh runs after that edit and before Dovecot starts; deleting the line
 * restores Dovecot's default socket (stats-writer). Running it twice changes nothing.
 */
export function dovecotStatsUserPatch(conf: string = DOVECOT_CONF): string[] {
  return [
    "# Dovecot metrics: docker-mailserver 15.0.0 appends an empty `stats_writer_socket_path=`",
    "# after `!include_try local.conf` (target/scripts/startup/setup.d/dovecot.sh:55-57). It beats",
    "# dovecot.cf, so no process could reach the stats process and every counter would stay 0.",
    "# Deleting it restores Dovecot's default (stats-writer); a second run changes nothing.",
    `sed -i '/^stats_writer_socket_path=$/d' ${conf}`,
  ];
}

/** The Prometheus series name of a metric's event counter. */
export function counterOf(name: string): string {
  return `dovecot_${name}_total`;
}

/** Failed logins in the window that make a burst (all source IPs together). */
export const AUTH_FAILURE_BURST = { failures: 30, window: "15m", for: "5m" } as const;

export interface DovecotAlertArgs {
  /** Namespace label the kubernetes-pods scrape job puts on the mail pod's series. */
  namespace: string;
}

/**
 * Alerts on Dovecot's metrics. The burst alert complements CrowdSec: CrowdSec bans one IP after
 * 4 failures in 6 minutes; a spread-out attack (many IPs under that threshold) or a CrowdSec that
 * stopped reading the logs shows only here. The missing-metrics alert makes a broken scrape
 * visible instead of silencing the burst alert.
 */
export function dovecotAlertRules(args: DovecotAlertArgs) {
  const sel = `{namespace="${args.namespace}"}`;
  const b = AUTH_FAILURE_BURST;
  const labels = { severity: "warning" };
  return [
    {
      alert: "DovecotAuthFailureBurst",
      expr: `sum by (namespace) (increase(${counterOf("auth_failures")}${sel}[${b.window}])) > ${b.failures}`,
      for: b.for,
      labels,
      annotations: {
        summary: "Burst of failed mail logins",
        description: `More than ${b.failures} failed Dovecot logins in ${b.window} across all clients (for ${b.for}). CrowdSec bans single IPs after 4 failures in 6 minutes; check \`cscli alerts list\` and \`cscli decisions list\`, and the mail log for the sources: a spread-out attack or a CrowdSec agent that stopped reading the mail logs.`,
      },
    },
    {
      alert: "DovecotMetricsMissing",
      expr: `absent(dovecot_build_info${sel})`,
      for: "15m",
      labels,
      annotations: {
        summary: "Dovecot metrics are not scraped",
        description: `No dovecot_build_info from namespace ${args.namespace} for 15 minutes: the mail pod is down, its prometheus.io scrape annotations or stats listener changed, or Prometheus no longer scrapes it. DovecotAuthFailureBurst cannot fire meanwhile.`,
      },
    },
  ];
}
