/**
 * Generative families for the seam policies: the invariant holds between an object this stack
 * ships and the consumer that must read it (the live CrowdSec agent, the chart's Prometheus
 * server, the Worker serving MTA-STS, the mail pod mounting its TLS Secret). Each family varies
 * the shapes through which the consumer stops reading (mounts, volumes, namespaces, globs, keys,
 * served text) and the equivalent shapes a careless policy would refuse. A value unknown during
 * preview must turn into the policy's advisory: never a pass, never a mandatory finding.
 */
import fc from "fast-check";
import { UNKNOWN, type AnalyzerResource } from "../../tools/analyzer/client";
import { mergeValues, type Values } from "../../lib/charts/crowdsec";
import { OWNER_VALUES } from "../../tools/world/crowdsec-agent";
import {
  configMap,
  crowdsecAgent,
  dmsContainer,
  GOOD_ACQUISITION,
  mtaStsDomain,
  mtaStsId,
  mtaStsPolicy,
  mtaStsWorker,
  OBSERVED_SERVER_ANNOTATION,
  observedServer,
  record,
  RULE_FILE,
  rulesConfigMap,
  T,
  TLS_SECRET,
  tlsSecret,
  txt,
  webmailIngress,
} from "./fixtures";
import { mailPodSpec, replace, variant, workload, WORKLOAD_TYPES, type Family } from "./generative";

const D = "viktorbarzin.me";
const NS = "mailserver";
const workloadType = fc.constantFrom(...WORKLOAD_TYPES);
const stsIdArb = fc.stringMatching(/^[A-Za-z0-9]{1,32}$/);
const CS = "crowdsec";
const ACQ_CM = "crowdsec-mail-acquisition";
const ACQ_KEY = "acquis-mail.yaml";
const ACQUIS_D = "/etc/crowdsec/acquis.d";
const POD_GLOB = "/var/log/containers/mailserver-*_mailserver_docker-mailserver-*.log";

// ---------------------------------------------------------------------------------------------
// Building blocks: the live agent (chart values rendered as the chart renders them) and the
// stack's acquisition ConfigMap.

type K8s = Record<string, unknown>;
const owner = OWNER_VALUES.agent as { extraVolumes: K8s[]; extraVolumeMounts: K8s[] };
const TRAEFIK = [{ namespace: "traefik", podName: "traefik-*", program: "traefik" }];

/** The agent after the owner's mounts plus `volumes`/`mounts`, acquis.yaml from `acquisition`. */
function agentWith(
  volumes: K8s[],
  mounts: K8s[],
  acquisition: K8s[] = TRAEFIK,
  extra: Values = {},
): AnalyzerResource {
  return crowdsecAgent(
    mergeValues(OWNER_VALUES, {
      agent: {
        acquisition,
        extraVolumes: [...owner.extraVolumes, ...volumes],
        extraVolumeMounts: [...owner.extraVolumeMounts, ...mounts],
        ...extra,
      },
    }),
  );
}

const mailVolume = (items?: K8s[], cm = ACQ_CM): K8s => ({
  name: "mail-acquisition",
  configMap: { name: cm, ...(items ? { items } : {}) },
});

function mailMount(mountPath: string, subPath?: string, readOnly = true): K8s {
  return { name: "mail-acquisition", mountPath, ...(subPath ? { subPath } : {}), readOnly };
}

/** The agent mounting the stack's acquisition key `key` as the pasted values do. */
function goodAgent(key = ACQ_KEY, acquisition: K8s[] = TRAEFIK): AnalyzerResource {
  return agentWith(
    [mailVolume([{ key, path: key }])],
    [mailMount(`${ACQUIS_D}/${key}`, key)],
    acquisition,
  );
}

/** The published agent view, edited in place (namespace, the ConfigMaps read live). */
function agentView(r: AnalyzerResource): { daemonSet: K8s; configMaps: K8s[] } {
  return (r.properties as { agent: { daemonSet: K8s; configMaps: K8s[] } }).agent;
}

/** The same agent as another release in namespace `ns` (e.g. a staging CrowdSec). */
function agentIn(r: AnalyzerResource, ns: string, name = r.name): AnalyzerResource {
  const out = structuredClone(r);
  out.name = name;
  agentView(out).daemonSet.namespace = ns;
  for (const cm of agentView(out).configMaps) cm.namespace = ns;
  return out;
}

/** A datasource as YAML; `poll: null` leaves poll_without_inotify out. */
interface DocOptions {
  program?: string | null;
  type?: string | null;
  filenames?: string[];
  poll?: string | null;
  source?: string | null;
  singular?: boolean;
  pollFirst?: boolean;
}

function doc(o: DocOptions): string {
  const files = o.filenames ?? [POD_GLOB];
  const poll = o.poll === null ? [] : [`poll_without_inotify: ${o.poll ?? "true"}`];
  const labels = [
    ...(o.type === null ? [] : [`  type: ${o.type ?? "containerd"}`]),
    ...(o.program === null || o.program === undefined ? [] : [`  program: ${o.program}`]),
  ];
  return [
    ...(o.pollFirst ? poll : []),
    ...(o.source === null ? [] : [`source: ${o.source ?? "file"}`]),
    ...(o.singular ? [`filename: ${files[0]}`] : ["filenames:", ...files.map((f) => `  - ${f}`)]),
    "force_inotify: true",
    ...(o.pollFirst ? [] : poll),
    ...(labels.length ? ["labels:", ...labels] : []),
  ].join("\n");
}

const PROGRAMS = ["postfix/submission/smtpd", "postfix/postscreen", "dovecot"];
const docs = (o: DocOptions = {}) => PROGRAMS.map((program) => doc({ program, ...o }));
const acquisitionCm = (data: Record<string, string>, name = ACQ_CM, ns = CS) =>
  configMap(name, ns, data);

/** Pod-bearing kinds the mail server may run as; the kubelet names their logs differently. */
const mailKind = fc.constantFrom(
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:apps/v1:DaemonSet",
  "kubernetes:core/v1:Pod",
);

