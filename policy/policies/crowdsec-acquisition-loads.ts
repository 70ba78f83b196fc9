/**
 * crowdsec-acquisition-loads: every document of the stack's CrowdSec acquisitions loads, and
 * keeps reading, under the live agent's own loader (crowdsecurity/crowdsec v1.7.8, the owner's
 * pin, world/today/kubernetes.yaml).
 *
 * Why: the agent decodes each file datasource strictly (goccy/go-yaml `Strict()`,
 * pkg/acquisition/modules/file/config.go:38) and returns the first error from the whole
 * acquisition load (pkg/acquisition/acquisition.go sourcesFromFile): one unknown key, one
 * `exclude_regexps` entry that Go's regexp (RE2) does not compile, or a mode other than tail/cat
 * (config.go:59) and the agent starts with no acquisition at all: no ban for SSH, Traefik or mail,
 * and Fail2ban is off. `mode: cat` loads, but reads each file once and stops. An exclude regexp
 * that matches the mail log's path drops the file (config.go:113-121) and the mail scenarios
 * with it.
 *
 * Judged by the consumer's rules: keys against the v1.7.8 file Configuration and
 * DataSourceCommonCfg structs, regexps compiled by re2js (RE2 syntax, as Go's regexp package), an
 * exclude matched unanchored against the mail log paths (Go's MatchString). A datasource of
 * another source type than file or journalctl is one the pack does not model: refused as "cannot
 * verify".
 *
 * Fix: remove or correct the key the message names; use `mode: tail` (or none); make the exclude
 * regexp valid and narrow enough to spare the mail log.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
} from "@pulumi/policy";
import { RE2JS } from "re2js";
import { CROWDSEC_MAIL_SCHEMA, readConfig, type CrowdSecMailConfig } from "../lib/config";
import { parseAcquisition, type Datasource } from "../lib/crowdsec";
import { kindOf, nameOf, namespaceOf } from "../lib/k8s";
import { at, isObject, PreviewGaps, toPlain, type Plain } from "../lib/plain";

/**
 * Keys the v1.7.8 file datasource decodes: Configuration (modules/file/config.go:23-32; untagged
 * fields take the lower-cased field name) and the inlined DataSourceCommonCfg
 * (pkg/acquisition/configuration/configuration.go:7-16).
 */
const COMMON_KEYS = [
  "mode",
  "labels",
  "log_level",
  "source",
  "name",
  "use_time_machine",
  "unique_id",
  "transform",
];
const FILE_KEYS = new Set([
  ...COMMON_KEYS,
  "filenames",
  "filename",
  "exclude_regexps",
  "force_inotify",
  "max_buffer_size",
  "poll_without_inotify",
  "discovery_poll_enable",
  "discovery_poll_interval",
]);

/** A pod log of the mail container as the kubelet names it (<pod>_<namespace>_<container>-<id>). */
const MAIL_POD_LOG = `/var/log/containers/mailserver-5d8f7c9b6d-x7k2p_mailserver_docker-mailserver-${"0".repeat(64)}.log`;

type Say = (problem: string) => void;

function checkRegexps(ds: Datasource, mailLogs: string[], say: Say): void {
  for (const re of ds.excludeRegexps) {
    if (typeof re !== "string") {
      say(`exclude_regexps holds ${JSON.stringify(re)}, not a string`);
      continue;
    }
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(re);
    } catch (err) {
      say(`exclude_regexps ${JSON.stringify(re)} is not a Go regexp (${(err as Error).message})`);
      continue;
    }
    const hit = mailLogs.find((p) => compiled.matcher(p).find());
    if (hit)
      say(
        `exclude_regexps ${JSON.stringify(re)} matches the mail log ${hit}, which the agent then skips`,
      );
  }
}

/** journalctl: Configuration (modules/journalctl/config.go:17-20) and DataSourceCommonCfg. */
const JOURNALCTL_KEYS = new Set([...COMMON_KEYS, "journalctl_filter"]);
const KEYS: Record<string, Set<string>> = { file: FILE_KEYS, journalctl: JOURNALCTL_KEYS };

