/**
 * The mail stack of viktorbarzin.me: configuration is validated first (nothing is registered when
 * it is wrong), Vault is read in one place, and each part of the stack is one component.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterPreflight } from "./components/preflight";
import { CrowdSecAcquisition } from "./components/crowdsec-acquisition";
import { DnsRecords } from "./components/dns-records";
import { MailServer } from "./components/mailserver";
import { Monitoring, scrapeAnnotations } from "./components/monitoring";
import { MtaStsSite } from "./components/mta-sts";
import { Webmail } from "./components/webmail";
import { adopter, adoptTargets, checkAdoptMap, COMPONENTS } from "./lib/adopt";
import { kubeApiInventory, type InventoryReader } from "./lib/cluster-inventory";
import { CONFIG_NAMESPACE, ConfigError, parseConfig, rawConfigFromPulumi } from "./lib/config";
import { mailDnsPlanArgs, planMailDns } from "./lib/dns-plan";
import { readMailSecrets } from "./lib/secrets";

/** What the program reads of the world besides `.get()`: swapped for the recorded world under mocks. */
export interface ProgramIo {
  readInventory: InventoryReader;
}

const liveIo = (): ProgramIo => ({
  readInventory: kubeApiInventory(new pulumi.Config("kubernetes").get("kubeconfig")),
});

/** The stack. Pulumi calls it with no argument; the mocked runs pass the recorded world. */
export default function mailStack(io: ProgramIo = liveIo()) {
  const config = parseConfig(rawConfigFromPulumi(pulumi.runtime.allConfig()));
  const stack = pulumi.getStack();
  const project = pulumi.getProject();
  const adoptProblems = checkAdoptMap(
    config.adopt,
    adoptTargets(config, stack, project),
    (urn) => `${CONFIG_NAMESPACE}:adopt["${urn}"]`,
  );
  if (adoptProblems.length > 0) {
    throw new ConfigError(adoptProblems);
  }
  const adopt = adopter(config.adopt, stack, project);

  const secrets = readMailSecrets({
    platform: config.vault.platform,
    personal: config.vault.personal,
    skipChildToken: config.vault.skipChildToken,
    relay: config.mailserver.relay,
    probe: config.monitoring.probe,
  });

  const mail = new MailServer(COMPONENTS.mail.name, {
    namespace: config.namespace,
    domain: config.domain,
    settings: config.mailserver,
    secrets,
    tlsSecretName: config.tls.secretName,
    podAnnotations: scrapeAnnotations(config.monitoring.prometheus),
    adopt,
  });

  const webmail = new Webmail(COMPONENTS.webmail.name, {
    namespace: mail.namespace,
    settings: config.webmail,
    mailServiceName: mail.serviceName,
    mailTlsName: config.mailserver.hostname,
    tlsSecretName: mail.tlsSecretName,
    dbPassword: secrets.roundcubeDbPassword,
    adopt,
  });

  const dnsPlan = mailDnsPlanArgs(config);
  // Serves the policy first: the `_mta-sts` TXT waits for it (DnsRecordsArgs.mtaStsServedBy).
  const mtaSts = new MtaStsSite("mta-sts", {
    domain: config.domain,
    policy: planMailDns(dnsPlan).mtaStsPolicy,
  });

  const dns = new DnsRecords(COMPONENTS.dns.name, {
    ...dnsPlan,
    dkimKeys: [
      { selector: config.mailserver.dkimSelector, publicKey: secrets.dkimPublicKey },
      { selector: config.dns.legacyDkimSelector, publicKey: secrets.mailgunDkimTxt },
    ],
    mtaStsServedBy: mtaSts.servedBy,
    adopt,
  });

  const probe = config.monitoring.probe;
  const monitoring = new Monitoring("monitoring", {
    namespace: mail.namespace,
    deploymentName: mail.deploymentName,
    podLabels: { ...mail.podLabels },
    prometheus: config.monitoring.prometheus,
    probe: {
      schedule: probe.schedule,
      image: probe.image,
      mailgunApiBase: probe.mailgunApiBase,
      mailgunDomain: probe.mailgunDomain,
      recipient: probe.recipient,
      imapHost: mail.serviceHost,
      imapTlsName: config.mailserver.hostname,
      imapUser: probe.imapUser,
      pushgatewayUrl: probe.pushgatewayUrl,
      secrets: {
        mailgunApiKey: secrets.mailgunApiKey,
        imapPassword: secrets.probeImapPassword,
        uptimeKumaPushUrl: secrets.uptimeKumaPushUrl,
      },
    },
  });

  const crowdsec = new CrowdSecAcquisition("crowdsec", {
    namespace: config.crowdsec.namespace,
    mailNamespace: config.namespace,
    podPrefix: mail.podNamePrefix,
    containerName: mail.containerName,
    containerRuntime: config.crowdsec.containerRuntime,
    collections: config.crowdsec.collections,
    agent: config.crowdsec.agent,
  });

  new ClusterPreflight("preflight", {
    read: io.readInventory,
    mountedSecrets: mail.mountedSecrets,
  });

  return {
    namespace: mail.namespace,
    mailLoadBalancerIp: mail.loadBalancerIp,
    mailHostname: config.mailserver.hostname,
    mailServiceHost: mail.serviceHost,
    webmailUrl: webmail.url,
    dnsRecordNames: dns.recordNames,
    mtaStsPolicy: dns.mtaStsPolicy,
    mtaStsPolicyUrl: mtaSts.url,
    tlsSecretName: mail.tlsSecretName,
    probeCronJob: monitoring.cronJobName,
    alertRules: monitoring.rulesName,
    /** Values the prometheus chart release needs so its server loads the mail alerts (chart setup). */
    prometheusChartValues: monitoring.chartValues,
    crowdsecAcquisitionConfigMap: crowdsec.configMapName,
    /** Paste into the CrowdSec stack's chart values: its agent then mounts the mail acquisition. */
    crowdsecAgentValues: crowdsec.agentValues,
  };
}