/** The stack with the mail server as a `kind` workload, `add` replacing or joining the rest. */
function withMail(kind: string, add: AnalyzerResource[], drop: string[] = []): AnalyzerResource[] {
  const mail = workload(kind, "mailserver", NS, mailPodSpec([dmsContainer()]));
  return replace(add, drop)
    .filter((r) => r.name !== "mailserver" || r.type !== T.deployment)
    .concat(mail);
}

/** Globs over the mail pod's logs, each matching it for every kind above. */
const mailGlob = fc.constantFrom(
  POD_GLOB,
  "/var/log/containers/mailserver-*_mailserver_*.log",
  "/var/log/containers/*_mailserver_docker-mailserver-*.log",
  "/var/log/containers/*.log",
);

const unknownAgent = (): AnalyzerResource => ({
  ...crowdsecAgent(),
  properties: { configMapName: ACQ_CM, agent: UNKNOWN.object },
});

// ---------------------------------------------------------------------------------------------
// crowdsec-agent-mounts-acquisition

const MOUNTS = "crowdsec-agent-mounts-acquisition";

const agentMounts: Family = {
  policy: MOUNTS,
  violating: fc
    .tuple(
      fc.constantFrom(
        "no mail mount",
        "directory mount beside the file",
        "parent directory mount beside the file",
        "directory mount instead of the file",
        "file mount outside acquis.d",
        "items map another key",
        "items without the subPath",
        "volume of another ConfigMap",
        "volume from a Secret",
        "subPath of another key",
        "no agent read",
        "agent only in another namespace",
        "second key not mounted",
        "preview",
      ),
      fc.constantFrom(ACQ_KEY, "mail.yml"),
      fc.constantFrom(ACQUIS_D, `${ACQUIS_D}/`),
      fc.constantFrom("/etc/crowdsec", "/etc/crowdsec/", "/etc", "/"),
      fc.constantFrom(
        "/etc/crowdsec/acquis-mail.yaml",
        `${ACQUIS_D}/mail/acquis-mail.yaml`,
        `${ACQUIS_D}/acquis-mail.conf`,
        "/etc/crowdsec/acquis.d.bak/acquis-mail.yaml",
      ),
    )
    .map(([how, key, dir, parent, outside]) => {
      const v = variant(MOUNTS, "violation", how === "preview" ? "advisory" : "mandatory");
      const file = mailMount(`${ACQUIS_D}/${key}`, key);
      const items = [{ key, path: key }];
      const agents: Record<string, () => AnalyzerResource[]> = {
        "no mail mount": () => [agentWith([], [])],
        "directory mount beside the file": () => [
          agentWith(
            [mailVolume(items), { ...mailVolume(), name: "mail-dir" }],
            [file, { ...mailMount(dir), name: "mail-dir" }],
          ),
        ],
        "parent directory mount beside the file": () => [
          agentWith(
            [mailVolume(items), { name: "config", emptyDir: {} }],
            [file, { name: "config", mountPath: parent }],
          ),
        ],
        "directory mount instead of the file": () => [agentWith([mailVolume()], [mailMount(dir)])],
        "file mount outside acquis.d": () => [
          agentWith([mailVolume(items)], [mailMount(outside, key)]),
        ],
        "items map another key": () => [
          agentWith([mailVolume([{ key: "other.yaml", path: key }])], [file]),
        ],
        "items without the subPath": () => [
          agentWith([mailVolume([{ key, path: "mail.yaml" }])], [file]),
        ],
        "volume of another ConfigMap": () => [
          agentWith([mailVolume(items, `${ACQ_CM}-old`)], [file]),
        ],
        "volume from a Secret": () => [
          agentWith([{ name: "mail-acquisition", secret: { secretName: ACQ_CM } }], [file]),
        ],
        "subPath of another key": () => [
          agentWith([mailVolume()], [mailMount(`${ACQUIS_D}/${key}`, "acquis.yaml")]),
        ],
        "no agent read": () => [],
        "agent only in another namespace": () => [agentIn(goodAgent(key), "crowdsec-system")],
        "second key not mounted": () => [goodAgent(key)],
        preview: () => [unknownAgent()],
      };
      const data: Record<string, string> =
        how === "second key not mounted"
          ? {
              [key]: [GOOD_ACQUISITION[0], GOOD_ACQUISITION[1]].join("\n---\n"),
              "acquis-dovecot.yaml": GOOD_ACQUISITION[2] ?? "",
            }
          : { [key]: GOOD_ACQUISITION.join("\n---\n") };
      const stack = replace([acquisitionCm(data), ...(agents[how]?.() ?? [])]).filter(
        (r) => how !== "no agent read" || r.type !== T.crowdsecComponent,
      );
      const at: Record<string, string> = {
        "directory mount beside the file": `, directory ${dir}`,
        "parent directory mount beside the file": `, directory ${parent}`,
        "directory mount instead of the file": `, directory ${dir}`,
        "file mount outside acquis.d": `, file ${outside}`,
      };
      return v(`${how}: key ${key}${at[how] ?? ""}`, stack);
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "subPath without items",
        "items path renamed",
        ".yml mountPath",
        "unrelated directory mount",
        "writable mount",
        "second agent in another namespace without the mount",
        "acquisition ConfigMap in another namespace",
        "non-YAML key beside the acquisition",
        "YAML key without datasources",
      ),
      fc.constantFrom(ACQ_KEY, "mail.yml"),
      fc.constantFrom(
        "/var/lib/crowdsec/data",
        "/etc/crowdsec/acquis.d-old",
        `${ACQUIS_D}/extra`,
        "/etc/crowdsec/notifications",
      ),
    )
    .map(([how, key, dir]) => {
      const v = variant(MOUNTS, "clean");
      const data: Record<string, string> = { [key]: GOOD_ACQUISITION.join("\n---\n") };
      const file = mailMount(`${ACQUIS_D}/${key}`, key);
      const items = [{ key, path: key }];
      const extra: AnalyzerResource[] = [];
      let agent = goodAgent(key);
      switch (how) {
        case "subPath without items":
          agent = agentWith([mailVolume()], [file]);
          break;
        case "items path renamed":
          agent = agentWith(
            [mailVolume([{ key, path: "mail.yaml" }])],
            [mailMount(`${ACQUIS_D}/mail.yaml`, "mail.yaml")],
          );
          break;
        case ".yml mountPath":
          agent = agentWith([mailVolume(items)], [mailMount(`${ACQUIS_D}/crowdsec-mail.yml`, key)]);
          break;
        case "unrelated directory mount":
          agent = agentWith(
            [mailVolume(items), { name: "scratch", emptyDir: {} }],
            [file, { name: "scratch", mountPath: dir }],
          );
          break;
        case "writable mount":
          agent = agentWith([mailVolume(items)], [mailMount(`${ACQUIS_D}/${key}`, key, false)]);
          break;
        case "second agent in another namespace without the mount":
          extra.push(agentIn(agentWith([], []), "crowdsec-staging", "crowdsec-staging"));
          break;
        case "acquisition ConfigMap in another namespace":
          extra.push(acquisitionCm(data, ACQ_CM, "crowdsec-staging"));
          break;
        case "non-YAML key beside the acquisition":
          data["README.md"] = "Mounted by the CrowdSec stack's agent; see docs/operations.md.";
          break;
        case "YAML key without datasources":
          data["notes.yaml"] = "owner: mailserver\npurpose: brute-force detection\n";
          break;
      }
      const at = how === "unrelated directory mount" ? ` at ${dir}` : "";
      return v(`${how}: key ${key}${at}`, replace([acquisitionCm(data), agent, ...extra]));
    }),
};

