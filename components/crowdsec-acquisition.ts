/**
 * What CrowdSec reads from the mail pod. The CrowdSec agent (DaemonSet, LAPI, bouncers) belongs to
 * the CrowdSec stack; this component owns only the acquisition and the list of collections.
 *
 * Contract with the CrowdSec stack:
 * - mount the ConfigMap `crowdsec-mail-acquisition` (namespace `crowdsec`) into the agent's
 *   `/etc/crowdsec/acquis.d/` (only the `acquis-mail.yaml` key: `crowdsecAgentValues` does this);
 * - install the collections in the ConfigMap's `collections` key (the agent image's COLLECTIONS);
 * - mount the node's `/var/log` (chart default `agent.hostVarLog: true`).
 *
 * The crux is the `program` label. Pod logs are read as CRI or docker lines; the cri-logs /
 * docker-logs parsers take the program from the datasource label and never look inside the syslog
 * line. The hub parsers filter on that program: postfix-logs wants one ending in `/smtpd`,
 * postscreen-logs wants `postfix/postscreen`, dovecot-logs wants `dovecot`. One `program: postfix`
 * label matches none of them, and brute force goes unnoticed without an error. So the same log file
 * is declared once per parser family; each parser ignores the other families' lines.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";

export type ContainerRuntime = "containerd" | "docker";

export interface CrowdSecAcquisitionArgs {
  /** Namespace of the CrowdSec agent, where the ConfigMap must live to be mounted. */
  namespace: string;
  /** Namespace of the mail pod. */
  mailNamespace: string;
  /** Deployment name: its pods are named `<podPrefix>-<hash>-<hash>`. */
  podPrefix: string;
  /** docker-mailserver's container in the pod (not the exporter sidecar). */
  containerName: string;
  /** Node container runtime: selects the cri-logs or docker-logs parser (`labels.type`). */
  containerRuntime: ContainerRuntime;
  /** Hub collections the agent must install, e.g. crowdsecurity/postfix, crowdsecurity/dovecot. */
  collections: string[];
}

/** One datasource per hub parser family, all over the same container log. */
export const PARSER_PROGRAMS = [
  {
    // Every postfix line is labelled as an smtpd line: postfix-logs (filter: program ending in
    // /smtpd) then parses all of them. DMS 15 refuses SASL on port 25, so auth failures come from
    // submission (587) and submissions (465); the label also covers submissions/smtpd, which the
    // older hub's explicit program list lacks.
    program: "postfix/submission/smtpd",
    parser: "crowdsecurity/postfix-logs",
  },
  { program: "postfix/postscreen", parser: "crowdsecurity/postscreen-logs" },
  { program: "dovecot", parser: "crowdsecurity/dovecot-logs" },
] as const;

export const ACQUISITION_CONFIGMAP = "crowdsec-mail-acquisition";
export const ACQUISITION_KEY = "acquis-mail.yaml";
export const COLLECTIONS_KEY = "collections";

/** Glob of the docker-mailserver container's log files on every node. */
export function containerLogGlob(args: CrowdSecAcquisitionArgs): string {
  return `/var/log/containers/${args.podPrefix}-*_${args.mailNamespace}_${args.containerName}-*.log`;
}

/** The datasources, as objects (the same shape the chart's `agent.additionalAcquisition` takes). */
export function acquisitionDatasources(args: CrowdSecAcquisitionArgs): Record<string, unknown>[] {
  return PARSER_PROGRAMS.map(({ program }) => ({
    source: "file",
    filenames: [containerLogGlob(args)],
    // Watch the glob even before the pod's log file exists (pods are replaced on every rollout).
    force_inotify: true,
    labels: { type: args.containerRuntime, program },
  }));
}

/** `acquis-mail.yaml`: one YAML document per datasource. */
export function renderAcquisition(args: CrowdSecAcquisitionArgs): string {
  const datasources = acquisitionDatasources(args);
  return PARSER_PROGRAMS.map(
    ({ parser }, i) => `# for ${parser}\n${stringify(datasources[i], { lineWidth: 0 })}`,
  ).join("---\n");
}

/** Values fragment for the crowdsecurity/crowdsec chart: mount the acquisition, add collections. */
export function crowdsecAgentValues(args: CrowdSecAcquisitionArgs) {
  return {
    agent: {
      env: [{ name: "COLLECTIONS", value: args.collections.join(" ") }],
      extraVolumes: [
        {
          name: "mail-acquisition",
          configMap: {
            name: ACQUISITION_CONFIGMAP,
            items: [{ key: ACQUISITION_KEY, path: ACQUISITION_KEY }],
          },
        },
      ],
      // A directory mount (not subPath) so ConfigMap updates reach the agent.
      extraVolumeMounts: [
        { name: "mail-acquisition", mountPath: "/etc/crowdsec/acquis.d", readOnly: true },
      ],
    },
  };
}

export class CrowdSecAcquisition extends pulumi.ComponentResource {
  public readonly configMapName: pulumi.Output<string>;
  public readonly collections: string[];
  /** Hand this to the CrowdSec stack's chart values (merge `agent.env` with its own). */
  public readonly agentValues: ReturnType<typeof crowdsecAgentValues>;

  constructor(name: string, args: CrowdSecAcquisitionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mailserver:crowdsec:CrowdSecAcquisition", name, {}, opts);
    const configMap = new k8s.core.v1.ConfigMap(
      "acquisition",
      {
        metadata: {
          name: ACQUISITION_CONFIGMAP,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/part-of": "mailserver" },
        },
        data: {
          [ACQUISITION_KEY]: renderAcquisition(args),
          [COLLECTIONS_KEY]: args.collections.join(" "),
        },
      },
      { parent: this },
    );
    this.configMapName = configMap.metadata.name;
    this.collections = args.collections;
    this.agentValues = crowdsecAgentValues(args);
    this.registerOutputs({
      configMapName: this.configMapName,
      collections: this.collections,
      agentValues: this.agentValues,
    });
  }
}
