/**
 * crowdsec-covers-mail: with Fail2ban off, the stack carries a CrowdSec acquisition that feeds
 * the mail pod's logs to the hub's postfix and dovecot parsers.
 *
 * Why: CrowdSec is the only brute-force defence for SMTP/IMAP once Fail2ban is disabled. The
 * hub's postfix-logs parser only takes lines whose program ends in "/smtpd" and dovecot-logs
 * only program "dovecot"; pod-log acquisition forces the program label onto every line, so a
 * single `program: postfix` label matches neither and attacks go unnoticed, silently.
 *
 * Fix: in a ConfigMap in the crowdsec namespace (e.g. key acquis-mail.yaml), add one
 * `source: file` datasource per program over the mail pod's logs, e.g. filenames
 * ["/var/log/containers/mailserver-*_mailserver_docker-mailserver-*.log"] with labels
 * {type: containerd, program: postfix/submission/smtpd}, another with program dovecot; or read
 * DMS's /var/log/mail/mail.log with labels {type: syslog}.
 */
import type { ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { CROWDSEC_MAIL_SCHEMA, readConfig, type CrowdSecMailConfig } from "../lib/config";
import {
  feedsParser,
  parseAcquisition,
  PARSERS,
  podLogPath,
  readsMailLog,
  type Datasource,
  type ParserName,
} from "../lib/crowdsec";
import { hasKind, kindOf, namespaceOf } from "../lib/k8s";
import { at, isObject, PreviewGaps } from "../lib/plain";
import { dmsContainers, plainResources, type StackResource } from "../lib/stack";

function acquisitions(
  resources: readonly StackResource[],
  cfg: CrowdSecMailConfig,
  report: ReportViolation,
  gaps: PreviewGaps,
): Datasource[] {
  const sources: Datasource[] = [];
  for (const r of resources) {
    if (kindOf(r.type) !== "ConfigMap") continue;
    const ns = namespaceOf(r.props);
    if (gaps.check(ns, r.name) || ns !== cfg.crowdsecNamespace) continue;
    const data = at(r.props, "data");
    if (gaps.check(data, r.name) || !isObject(data)) continue;
    for (const [key, text] of Object.entries(data)) {
      if (!/\.ya?ml$/.test(key) || gaps.check(text, `${r.name} data.${key}`)) continue;
      if (typeof text !== "string") continue;
      const parsed = parseAcquisition(text);
      for (const e of parsed.errors)
        report(`${r.name} data.${key} is not valid YAML (${e}); fix it.`, r.urn);
      sources.push(...parsed.sources);
    }
  }
  return sources;
}

const WANTS: Record<ParserName, string> = {
  "postfix-logs": 'a program ending in "/smtpd" (e.g. postfix/submission/smtpd)',
  "dovecot-logs": 'program "dovecot"',
};

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<CrowdSecMailConfig>(CROWDSEC_MAIL_SCHEMA, args.getConfig());
  const gaps = new PreviewGaps();
  // Pod specs of any kind, and the acquisition ConfigMaps.
  const resources = plainResources(args.resources, hasKind);
  const mail = dmsContainers(resources, cfg.dmsImage, gaps);
  const sources = acquisitions(resources, cfg, report, gaps);
  for (const c of mail) {
    const mine = sources.filter((ds) => readsMailLog(ds, c, cfg.mailLogFiles));
    const programs =
      mine.map((ds) => `${ds.type ?? "?"}/${ds.program ?? "-"}`).join(", ") || "none";
    for (const parser of Object.keys(PARSERS) as ParserName[]) {
      // An unknown acquisition may be the missing one: leave it to the preview advisory.
      if (gaps.pending || mine.some((ds) => feedsParser(ds, parser))) continue;
      report(
        `Fail2ban is off, but no CrowdSec acquisition in namespace ${cfg.crowdsecNamespace} feeds ${podLogPath(c)} to ${parser} (it wants ${WANTS[parser]}; found labels type/program: ${programs}); add a source: file datasource for the mail pod's logs with that program label, or read ${cfg.mailLogFiles.join(", ")} with type: syslog.`,
        c.workload.urn,
      );
    }
  }
  gaps.settle();
  if (mail.length === 0) args.notApplicable("no docker-mailserver container in this stack");
}

export const crowdsecCoversMail: StackValidationPolicy = {
  name: "crowdsec-covers-mail",
  description:
    "With Fail2ban off, a CrowdSec acquisition feeds the mail pod's logs to the postfix and dovecot parsers.",
  enforcementLevel: "mandatory",
  configSchema: CROWDSEC_MAIL_SCHEMA,
  validateStack,
};