// ---------------------------------------------------------------------------------------------
// crowdsec-single-acquisition

const SINGLE = "crowdsec-single-acquisition";
const OWNER_MAIL = (OWNER_VALUES.agent as { acquisition: K8s[] }).acquisition.filter(
  (a) => a.namespace === NS,
);

/** The agent mounting the stack's key plus `name`'s key `file` at acquis.d/`file`. */
function agentAlso(volume: K8s, file: string, read?: Record<string, string>): AnalyzerResource {
  const agent = agentWith(
    [mailVolume([{ key: ACQ_KEY, path: ACQ_KEY }]), volume],
    [
      mailMount(`${ACQUIS_D}/${ACQ_KEY}`, ACQ_KEY),
      { name: volume.name, mountPath: `${ACQUIS_D}/${file}`, subPath: file },
    ],
  );
  const cm = (volume.configMap as { name?: string } | undefined)?.name;
  if (read && cm) agentView(agent).configMaps.push({ namespace: CS, name: cm, data: read });
  return agent;
}

const singleAcquisition: Family = {
  policy: SINGLE,
  violating: fc
    .tuple(
      fc.constantFrom(
        "owner's mail entries kept",
        "additionalAcquisition over the pod logs",
        "second key of the stack mounted",
        "ConfigMap neither created nor read",
        "Secret file in acquis.d",
        "read ConfigMap over the pod logs",
        "parser fed twice in one file",
        "syslog datasource beside the pod logs",
        "preview",
      ),
      mailKind,
      mailGlob,
      fc.subarray(OWNER_MAIL, { minLength: 1 }),
    )
    .map(([how, kind, glob, kept]) => {
      const v = variant(SINGLE, "violation", how === "preview" ? "advisory" : "mandatory");
      const data: Record<string, string> = { [ACQ_KEY]: GOOD_ACQUISITION.join("\n---\n") };
      const dovecot = doc({ program: "dovecot", filenames: [glob] });
      let agent = goodAgent();
      switch (how) {
        case "owner's mail entries kept":
          agent = goodAgent(ACQ_KEY, [...TRAEFIK, ...kept]);
          break;
        case "additionalAcquisition over the pod logs":
          agent = agentWith(
            [mailVolume([{ key: ACQ_KEY, path: ACQ_KEY }])],
            [mailMount(`${ACQUIS_D}/${ACQ_KEY}`, ACQ_KEY)],
            TRAEFIK,
            {
              additionalAcquisition: [
                {
                  source: "file",
                  filenames: [glob],
                  poll_without_inotify: true,
                  labels: { type: "containerd", program: "dovecot" },
                },
              ],
            },
          );
          break;
        case "second key of the stack mounted":
          data["acquis-dovecot.yaml"] = dovecot;
          agent = agentWith(
            [mailVolume()],
            ["acquis-mail.yaml", "acquis-dovecot.yaml"].map((f) =>
              mailMount(`${ACQUIS_D}/${f}`, f),
            ),
          );
          break;
        case "ConfigMap neither created nor read":
          agent = agentAlso({ name: "extra", configMap: { name: "crowdsec-extra" } }, "extra.yaml");
          break;
        case "Secret file in acquis.d":
          agent = agentAlso(
            { name: "extra", secret: { secretName: "crowdsec-extra" } },
            "extra.yaml",
          );
          break;
        case "read ConfigMap over the pod logs":
          agent = agentAlso(
            { name: "legacy", configMap: { name: "crowdsec-legacy-mail" } },
            "legacy.yaml",
            { "legacy.yaml": dovecot },
          );
          break;
        case "parser fed twice in one file":
          data[ACQ_KEY] = [...GOOD_ACQUISITION, dovecot].join("\n---\n");
          break;
        case "syslog datasource beside the pod logs":
          data[ACQ_KEY] = [
            ...GOOD_ACQUISITION,
            doc({ type: "syslog", filenames: ["/var/log/mail/mail.log"] }),
          ].join("\n---\n");
          break;
        case "preview":
          agent = unknownAgent();
          break;
      }
      const detail: Record<string, string> = {
        "owner's mail entries kept": kept.map((k) => String(k.program)).join(", "),
        "additionalAcquisition over the pod logs": glob,
        "second key of the stack mounted": glob,
        "read ConfigMap over the pod logs": glob,
        "parser fed twice in one file": glob,
      };
      return v(
        `${how}: ${detail[how] ?? ""} (mail server a ${kind.split(":")[2]})`,
        withMail(kind, [acquisitionCm(data), agent]),
      );
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "the pasted values",
        "acquis.yaml entry for a pod in another namespace",
        "acquis.yaml entry for another pod",
        "read ConfigMap not about mail",
        "unknown ConfigMap outside acquis.d",
        "DMS syslog file only",
        "second agent in another namespace with the owner's entries",
      ),
      mailKind,
      mailGlob,
    )
    .map(([how, kind, glob]) => {
      const v = variant(SINGLE, "clean");
      const data: Record<string, string> = {
        [ACQ_KEY]: docs({ filenames: [glob] }).join("\n---\n"),
      };
      const extra: AnalyzerResource[] = [];
      let agent = goodAgent();
      switch (how) {
        case "acquis.yaml entry for a pod in another namespace":
          agent = goodAgent(ACQ_KEY, [
            ...TRAEFIK,
            { namespace: "mailserver-staging", podName: "mailserver-*", program: "dovecot" },
          ]);
          break;
        case "acquis.yaml entry for another pod":
          agent = goodAgent(ACQ_KEY, [
            ...TRAEFIK,
            { namespace: NS, podName: "roundcubemail-*", program: "roundcube" },
          ]);
          break;
        case "read ConfigMap not about mail":
          agent = agentAlso(
            { name: "nginx", configMap: { name: "crowdsec-nginx" } },
            "nginx.yaml",
            {
              "nginx.yaml": doc({
                program: "nginx",
                filenames: ["/var/log/containers/nginx-*.log"],
              }),
            },
          );
          break;
        case "unknown ConfigMap outside acquis.d":
          agent = agentWith(
            [
              mailVolume([{ key: ACQ_KEY, path: ACQ_KEY }]),
              { name: "notify", configMap: { name: "crowdsec-notifications" } },
            ],
            [
              mailMount(`${ACQUIS_D}/${ACQ_KEY}`, ACQ_KEY),
              {
                name: "notify",
                mountPath: "/etc/crowdsec/notifications/http.yaml",
                subPath: "http.yaml",
              },
            ],
          );
          break;
        case "DMS syslog file only":
          data[ACQ_KEY] = doc({ type: "syslog", filenames: ["/var/log/mail/mail.log"] });
          break;
        case "second agent in another namespace with the owner's entries":
          extra.push(agentIn(crowdsecAgent(OWNER_VALUES), "crowdsec-staging", "crowdsec-staging"));
          break;
      }
      return v(
        `${how}: ${glob} (mail server a ${kind.split(":")[2]})`,
        withMail(kind, [acquisitionCm(data), agent, ...extra]),
      );
    }),
};

