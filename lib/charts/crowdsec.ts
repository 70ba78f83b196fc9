/**
 * The CrowdSec agent as this program sees it: the live DaemonSet and acquisition ConfigMaps of the
 * crowdsec Helm chart (run by the CrowdSec stack), read at preview, the chart values that make
 * that agent load this program's acquisition, and the chart's rendering of values into that agent
 * (Helm's merge, acquis.yaml, the DaemonSet), which the reads invert.
 *
 * Chart facts (crowdsecurity/helm-charts charts/crowdsec, templates unchanged from 0.21.0 @ c24668e,
 * the version the owner runs, to 0.24.0 @ 84b8d10f):
 * - templates/agent-daemonSet.yaml: DaemonSet `<release>-agent`, container `crowdsec-agent`; the
 *   chart's own volumes/mounts (names in CHART_VOLUMES), then `agent.extraVolumeMounts` appended to
 *   the container's volumeMounts and `agent.extraVolumes` to the pod's volumes, both via toYaml.
 * - templates/acquis-configmap.yaml: ConfigMap `acquis-configmap`, key `acquis.yaml`, mounted at
 *   /etc/crowdsec/acquis.yaml by subPath; one document per `agent.acquisition` entry
 *   (filenames /var/log/containers/<podName>_<namespace>_*.log, force_inotify, poll_without_inotify,
 *   labels type=<container_runtime>, program), then each `agent.additionalAcquisition` verbatim.
 * The agent image loads /etc/crowdsec/acquis.yaml and every acquis.d/*.yaml|*.yml
 * (crowdsecurity/crowdsec build/docker/config.yaml `acquisition_dir`; pkg/csconfig/crowdsec_service.go).
 */
import { parseAllDocuments, stringify } from "yaml";
import { sha256Hex } from "../hash";

export const ACQUIS_DIR = "/etc/crowdsec/acquis.d";
/** The chart's ConfigMap holding `agent.acquisition` rendered (templates/acquis-configmap.yaml). */
export const CHART_ACQUIS_CONFIGMAP = "acquis-configmap";
export const CHART_ACQUIS_KEY = "acquis.yaml";

/** Volume names the chart's DaemonSet template creates itself (everything else is an extra). */
const CHART_VOLUMES = new Set([
  "acquis-config-volume",
  "crowdsec-config",
  "varlog",
  "varlibdockercontainers",
  "crowdsec-agent-config",
  "crowdsec-agent-tls",
  "crowdsec-simulation-volume",
  "crowdsec-agent-config-local-volume",
]);
const CHART_VOLUME_PREFIXES = [
  "crowdsec-parsers-",
  "crowdsec-scenarios-",
  "crowdsec-postoverflows-",
];

export function isChartVolume(name: string): boolean {
  return CHART_VOLUMES.has(name) || CHART_VOLUME_PREFIXES.some((p) => name.startsWith(p));
}

export type K8sObject = Record<string, unknown>;

/** What the program read of the agent: only mounts and volumes, never env (it may hold keys). */
export interface LiveAgent {
  daemonSet: {
    namespace: string;
    name: string;
    container: string;
    /** The agent container's volumeMounts, as read. */
    volumeMounts: K8sObject[];
    /** The pod's volumes, as read. */
    volumes: K8sObject[];
    /** Where its pods can run: the mail pod's node must be one of them. */
    scheduling: AgentScheduling;
  };
  /** The acquisition ConfigMaps read from the agent's namespace. */
  configMaps: { namespace: string; name: string; data: Record<string, string> }[];
}

/** The pod spec fields that decide which nodes run an agent pod, as read (absent ones empty). */
export interface AgentScheduling {
  tolerations: K8sObject[];
  nodeSelector: Record<string, string>;
  affinity: K8sObject;
  topologySpreadConstraints: K8sObject[];
  nodeName?: string;
  hostNetwork: boolean;
}

interface PodSpecLike {
  containers?: { name?: string; volumeMounts?: K8sObject[] }[];
  volumes?: K8sObject[];
  tolerations?: K8sObject[];
  nodeSelector?: Record<string, string>;
  affinity?: K8sObject;
  topologySpreadConstraints?: K8sObject[];
  nodeName?: string;
  hostNetwork?: boolean;
}

function schedulingOf(spec: PodSpecLike | undefined): AgentScheduling {
  return {
    tolerations: spec?.tolerations ?? [],
    nodeSelector: spec?.nodeSelector ?? {},
    affinity: spec?.affinity ?? {},
    topologySpreadConstraints: spec?.topologySpreadConstraints ?? [],
    ...(spec?.nodeName ? { nodeName: spec.nodeName } : {}),
    hostNetwork: spec?.hostNetwork === true,
  };
}

