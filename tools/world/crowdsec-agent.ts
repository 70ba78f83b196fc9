/**
 * The live CrowdSec agent for runs without a cluster: the owner's crowdsec chart values (the parts
 * that shape the agent's mounts and acquisition, from ViktorBarzin/infra
 * stacks/crowdsec/modules/crowdsec/values.yaml @ 0cdb701, chart 0.21.0, release `crowdsec` in
 * namespace `crowdsec`), rendered the way the chart's templates render them
 * (lib/charts/crowdsec.ts). The mocks answer the program's `.get()` reads with these objects.
 */
import { stringify } from "yaml";
import type { CrowdSecAgentRef } from "../../components/crowdsec-acquisition";
import {
  agentView,
  renderAcquisYaml,
  renderAgentDaemonSet,
  type K8sObject,
  type LiveAgent,
  type Values,
} from "../../lib/charts/crowdsec";

/**
 * The owner's values as the API server keeps them. The owner writes `readonly: true` (lowercase)
 * on the extra mounts: not a VolumeMount field, dropped by the API server, so it is absent here.
 */
export const OWNER_VALUES: Values = {
  container_runtime: "containerd",
  agent: {
    // values.yaml 13-19 @ 0cd4afb6: the agent keeps a pod on the GPU node (nvidia.com/gpu taint).
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
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