// ---------------------------------------------------------------------------------------------
// crowdsec-acquisition-polls

const POLLS = "crowdsec-acquisition-polls";

/** YAML 1.2 core-schema spellings: true|True|TRUE are true; false|False, null and ~ are not. */
const acquisitionPolls: Family = {
  policy: POLLS,
  violating: fc
    .tuple(
      fc.constantFrom("missing", "false", "False", "null", "~"),
      fc.constantFrom(...PROGRAMS),
      fc.constantFrom(
        "in the stack's acquisition",
        "with filename spelling",
        "without a source line",
        "in a second ConfigMap of the namespace",
        "preview",
      ),
    )
    .map(([poll, program, where]) => {
      const v = variant(POLLS, "violation", where === "preview" ? "advisory" : "mandatory");
      const off: DocOptions = { poll: poll === "missing" ? null : poll };
      const spelled: Record<string, DocOptions> = {
        "with filename spelling": { singular: true },
        "without a source line": { source: null },
      };
      const texts = PROGRAMS.map((p) =>
        doc(p === program ? { program: p, ...off, ...spelled[where] } : { program: p }),
      );
      const cm =
        where === "in a second ConfigMap of the namespace"
          ? acquisitionCm({ "old.yaml": doc({ program, ...off }) }, "crowdsec-old-acquisition")
          : acquisitionCm({ [ACQ_KEY]: texts.join("\n---\n") });
      if (where === "preview") cm.properties.data = UNKNOWN.object;
      return v(`${where}: ${program}, poll_without_inotify ${poll}`, replace([cm]));
    }),
  legit: fc
    .tuple(
      fc.constantFrom("true", "True", "TRUE"),
      fc.constantFrom(
        "spelling",
        "poll before source",
        "non-file datasource without poll",
        "ConfigMap in another namespace without poll",
        "non-YAML key without poll",
      ),
    )
    .map(([poll, how]) => {
      const v = variant(POLLS, "clean");
      const texts = docs({ poll, pollFirst: how === "poll before source" });
      const data: Record<string, string> = { [ACQ_KEY]: texts.join("\n---\n") };
      const extra: AnalyzerResource[] = [];
      if (how === "non-file datasource without poll")
        data[ACQ_KEY] = [
          ...texts,
          "source: journalctl\njournalctl_filter:\n  - _SYSTEMD_UNIT=ssh.service\nlabels:\n  type: syslog",
        ].join("\n---\n");
      if (how === "ConfigMap in another namespace without poll")
        extra.push(
          acquisitionCm(
            { [ACQ_KEY]: docs({ poll: null }).join("\n---\n") },
            ACQ_CM,
            "crowdsec-staging",
          ),
        );
      if (how === "non-YAML key without poll")
        data["acquis-mail.yaml.orig"] = docs({ poll: null }).join("\n---\n");
      return v(`${how}: poll_without_inotify ${poll}`, replace([acquisitionCm(data), ...extra]));
    }),
};

// ---------------------------------------------------------------------------------------------
// crowdsec-covers-mail

