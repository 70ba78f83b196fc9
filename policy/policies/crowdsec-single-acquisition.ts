/**
 * crowdsec-single-acquisition: the CrowdSec agent reads the mail pod's logs through exactly one
 * acquisition file, this stack's, and feeds each mail parser at most once.
 *
 * Why: every datasource over the same log emits each line again. A line counted twice halves the
 * ban thresholds (hub @ b03cb59b: postfix-spam overflows at 6 events in its 10 s leak, dovecot-spam
 * at 4 failures in 360 s; read twice, 3 and 2 real attempts ban). The crowdsec chart of the
 * CrowdSec stack still carries agent.acquisition entries for the mail pod (`program: postfix`,
 * which no parser takes, and `program: dovecot`, which double counts). An acquisition file the
 * stack neither creates nor read at preview cannot be checked, so it is refused too (fail safe).
 *
 * Fix: remove the mail pod's entries from the CrowdSec stack's agent.acquisition (the stack output
 * crowdsecAgentValues has the list without them); add any other ConfigMap the agent mounts into
 * acquis.d to mailserver:crowdsec.agent.acquisitionConfigMaps so the program reads it.
 */
import type { ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import {
  agentViews,
  describeAgent,
  loadedFiles,
  ownedAcquisitions,
  type AgentView,
  type LoadedFile,
} from "../lib/agent";
import { CROWDSEC_MAIL_SCHEMA, readConfig, type CrowdSecMailConfig } from "../lib/config";
import { feedsParser, PARSERS, podLogPath, readsMailLog, type ParserName } from "../lib/crowdsec";
import { PreviewGaps } from "../lib/plain";
import { hasKind } from "../lib/k8s";
import { dmsContainers, plainProperty, plainResources, type DmsContainer } from "../lib/stack";

/** The ban thresholds a doubled count halves (hub @ b03cb59b). */
const THRESHOLDS =
  "postfix-spam then bans after 3 events instead of 6 in 10 s, dovecot-spam after 2 failures instead of 4 in 360 s";

function programsOf(f: LoadedFile, c: DmsContainer, cfg: CrowdSecMailConfig): string {
  return (f.sources ?? [])
    .filter((ds) => readsMailLog(ds, c, cfg.mailLogFiles))
    .map((ds) => `program: ${ds.program ?? ds.type ?? "?"}`)
    .join(", ");
}

/** Acquisition files whose content the pack cannot see: they might read the mail logs. */
function checkUnknown(a: AgentView, files: LoadedFile[], report: ReportViolation): void {
  for (const f of files.filter((x) => x.sources === undefined)) {
    report(
      `The CrowdSec agent ${describeAgent(a)} loads ${f.mountPath} from ${f.origin}, which this stack neither creates nor read, so nothing rules out a second reader of the mail logs; add that ConfigMap to mailserver:crowdsec.agent.acquisitionConfigMaps so the program reads it at preview.`,
      a.resource.urn,
    );
  }
}

function checkReaders(
  a: AgentView,
  files: LoadedFile[],
  c: DmsContainer,
  cfg: CrowdSecMailConfig,
  report: ReportViolation,
): void {
  const log = podLogPath(c);
  const mine = (f: LoadedFile) =>
    (f.sources ?? []).filter((ds) => readsMailLog(ds, c, cfg.mailLogFiles));
  const readers = files.filter((f) => mine(f).length > 0);
  const kept = readers.find((f) => f.owned) ?? readers[0];
  for (const f of readers.filter((x) => x !== kept)) {
    const fix = f.owned
      ? "remove the duplicate acquisition from this stack"
      : "remove the mail pod's entries from agent.acquisition in the CrowdSec stack's chart values (the stack output crowdsecAgentValues has the list without them)";
    report(
      `The CrowdSec agent ${describeAgent(a)} reads ${log} a second time through ${f.mountPath} (${f.origin}: ${programsOf(f, c, cfg)}); each line counted twice halves the ban thresholds (${THRESHOLDS}). Fix: ${fix}.`,
      a.resource.urn,
    );
  }
  if (!kept || readers.length > 1) return;
  for (const parser of Object.keys(PARSERS) as ParserName[]) {
    const n = mine(kept).filter((ds) => feedsParser(ds, parser)).length;
    if (n <= 1) continue;
    report(
      `${kept.origin} feeds the mail logs of ${log} to ${parser} through ${n} datasources, so each event is counted ${n} times (${THRESHOLDS}); keep one datasource per parser family.`,
      a.resource.urn,
    );
  }
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<CrowdSecMailConfig>(CROWDSEC_MAIL_SCHEMA, args.getConfig());
  const gaps = new PreviewGaps();
  // Pod specs of any kind and the acquisition ConfigMaps; the agent view of any resource.
  const resources = plainResources(args.resources, hasKind);
  const mail = dmsContainers(resources, cfg.dmsImage, gaps);
  const owned = ownedAcquisitions(resources, cfg.crowdsecNamespace, gaps);
  const agents = agentViews(plainProperty(args.resources, "agent"), gaps).filter(
    (a) => a.namespace === cfg.crowdsecNamespace,
  );
  for (const a of agents) {
    const files = loadedFiles(a, owned);
    checkUnknown(a, files, report);
    for (const c of mail) checkReaders(a, files, c, cfg, report);
  }
  gaps.settle();
  if (mail.length === 0 || agents.length === 0) {
    args.notApplicable("no docker-mailserver container or no CrowdSec agent read in this stack");
  }
}

export const crowdsecSingleAcquisition: StackValidationPolicy = {
  name: "crowdsec-single-acquisition",
  description:
    "The CrowdSec agent reads the mail pod's logs through one acquisition only, each mail parser fed once.",
  enforcementLevel: "mandatory",
  configSchema: CROWDSEC_MAIL_SCHEMA,
  validateStack,
};
