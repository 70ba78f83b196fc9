/**
 * The live CrowdSec agent for runs without a cluster: the owner's crowdsec chart values (the parts
 * that shape the agent's mounts and acquisition, from ViktorBarzin/infra
 * stacks/crowdsec/modules/crowdsec/values.yaml @ 0cdb701, chart 0.21.0, release `crowdsec` in
 * namespace `crowdsec`), rendered the way the chart's templates render them, and Helm's merge of a
 * values overlay. The mocks answer the program's `.get()` reads with these objects.
 *
 * Rendering modelled (crowdsecurity/helm-charts charts/crowdsec @ c24668e = 0.21.0, same in 0.24.0):
 * templates/agent-daemonSet.yaml with tls.enabled false, agent.persistentVolume.config.enabled
 * false, no config.parsers/scenarios/postoverflows/simulation.yaml/agent_config.yaml.local (the
 * owner sets none): container `crowdsec-agent` mounts crowdsec-config at /tmp_config,
 * acquis-config-volume at /etc/crowdsec/acquis.yaml (subPath acquis.yaml), varlog at /var/log if
 * agent.hostVarLog, varlibdockercontainers if container_runtime is docker, then
 * agent.extraVolumeMounts; volumes in the same order, then agent.extraVolumes;
 * agent.podAnnotations on the pod template. templates/acquis-configmap.yaml for acquis.yaml.
 */
import { stringify } from "yaml";
import type { CrowdSecAgentRef } from "../../components/crowdsec-acquisition";
import { agentView, type K8sObject, type LiveAgent } from "../../lib/crowdsec-agent";

export type Values = Record<string, unknown>;

/**
 * The owner's values as the API server keeps them. The owner writes `readonly: true` (lowercase)
 * on the extra mounts: not a VolumeMount field, dropped by the API server, so it is absent here.
 */
export const OWNER_VALUES: Values = {
  container_runtime: "containerd",
  agent: {
    acquisition: [
      { namespace: "traefik", podName: "traefik-*", program: "traefik" },
      { namespace: "mailserver", podName: "mailserver-*", program: "postfix" },
      { namespace: "mailserver", podName: "mailserver-*", program: "dovecot" },
    ],
    extraVolumeMounts: [
      ...["http-403-abuse", "http-429-abuse", "http-probing", "http-crawl-non_statics"].map(
        (f) => ({
          name: "custom-scenarios",
          mountPath: `/etc/crowdsec/scenarios/${f}.yaml`,
          subPath: `${f}.yaml`,
        }),
      ),
      {
        name: "whitelist",
        mountPath: "/etc/crowdsec/parsers/s02-enrich/whitelist.yaml",
        subPath: "whitelist.yaml",
      },
      {
        name: "syslog-acquisition",
        mountPath: "/etc/crowdsec/acquis.d/syslog.yaml",
        subPath: "syslog.yaml",
      },
    ],
    extraVolumes: [
      { name: "custom-scenarios", configMap: { name: "crowdsec-custom-scenarios" } },
      { name: "whitelist", configMap: { name: "crowdsec-whitelist" } },
      { name: "syslog-acquisition", configMap: { name: "crowdsec-syslog-acquisition" } },
    ],
  },
};

/** The owner's other acquisition ConfigMap (stacks/crowdsec main.tf, pfSense syslog). */
export const OWNER_CONFIGMAPS: Record<string, Record<string, string>> = {
  "crowdsec-syslog-acquisition": {
    "syslog.yaml": stringify({
      source: "syslog",
      listen_addr: "0.0.0.0",
      listen_port: 514,
      labels: { type: "pf" },
    }),
  },
};

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
          containers: [
            { name: "crowdsec-agent", image: "crowdsecurity/crowdsec:v1.7.8", volumeMounts },
          ],
          volumes,
        },
      },
    },
  };
}

/** The cluster's crowdsec objects for given chart values: answers to `.get()` by type and id. */
export function liveObjects(values: Values): Map<string, K8sObject> {
  const ds = renderAgentDaemonSet(values);
  const objects = new Map<string, K8sObject>([
    [`kubernetes:apps/v1:DaemonSet crowdsec/crowdsec-agent`, ds],
  ]);
  const configMaps: Record<string, Record<string, string>> = {
    ...OWNER_CONFIGMAPS,
    "acquis-configmap": { "acquis.yaml": renderAcquisYaml(values) },
  };
  for (const [name, data] of Object.entries(configMaps)) {
    objects.set(`kubernetes:core/v1:ConfigMap crowdsec/${name}`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "crowdsec" },
      data,
    });
  }
  return objects;
}

/** The program's view of the agent for given chart values (what `readAgent` builds from reads). */
export function liveAgentFor(values: Values, agent: CrowdSecAgentRef): LiveAgent {
  const objects = liveObjects(values);
  const ds = objects.get(`kubernetes:apps/v1:DaemonSet crowdsec/${agent.daemonSet}`);
  const spec = (ds?.spec as { template: { spec: Parameters<typeof agentView>[3] } }).template.spec;
  return {
    daemonSet: agentView("crowdsec", agent.daemonSet, agent.container, spec),
    configMaps: agent.acquisitionConfigMaps.map((name) => ({
      namespace: "crowdsec",
      name,
      data: (objects.get(`kubernetes:core/v1:ConfigMap crowdsec/${name}`)?.data ?? {}) as Record<
        string,
        string
      >,
    })),
  };
}