const COVERS = "crowdsec-covers-mail";

const coversMail: Family = {
  policy: COVERS,
  violating: fc
    .tuple(
      fc.constantFrom(
        "single program label",
        "dovecot missing",
        "postfix missing",
        "syslog type on the pod logs",
        "no type label",
        "glob of another namespace",
        "glob of another container",
        "acquisition outside the crowdsec namespace",
        "non-YAML key",
        "journalctl source",
        "preview",
      ),
      mailKind,
      fc.constantFrom("postfix", "postfix/smtp", "smtpd", "Dovecot", "postfix/smtpd/"),
    )
    .map(([how, kind, program]) => {
      const v = variant(COVERS, "violation", how === "preview" ? "advisory" : "mandatory");
      let key = ACQ_KEY;
      let ns = CS;
      let texts = docs();
      switch (how) {
        case "single program label":
          texts = [doc({ program })];
          break;
        case "dovecot missing":
          texts = texts.slice(0, 2);
          break;
        case "postfix missing":
          texts = [doc({ program: "dovecot" }), doc({ program: "postfix/postscreen" })];
          break;
        case "syslog type on the pod logs":
          texts = docs({ type: "syslog" });
          break;
        case "no type label":
          texts = docs({ type: null });
          break;
        case "glob of another namespace":
          texts = docs({ filenames: ["/var/log/containers/mailserver-*_mail_*.log"] });
          break;
        case "glob of another container":
          texts = docs({
            filenames: ["/var/log/containers/mailserver-*_mailserver_roundcube-*.log"],
          });
          break;
        case "acquisition outside the crowdsec namespace":
          ns = NS;
          break;
        case "non-YAML key":
          key = "acquis-mail.conf";
          break;
        case "journalctl source":
          texts = PROGRAMS.map(
            (p) =>
              `source: journalctl\njournalctl_filter:\n  - _COMM=${p}\nlabels:\n  type: syslog`,
          );
          break;
      }
      const cm = acquisitionCm({ [key]: texts.join("\n---\n") }, ACQ_CM, ns);
      if (how === "preview") cm.properties.data = UNKNOWN.object;
      const detail = how === "single program label" ? program : "";
      return v(`${how}: ${detail} (mail server a ${kind.split(":")[2]})`, withMail(kind, [cm]));
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "the program's acquisition",
        "DMS syslog file",
        "glob spelling",
        "another submission service",
        "filename spelling",
        "another namespace's acquisition beside it",
      ),
      mailKind,
      mailGlob,
    )
    .map(([how, kind, glob]) => {
      const v = variant(COVERS, "clean");
      let texts = docs();
      const extra: AnalyzerResource[] = [];
      switch (how) {
        case "DMS syslog file":
          texts = [doc({ type: "syslog", filenames: ["/var/log/mail/mail.log"] })];
          break;
        case "glob spelling":
          texts = docs({ filenames: [glob] });
          break;
        case "another submission service":
          texts = [doc({ program: "postfix/smtps/smtpd" }), doc({ program: "dovecot" })];
          break;
        case "filename spelling":
          texts = docs({ singular: true, filenames: [glob] });
          break;
        case "another namespace's acquisition beside it":
          extra.push(
            acquisitionCm({ [ACQ_KEY]: doc({ program: "postfix" }) }, ACQ_CM, "monitoring"),
          );
          break;
      }
      const detail = how === "glob spelling" || how === "filename spelling" ? glob : "";
      return v(
        `${how}: ${detail} (mail server a ${kind.split(":")[2]})`,
        withMail(kind, [acquisitionCm({ [ACQ_KEY]: texts.join("\n---\n") }), ...extra]),
      );
    }),
};

// ---------------------------------------------------------------------------------------------
// tls-secret-owned

const TLS = "tls-secret-owned";
// Not `tls-secret`: the cluster provides that one (tls-secret-owned's clusterSecrets).
const FOREIGN = fc.constantFrom(
  "letsencrypt-mail",
  "mailserver-tls-old",
  "wildcard-viktorbarzin-me",
);

/** A pinned helper workload of `kind` in `ns` with the given pod volumes. */
function withVolumes(kind: string, ns: string, volumes: K8s[]): AnalyzerResource {
  return workload(kind, "mail-tls-check", ns, {
    containers: [
      {
        name: "check",
        image: "docker.io/library/busybox:1.37.0",
        volumeMounts: volumes.map((vol) => ({
          name: vol.name,
          mountPath: `/mnt/${String(vol.name)}`,
        })),
      },
    ],
    volumes,
  });
}

const secretVolume = (secretName: string): K8s => ({ name: "tls", secret: { secretName } });
const projected = (name: string): K8s => ({
  name: "tls",
  projected: {
    sources: [{ configMap: { name: "mail-ca" } }, { secret: { name } }],
  },
});

/** The stack's TLS Secret as a resource, its metadata edited. */
function stackSecret(edit: K8s = {}, type = "kubernetes.io/tls"): AnalyzerResource {
  const s = tlsSecret(TLS_SECRET, type);
  const props = s.properties as { metadata: K8s };
  props.metadata = { ...props.metadata, ...edit };
  return s;
}