/**
 * A document the loader takes for a datasource: it names a source or the loader detects one from
 * its fields (acquisition.go ParseSourceConfig:254-271); any other non-empty document of a loaded
 * file stops the load.
 */
const isDatasource = (ds: Datasource) =>
  ds.keys.includes("source") || ds.filenames.length > 0 || ds.keys.includes("journalctl_filter");

function checkDatasource(ds: Datasource, mailLogs: string[], say: Say): void {
  if (!isDatasource(ds)) {
    say(
      `names no source and no field the loader detects one from; it stops with "missing 'source' field"`,
    );
    return;
  }
  const keys = KEYS[ds.source];
  if (!keys) {
    say(
      `cannot verify: source ${ds.source} is a datasource the pack does not model; judge it or list it in closed-world.waivers with a reason`,
    );
    return;
  }
  for (const key of ds.keys.filter((k) => !keys.has(k))) {
    say(
      `key ${key} is not a v1.7.8 ${ds.source} datasource field; the strict decoder refuses the whole acquisition`,
    );
  }
  if (ds.mode !== undefined && ds.mode !== "tail" && ds.mode !== "cat") {
    say(`mode ${JSON.stringify(ds.mode)} is not tail or cat; the agent refuses the acquisition`);
  } else if (ds.mode === "cat") {
    say("mode cat reads each file once at startup and then stops; use tail");
  }
  if (ds.source === "file") checkRegexps(ds, mailLogs, say);
}

/** Every acquisition file a ConfigMap of the CrowdSec namespace holds (the keys acquis.d loads). */
function acquisitionFiles(props: Plain, name: string, cfg: CrowdSecMailConfig, gaps: PreviewGaps) {
  const ns = namespaceOf(props);
  const cm = nameOf(props, name);
  if (gaps.check(ns, name) || gaps.check(cm, name) || ns !== cfg.crowdsecNamespace) return [];
  const data = at(props, "data");
  if (gaps.check(data, name) || !isObject(data)) return [];
  return Object.entries(data).flatMap(([key, text]) =>
    /\.ya?ml$/.test(key) && !gaps.check(text, `${name} data.${key}`) && typeof text === "string"
      ? [{ where: `ConfigMap ${ns}/${cm} key ${key}`, ...parseAcquisition(text) }]
      : [],
  );
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  if (!args.type.startsWith("kubernetes:") || kindOf(args.type) !== "ConfigMap") return;
  const cfg = readConfig<CrowdSecMailConfig>(CROWDSEC_MAIL_SCHEMA, args.getConfig());
  const gaps = new PreviewGaps();
  // The DMS syslog file and a pod log of the mail container, as the agent sees their paths.
  const mailLogs = [...cfg.mailLogFiles, MAIL_POD_LOG];
  for (const file of acquisitionFiles(toPlain(args.props), args.name, cfg, gaps)) {
    for (const error of file.errors) {
      report(
        `${file.where} is not valid YAML (${error}); the agent loads no acquisition at all. Fix the YAML.`,
      );
    }
    // A file without any datasource is not an acquisition (whether the agent loads it at all is
    // crowdsec-agent-mounts-acquisition's to judge).
    if (!file.sources.some(isDatasource)) continue;
    file.sources.forEach((ds, i) =>
      checkDatasource(ds, mailLogs, (problem) =>
        report(`${file.where}, datasource ${i + 1}: ${problem}.`),
      ),
    );
  }
  gaps.settle();
}

export const crowdsecAcquisitionLoads: ResourceValidationPolicy = {
  name: "crowdsec-acquisition-loads",
  description:
    "Each CrowdSec acquisition of the stack loads and keeps reading under the live agent's loader.",
  enforcementLevel: "mandatory",
  configSchema: CROWDSEC_MAIL_SCHEMA,
  validateResource,
};