/** The part of a read DaemonSet the seam needs; throws when the container is not there. */
export function agentView(
  namespace: string,
  name: string,
  container: string,
  podSpec: PodSpecLike | undefined,
): LiveAgent["daemonSet"] {
  const c = (podSpec?.containers ?? []).find((x) => x.name === container);
  if (!c) {
    const names = (podSpec?.containers ?? []).map((x) => x.name).join(", ") || "none";
    throw new Error(
      `DaemonSet ${namespace}/${name} has no container "${container}" (containers: ${names}); fix mailserver:crowdsec.agent.container`,
    );
  }
  return {
    namespace,
    name,
    container,
    volumeMounts: c.volumeMounts ?? [],
    volumes: podSpec?.volumes ?? [],
    scheduling: schedulingOf(podSpec),
  };
}

/** `*` and `?` of a shell glob within one path segment, as CrowdSec's filepath.Glob does. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split("")
    .map((ch) =>
      ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${body}$`);
}

/** One `agent.acquisition` entry of the chart. */
export interface ChartAcquisition {
  namespace: string;
  podName: string;
  program: string;
  poll_without_inotify?: boolean;
}

const CHART_FILENAME = /^\/var\/log\/containers\/([^_]+)_([^_]+)_\*\.log$/;

/**
 * Reverses the chart's rendering of acquis.yaml: documents of the `agent.acquisition` shape become
 * entries again, anything else is an `agent.additionalAcquisition` item.
 */
export function chartAcquisitionValues(acquisYaml: string): {
  acquisition: ChartAcquisition[];
  additionalAcquisition: K8sObject[];
} {
  const acquisition: ChartAcquisition[] = [];
  const additionalAcquisition: K8sObject[] = [];
  for (const doc of parseAllDocuments(acquisYaml)) {
    const ds = doc.toJS() as K8sObject | null;
    if (!ds || typeof ds !== "object") continue;
    const files = ds.filenames;
    const labels = (ds.labels ?? {}) as Record<string, unknown>;
    const m =
      Array.isArray(files) && files.length === 1 ? CHART_FILENAME.exec(String(files[0])) : null;
    if (m && ds.source === undefined && typeof labels.program === "string") {
      acquisition.push({
        namespace: m[2],
        podName: m[1],
        program: labels.program,
        ...(ds.poll_without_inotify === true ? { poll_without_inotify: true } : {}),
      });
    } else additionalAcquisition.push(ds);
  }
  return { acquisition, additionalAcquisition };
}

/** What this program adds to the agent: one ConfigMap key, mounted as one file in acquis.d. */
export interface MailAcquisitionMount {
  configMap: string;
  key: string;
  /** Namespace and pod name prefix of the mail pods, to drop the chart's stale mail entries. */
  mailNamespace: string;
  mailPodPrefix: string;
  /** The acquisition's text: its hash restarts the agent when it changes (subPath mounts never update). */
  content: string;
}

export const MAIL_ACQUISITION_VOLUME = "mail-acquisition";

/** A pod name the Deployment's ReplicaSet would create, to test the chart's podName globs. */
function samplePod(prefix: string): string {
  return `${prefix}-5d8f7c9b6d-x7k2p`;
}

/**
 * The chart values the CrowdSec stack needs, computed from the live agent. Helm replaces lists
 * whole, so each list is complete: what the agent runs today, minus the chart acquisition entries
 * that read the mail pod's logs (they double count, or match no parser), plus this program's mount.
 */
export function agentValues(live: LiveAgent, mail: MailAcquisitionMount): K8sObject {
  const chartCm = live.configMaps.find((c) => c.name === CHART_ACQUIS_CONFIGMAP);
  const chart = chartAcquisitionValues(chartCm?.data[CHART_ACQUIS_KEY] ?? "");
  const pod = samplePod(mail.mailPodPrefix);
  const acquisition = chart.acquisition.filter(
    (a) => !(a.namespace === mail.mailNamespace && globToRegExp(a.podName).test(pod)),
  );
  const extra = (items: K8sObject[]) =>
    items
      .filter((v) => !isChartVolume(String(v.name)) && v.name !== MAIL_ACQUISITION_VOLUME)
      .map((v) => ({ name: v.name, ...v }));
  const extraVolumes = extra(live.daemonSet.volumes);
  const extraVolumeMounts = extra(live.daemonSet.volumeMounts);
  const digest = sha256Hex(mail.content);
  return {
    agent: {
      acquisition,
      ...(chart.additionalAcquisition.length > 0
        ? { additionalAcquisition: chart.additionalAcquisition }
        : {}),
      extraVolumes: [
        ...extraVolumes,
        {
          name: MAIL_ACQUISITION_VOLUME,
          configMap: { name: mail.configMap, items: [{ key: mail.key, path: mail.key }] },
        },
      ],
      // By subPath: one file among the chart's, never the whole directory (that would hide them).
      extraVolumeMounts: [
        ...extraVolumeMounts,
        {
          name: MAIL_ACQUISITION_VOLUME,
          mountPath: `${ACQUIS_DIR}/${mail.key}`,
          subPath: mail.key,
          readOnly: true,
        },
      ],
      podAnnotations: { "checksum/mail-acquisition": digest },
    },
  };
}