const tlsOwned: Family = {
  policy: TLS,
  violating: fc
    .tuple(
      fc.constantFrom(
        "foreign Secret volume",
        "foreign projected Secret",
        "Ingress of a foreign Secret",
        "Ingress second tls entry foreign",
        "Ingress of an Opaque Secret of the stack",
        "stack Secret only in another namespace",
        "stack Secret under another metadata.name",
        "preview",
      ),
      workloadType,
      FOREIGN,
    )
    .map(([how, kind, foreign]) => {
      const v = variant(TLS, "violation", how === "preview" ? "advisory" : "mandatory");
      const ingress = webmailIngress();
      const tls = (ingress.properties.spec as { tls: K8s[] }).tls;
      const add: AnalyzerResource[] = [];
      switch (how) {
        case "foreign Secret volume":
          add.push(withVolumes(kind, NS, [secretVolume(foreign)]));
          break;
        case "foreign projected Secret":
          add.push(withVolumes(kind, NS, [projected(foreign)]));
          break;
        case "Ingress of a foreign Secret":
          add.push(webmailIngress(foreign));
          break;
        case "Ingress second tls entry foreign":
          tls.push({ hosts: [`webmail.${D}`], secretName: foreign });
          add.push(ingress);
          break;
        case "Ingress of an Opaque Secret of the stack":
          add.push(stackSecret({}, "Opaque"));
          break;
        case "stack Secret only in another namespace":
          add.push(stackSecret({ namespace: "cert-manager" }));
          break;
        case "stack Secret under another metadata.name":
          add.push(stackSecret({ name: `${TLS_SECRET}-2026` }));
          break;
        case "preview":
          add.push(webmailIngress(UNKNOWN.string));
          break;
      }
      const detail = how.startsWith("foreign") ? ` in a ${kind.split(":")[2]}` : "";
      return v(`${how}: ${foreign}${detail}`, replace(add));
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "stack Secret volume",
        "stack Secret projected",
        "foreign Secret in another namespace",
        "Ingress in another namespace with a foreign Secret",
        "Ingress tls entry without secretName",
        "Opaque Secret of the stack mounted",
        "ConfigMap volume from outside the stack",
      ),
      workloadType,
      FOREIGN,
    )
    .map(([how, kind, foreign]) => {
      const v = variant(TLS, "clean");
      const add: AnalyzerResource[] = [];
      switch (how) {
        case "stack Secret volume":
          add.push(withVolumes(kind, NS, [secretVolume(TLS_SECRET)]));
          break;
        case "stack Secret projected":
          add.push(withVolumes(kind, NS, [projected(TLS_SECRET)]));
          break;
        case "foreign Secret in another namespace":
          add.push(withVolumes(kind, "monitoring", [secretVolume(foreign)]));
          break;
        case "Ingress in another namespace with a foreign Secret": {
          const ing = webmailIngress(foreign);
          ing.name = "grafana";
          (ing.properties.metadata as K8s).namespace = "monitoring";
          add.push(ing);
          break;
        }
        case "Ingress tls entry without secretName": {
          const ing = webmailIngress();
          (ing.properties.spec as { tls: K8s[] }).tls.push({ hosts: [`webmail.${D}`] });
          add.push(ing);
          break;
        }
        case "Opaque Secret of the stack mounted":
          add.push(
            withVolumes(kind, NS, [secretVolume("roundcubemail-db")]),
            tlsSecret("roundcubemail-db", "Opaque"),
          );
          break;
        case "ConfigMap volume from outside the stack":
          add.push(withVolumes(kind, NS, [{ name: "ca", configMap: { name: foreign } }]));
          break;
      }
      return v(`${how}: ${foreign} in a ${kind.split(":")[2]}`, replace(add));
    }),
};

// ---------------------------------------------------------------------------------------------
// mta-sts-served

const SERVED = "mta-sts-served";
const LF_POLICY = mtaStsPolicy().replace(/\r\n/g, "\n");

/** The stack serving `policy` with the TXT id `id` (by default the policy's own). */
function serving(policy: string, id = mtaStsId(policy), add: AnalyzerResource[] = []) {
  return replace([
    txt("mta-sts", `_mta-sts.${D}`, `v=STSv1; id=${id}`),
    mtaStsWorker(policy),
    ...add,
  ]);
}

function bindingEdit(edit: K8s): AnalyzerResource {
  const w = mtaStsWorker();
  const b = (w.properties.bindings as K8s[])[0] ?? {};
  Object.assign(b, edit);
  return w;
}

