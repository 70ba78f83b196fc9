/**
 * Generative family of crowdsec-acquisition-loads, drawn from the live agent's loader (crowdsec
 * v1.7.8): its file datasource is decoded strictly (an unknown key, however close to a real one,
 * fails the whole acquisition), `exclude_regexps` are compiled by Go's regexp (RE2: no
 * look-around, no backreferences, no possessive quantifiers; github.com/google/re2/wiki/Syntax)
 * and matched unanchored against each file, and mode is tail or cat (cat reads once). Legitimate:
 * every field the v1.7.8 structs declare, valid RE2 that spares the mail log, a journalctl source.
 */
import fc from "fast-check";
import { crowdsecAcquisition, GOOD_ACQUISITION } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "crowdsec-acquisition-loads";
const [first, ...rest] = GOOD_ACQUISITION;

/** The good acquisition with `lines` added to its first (postfix) datasource. */
const withLines = (lines: string[]) =>
  replace([crowdsecAcquisition([[first ?? "", ...lines].join("\n"), ...rest])]);

const yamlString = (s: string) => JSON.stringify(s);
const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");

const typoKey = fc.constantFrom(
  "poll_without_inotfy: true",
  "filename_s: [/var/log/x.log]",
  "exclude_regexp: ['\\.gz$']",
  "label: {type: syslog}",
  "force-inotify: true",
  "Poll_Without_Inotify: true",
  "max_buffer: 1024",
);
const notRe2 = fc.constantFrom(
  "(?<=mail)x",
  "(?=x)y",
  "(a)\\1",
  "a++",
  "(unclosed",
  "x{2,1}",
  "\\Z",
);
const eatsMailLog = fc.constantFrom(
  "mail",
  "docker-mailserver",
  "\\.log$",
  "_mailserver_",
  "^/var/log/",
);
const badMode = fc.constantFrom("cat", "CAT", "Tail", "follow", "server");
const otherSource = fc.constantFrom("docker", "kinesis", "syslog", "kafka", "k8s-audit");

export const crowdsecLoadsFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    typoKey.map((line) => bad(`unknown key ${line}`, withLines([line]))),
    notRe2.map((re) =>
      bad(`non-RE2 exclude ${re}`, withLines(["exclude_regexps:", `  - ${yamlString(re)}`])),
    ),
    eatsMailLog.map((re) =>
      bad(
        `exclude matching the mail log ${re}`,
        withLines(["exclude_regexps:", `  - ${yamlString(re)}`]),
      ),
    ),
    badMode.map((mode) => bad(`mode ${mode}`, withLines([`mode: ${mode}`]))),
    otherSource.map((source) =>
      bad(
        `unmodelled source ${source}`,
        replace([
          crowdsecAcquisition([...GOOD_ACQUISITION, `source: ${source}\nlabels:\n  type: syslog`]),
        ]),
      ),
    ),
    fc
      .constantFrom("notes", "owner")
      .map((key) =>
        bad(
          `a document that is no datasource (${key})`,
          replace([crowdsecAcquisition([...GOOD_ACQUISITION, `${key}: mail team`])]),
        ),
      ),
    fc
      .constantFrom(
        "labels:\n  type: syslog\nlabels:\n  type: syslog",
        "source: file\n\tfilenames: [x]",
      )
      .map((doc) =>
        bad(
          "YAML the loader cannot read",
          replace([crowdsecAcquisition([...GOOD_ACQUISITION, doc])]),
        ),
      ),
  ),
  legit: fc.oneof(
    fc
      .constantFrom("\\.gz$", "traefik", "^/var/log/auth\\.log$", "(?i)backup", "[0-9]{8}\\.old$")
      .map((re) =>
        good(
          `RE2 exclude sparing the mail log ${re}`,
          withLines(["exclude_regexps:", `  - ${yamlString(re)}`]),
        ),
      ),
    fc
      .constantFrom(
        "mode: tail",
        "max_buffer_size: 65536",
        "log_level: info",
        "name: mail-postfix",
        "unique_id: mail-1",
        "use_time_machine: false",
        "discovery_poll_enable: true",
        "discovery_poll_interval: 30s",
      )
      .map((line) => good(`declared field ${line}`, withLines([line]))),
    fc
      .constantFrom("_SYSTEMD_UNIT=ssh.service", "_SYSTEMD_UNIT=kubelet.service")
      .map((filter) =>
        good(
          `journalctl source ${filter}`,
          replace([
            crowdsecAcquisition([
              ...GOOD_ACQUISITION,
              `source: journalctl\njournalctl_filter:\n  - ${filter}\nlabels:\n  type: syslog`,
            ]),
          ]),
        ),
      ),
  ),
};