/** The values as the YAML the owner pastes, with what to do in a header. */
export function agentValuesYaml(values: K8sObject, live: LiveAgent): string {
  const ds = live.daemonSet;
  return [
    `# crowdsec chart values for the CrowdSec stack (agent DaemonSet ${ds.namespace}/${ds.name}).`,
    "# Merge under the chart's values: these lists replace the ones there (Helm replaces lists",
    "# whole), computed from the agent as read at preview. agent.acquisition drops the entries",
    "# for the mail pod; the mail acquisition is mounted by subPath into acquis.d.",
    stringify(values, { lineWidth: 0 }),
  ].join("\n");
}

/*
 * The chart's rendering, which `chartAcquisitionValues` and `agentView` read back: Helm's merge of
 * a values overlay, templates/acquis-configmap.yaml and templates/agent-daemonSet.yaml
 * (charts/crowdsec @ c24668e = 0.21.0, same in 0.24.0) with tls.enabled false,
 * agent.persistentVolume.config.enabled false, no config.parsers/scenarios/postoverflows/
 * simulation.yaml/agent_config.yaml.local (the owner sets none): container `crowdsec-agent` mounts crowdsec-config at /tmp_config,
 * acquis-config-volume at /etc/crowdsec/acquis.yaml (subPath acquis.yaml), varlog at /var/log if
 * agent.hostVarLog, varlibdockercontainers if container_runtime is docker, then
 * agent.extraVolumeMounts; volumes in the same order, then agent.extraVolumes;
 * agent.podAnnotations on the pod template; agent.tolerations, agent.nodeSelector and
 * agent.affinity on the pod spec when set (`with`: an empty list or map renders nothing).
 */

export type Values = Record<string, unknown>;

const isMap = (v: unknown): v is Values => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's values merge: maps merge key by key, lists and scalars of the overlay replace. */
export function mergeValues(base: Values, overlay: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    out[k] = isMap(v) && isMap(out[k]) ? mergeValues(out[k], v) : v;
  }
  return out;
}

const agentOf = (values: Values): Values => (isMap(values.agent) ? values.agent : {});
const listOf = (v: unknown): K8sObject[] => (Array.isArray(v) ? (v as K8sObject[]) : []);

/** acquis.yaml as templates/acquis-configmap.yaml renders it. */
export function renderAcquisYaml(values: Values): string {
  const agent = agentOf(values);
  const docs = listOf(agent.acquisition).map((a) => ({
    filenames: [`/var/log/containers/${String(a.podName)}_${String(a.namespace)}_*.log`],
    force_inotify: true,
    poll_without_inotify: a.poll_without_inotify === true,
    labels: { type: values.container_runtime ?? "docker", program: a.program },
  }));
  return [...docs, ...listOf(agent.additionalAcquisition)]
    .map((d) => `---\n${stringify(d)}`)
    .join("");
}

/** `{{- with .Values.x }} x: ...`: the field, unless the value is empty. */
function present(field: string, value: unknown): K8sObject {
  const empty = value == null || (typeof value === "object" && Object.keys(value).length === 0);
  return empty ? {} : { [field]: value };
}

/** The agent DaemonSet as templates/agent-daemonSet.yaml renders it (the parts the seam reads). */
export function renderAgentDaemonSet(values: Values, release = "crowdsec"): K8sObject {
  const agent = agentOf(values);
  const docker = (values.container_runtime ?? "docker") === "docker";
  const hostVarLog = agent.hostVarLog !== false;
  const volumeMounts: K8sObject[] = [
    { name: "crowdsec-config", mountPath: "/tmp_config" },
    {
      name: "acquis-config-volume",
      mountPath: "/etc/crowdsec/acquis.yaml",
      subPath: "acquis.yaml",
    },
    ...(hostVarLog ? [{ name: "varlog", mountPath: "/var/log", readOnly: true }] : []),
    ...(docker
      ? [
          {
            name: "varlibdockercontainers",
            mountPath: "/var/lib/docker/containers",
            readOnly: true,
          },
        ]
      : []),
    ...listOf(agent.extraVolumeMounts),
  ];
  const volumes: K8sObject[] = [
    { name: "acquis-config-volume", configMap: { name: "acquis-configmap" } },
    { name: "crowdsec-config", emptyDir: {} },
    ...(hostVarLog ? [{ name: "varlog", hostPath: { path: "/var/log" } }] : []),
    ...(docker
      ? [{ name: "varlibdockercontainers", hostPath: { path: "/var/lib/docker/containers" } }]
      : []),
    ...listOf(agent.extraVolumes),
  ];
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: `${release}-agent`, namespace: "crowdsec" },
    spec: {
      selector: { matchLabels: { "k8s-app": release, type: "agent" } },
      template: {
        metadata: {
          labels: { "k8s-app": release, type: "agent", version: "v1" },
          ...(isMap(agent.podAnnotations) ? { annotations: agent.podAnnotations } : {}),
        },
        spec: {
          ...present("tolerations", agent.tolerations),
          containers: [
            { name: "crowdsec-agent", image: "crowdsecurity/crowdsec:v1.7.8", volumeMounts },
          ],
          volumes,
          ...present("nodeSelector", agent.nodeSelector),
          ...present("affinity", agent.affinity),
        },
      },
    },
  };
}