const mtaStsServed: Family = {
  policy: SERVED,
  violating: fc
    .tuple(
      fc.constantFrom(
        "stale id",
        "served text changed",
        "LF served under the CRLF id",
        "MX host not covered",
        "MX host below a wildcard's one label",
        "invalid served policy",
        "no Worker",
        "custom domain for another host",
        "custom domain for another script",
        "binding renamed",
        "binding of another type",
        "preview",
      ),
      stsIdArb,
      fc.constantFrom("mode: testing", "max_age: 86400", "mx: *.viktorbarzin.me"),
    )
    .map(([how, id, edit]) => {
      const v = variant(SERVED, "violation", how === "preview" ? "advisory" : "mandatory");
      const policy = mtaStsPolicy();
      const [key] = edit.split(":");
      const changed = policy
        .split("\r\n")
        .map((l) => (l.startsWith(`${key}:`) ? edit : l))
        .join("\r\n");
      const mx = (name: string, content: string) =>
        record(name, { name: D, type: "MX", content, priority: 10 });
      const stacks: Record<string, () => AnalyzerResource[]> = {
        "stale id": () => serving(policy, id === mtaStsId(policy) ? "0" : id),
        "served text changed": () =>
          replace([mtaStsWorker(changed === policy ? `${policy}\r\n` : changed)]),
        "LF served under the CRLF id": () => serving(LF_POLICY, mtaStsId(policy)),
        "MX host not covered": () => serving(policy, undefined, [mx("mx2", `mx2.${D}`)]),
        "MX host below a wildcard's one label": () =>
          serving(mtaStsPolicy([`*.${D}`]), undefined, [mx("mx", `mail.eu.${D}`)]),
        "invalid served policy": () => serving(policy.replace("version: STSv1\r\n", "")),
        "no Worker": () => replace([], ["mta-sts-worker", "mta-sts-domain"]),
        "custom domain for another host": () => replace([mtaStsDomain(undefined, `mtasts.${D}`)]),
        "custom domain for another script": () => replace([mtaStsDomain("mta-sts-old")]),
        "binding renamed": () => replace([bindingEdit({ name: "POLICY" })]),
        "binding of another type": () => replace([bindingEdit({ type: "secret_text" })]),
        preview: () => replace([mtaStsWorker(UNKNOWN.string)]),
      };
      const detail: Record<string, string> = { "stale id": id, "served text changed": edit };
      return v(`${how}: ${detail[how] ?? ""}`, stacks[how]?.() ?? []);
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "LF line endings with their id",
        "wildcard mx",
        "mode testing with its id",
        "upper-case mx line",
        "upper-case custom domain hostname",
        "WorkerScript token",
        "extra bindings",
        "MX content spelling",
        "TXT as a legacy Record",
        "unbound Worker with another text",
      ),
      fc.constantFrom(`mail.${D}.`, `MAIL.${D.toUpperCase()}`, `Mail.${D}`),
    )
    .map(([how, spelling]) => {
      const v = variant(SERVED, "clean");
      const policy = mtaStsPolicy();
      const stacks: Record<string, () => AnalyzerResource[]> = {
        "LF line endings with their id": () => serving(LF_POLICY),
        "wildcard mx": () => serving(mtaStsPolicy([`*.${D}`])),
        "mode testing with its id": () => serving(policy.replace("mode: enforce", "mode: testing")),
        "upper-case mx line": () => serving(mtaStsPolicy([`MAIL.${D.toUpperCase()}`])),
        "upper-case custom domain hostname": () =>
          replace([mtaStsDomain(undefined, `MTA-STS.${D.toUpperCase()}`)]),
        "WorkerScript token": () =>
          replace([], ["mta-sts-worker"]).concat({
            ...mtaStsWorker(),
            type: "cloudflare:index/workerScript:WorkerScript",
          }),
        "extra bindings": () => {
          const w = mtaStsWorker();
          (w.properties.bindings as K8s[]).unshift(
            { type: "plain_text", name: "TLSRPT_RUA", text: `mailto:postmaster@${D}` },
            { type: "secret_text", name: "MTA_STS_POLICY_OLD", text: "version: STSv1" },
          );
          return replace([w]);
        },
        "MX content spelling": () =>
          replace([record("mx", { name: D, type: "MX", content: spelling, priority: 1 })]),
        "TXT as a legacy Record": () =>
          replace(
            [
              record(
                "mta-sts",
                { name: `_mta-sts.${D}`, type: "TXT", content: `v=STSv1; id=${mtaStsId(policy)}` },
                T.legacyRecord,
              ),
            ],
            ["mta-sts"],
          ),
        "unbound Worker with another text": () => {
          const w = mtaStsWorker("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n");
          w.name = "mta-sts-staging";
          (w.properties as K8s).scriptName = "mta-sts-staging";
          return replace([w]);
        },
      };
      const detail = how === "MX content spelling" ? spelling : "";
      return v(`${how}: ${detail}`, stacks[how]?.() ?? []);
    }),
};

// ---------------------------------------------------------------------------------------------
// prometheus-reads-monitoring

const PROM = "prometheus-reads-monitoring";
const RULES_CM = "mailserver-prometheus-rules";

/** The rules ConfigMap with `data`, namespace `ns` and the record `observed` (raw text). */
function rules(observed: string | null, data: K8s = {}, ns = "monitoring"): AnalyzerResource {
  const cm = rulesConfigMap(null);
  const props = cm.properties as { metadata: K8s; data: K8s };
  props.metadata.namespace = ns;
  if (observed !== null) props.metadata.annotations = { [OBSERVED_SERVER_ANNOTATION]: observed };
  props.data = { ...props.data, ...data };
  return cm;
}
const record$ = (edit: K8s = {}) => JSON.stringify(observedServer(edit));

/** The mail server as a `kind` workload with scrape annotations on its pod template. */
function scraped(kind: string, annotations: K8s, ports: K8s[]): AnalyzerResource {
  const dms = dmsContainer({ ports });
  const r = workload(kind, "mailserver", NS, mailPodSpec([dms]));
  const props = r.properties as K8s;
  const k = kind.split(":")[2];
  const template =
    k === "Pod"
      ? props
      : k === "CronJob"
        ? (props.spec as { jobTemplate: { spec: { template: K8s } } }).jobTemplate.spec.template
        : (props.spec as { template: K8s }).template;
  template.metadata = { ...(template.metadata as K8s), annotations };
  return r;
}

const DECLARED = [
  ...[25, 465, 587, 993].map((p) => ({ containerPort: p })),
  { containerPort: 9900, name: "dovecot-metrics" },
];

const prometheusReads: Family = {
  policy: PROM,
  violating: fc
    .tuple(
      fc.constantFrom(
        "no record",
        "unreadable record",
        "record of another ConfigMap",
        "record of a server in another namespace",
        "ConfigMap in another namespace than its server",
        "not mounted",
        "rule_files miss the key",
        "not watched",
        "rule file key renamed",
        "Operator kind",
        "scrape port not declared",
        "Helm-labelled stack ConfigMap",
        "scrape without a port annotation",
        "loaded key that is no rule file",
        "glob matching the volume's own directories",
        "preview",
      ),
      fc.constantFrom(
        ["/etc/config/alerting_rules.yml"],
        ["/etc/mailserver-rules/*.yaml"],
        ["/etc/mailserver-rules/*/*.yml"],
        ["/etc/mailserver/*.yml"],
      ),
      fc.constantFrom("PrometheusRule", "PodMonitor", "ServiceMonitor", "Probe"),
      fc.constantFrom<string | number>("9901", 9154, "dovecot-metrics", "25 "),
      workloadType,
    )
    .map(([how, ruleFiles, kind, port, type]) => {
      const v = variant(PROM, "violation", how === "preview" ? "advisory" : "mandatory");
      const stacks: Record<string, () => AnalyzerResource[]> = {
        "no record": () => replace([rules(null)]),
        "unreadable record": () => replace([rules(record$().slice(0, -1))]),
        "record of another ConfigMap": () =>
          replace([rules(record$({ configMap: "prometheus-server" }))]),
        "record of a server in another namespace": () =>
          replace([rules(record$({ server: "default/prometheus-server" }))]),
        "ConfigMap in another namespace than its server": () =>
          replace([rules(record$(), {}, NS)], [RULES_CM]),
        "not mounted": () => replace([rules(record$({ mounts: [] }))]),
        "rule_files miss the key": () => replace([rules(record$({ ruleFiles }))]),
        "not watched": () => replace([rules(record$({ watched: [] }))]),
        "rule file key renamed": () =>
          replace([
            {
              ...rules(record$()),
              properties: {
                ...rules(record$()).properties,
                data: { "mailserver.rules.yaml": RULE_FILE },
              },
            },
          ]),
        "Operator kind": () =>
          replace([
            {
              type: `kubernetes:monitoring.coreos.com/v1:${kind}`,
              name: "mailserver",
              properties: { metadata: { name: "mailserver", namespace: NS }, spec: {} },
            },
          ]),
        "scrape port not declared": () =>
          replace([])
            .filter((r) => r.name !== "mailserver" || r.type !== T.deployment)
            .concat(
              scraped(
                type,
                {
                  "prometheus.io/scrape": "true",
                  "prometheus.io/port": port,
                  "prometheus.io/path": "/metrics",
                },
                DECLARED,
              ),
            ),
        "Helm-labelled stack ConfigMap": () => {
          const cm = rules(null, { "alerting_rules.yml": RULE_FILE });
          const meta = cm.properties.metadata as K8s;
          meta.labels = { "app.kubernetes.io/managed-by": "Helm" };
          return replace([cm]);
        },
        // Prometheus then scrapes 25, 465, 587, 993 and 9900 (one target per container port).
        "scrape without a port annotation": () =>
          replace([])
            .filter((r) => r.name !== "mailserver" || r.type !== T.deployment)
            .concat(scraped(type, { "prometheus.io/scrape": "true" }, DECLARED)),
        // promtool check rules refuses it (tests/policy/prometheus-rules.test.ts).
        "loaded key that is no rule file": () =>
          replace([rules(record$(), { "extra.yml": "groups:\n  - name: mail\n    rules: [\n" })]),
        // Go's * matches the kubelet's ..data and timestamped directories; promtool then fails
        // "is a directory" (tests/policy/prometheus-rules.test.ts).
        "glob matching the volume's own directories": () =>
          replace([
            rules(record$({ ruleFiles: ["/etc/config/rules", "/etc/mailserver-rules/*"] })),
          ]),
        preview: () => replace([rules(UNKNOWN.string)]),
      };
      const detail: Record<string, string> = {
        "rule_files miss the key": ruleFiles.join(", "),
        "Operator kind": kind,
        "scrape port not declared": `${JSON.stringify(port)} in a ${type.split(":")[2]}`,
        "scrape without a port annotation": `in a ${type.split(":")[2]}`,
      };
      return v(`${how}: ${detail[how] ?? ""}`, stacks[how]?.() ?? []);
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "rule_files spelling",
        "second mount",
        "rule file under a key without .yml",
        "YAML that is no rule file",
        "scrape port as a number",
        "scrape off with an undeclared port",
        "scrape without a port annotation, one declared port",
      ),
      fc.constantFrom(
        "/etc/mailserver-rules/*.yml",
        "/etc/mailserver-rules/mail*",
        "/etc/mailserver-rules/mailserver.rules.yml",
        "/etc/mailserver-rules/[m]*.yml",
        "/etc/mailserver-rules/*.rules.yml",
      ),
      workloadType,
    )
    .map(([how, glob, type]) => {
      const v = variant(PROM, "clean");
      const mail = (annotations: K8s) =>
        replace([])
          .filter((r) => r.name !== "mailserver" || r.type !== T.deployment)
          .concat(scraped(type, annotations, DECLARED));
      const stacks: Record<string, () => AnalyzerResource[]> = {
        "rule_files spelling": () =>
          replace([rules(record$({ ruleFiles: ["/etc/config/rules", glob] }))]),
        "second mount": () =>
          replace([
            rules(
              record$({
                mounts: ["/etc/extra-rules", "/etc/mailserver-rules"],
                ruleFiles: [glob],
              }),
            ),
          ]),
        "rule file under a key without .yml": () =>
          replace([
            {
              ...rules(
                record$({ ruleFiles: ["/etc/config/rules", "/etc/mailserver-rules/*.rules"] }),
              ),
              properties: {
                ...rules(
                  record$({ ruleFiles: ["/etc/config/rules", "/etc/mailserver-rules/*.rules"] }),
                ).properties,
                data: { "mailserver.rules": RULE_FILE },
              },
            },
          ]),
        "YAML that is no rule file": () => {
          const cm = configMap("mailserver-dashboards", "monitoring", {
            "dashboard.yaml": "title: Mail\npanels:\n  - dovecot_auth_failures_total\n",
          });
          return replace([cm]);
        },
        "scrape port as a number": () =>
          mail({ "prometheus.io/scrape": "true", "prometheus.io/port": 9900 }),
        "scrape off with an undeclared port": () =>
          mail({ "prometheus.io/scrape": "false", "prometheus.io/port": "9901" }),
        "scrape without a port annotation, one declared port": () =>
          replace([])
            .filter((r) => r.name !== "mailserver" || r.type !== T.deployment)
            .concat(
              scraped(type, { "prometheus.io/scrape": "true" }, [
                { containerPort: 9900, name: "dovecot-metrics" },
              ]),
            ),
      };
      const detail = ["rule_files spelling", "second mount"].includes(how)
        ? glob
        : `in a ${type.split(":")[2]}`;
      return v(`${how}: ${detail}`, stacks[how]?.() ?? []);
    }),
};

export const SEAM_FAMILIES: Family[] = [
  agentMounts,
  singleAcquisition,
  acquisitionPolls,
  coversMail,
  tlsOwned,
  mtaStsServed,
  prometheusReads,
];
