/**
 * The mail stack of viktorbarzin.me: configuration is validated first (nothing is registered when
 * it is wrong), Vault is read in one place, and each part of the stack is one component.
 */
import * as pulumi from "@pulumi/pulumi";
import { DnsRecords } from "./components/dns-records";
import { MailServer } from "./components/mailserver";
import { Webmail } from "./components/webmail";
import { parseConfig, rawConfigFromPulumi } from "./lib/config";
import { readMailSecrets } from "./lib/secrets";

const config = parseConfig(rawConfigFromPulumi(pulumi.runtime.allConfig()));

const secrets = readMailSecrets({
  platform: config.vault.platform,
  personal: config.vault.personal,
  relay: config.mailserver.relay,
  probe: config.monitoring.probe,
});

const mail = new MailServer("mailserver", {
  namespace: config.namespace,
  domain: config.domain,
  config: config.mailserver,
  secrets,
});

const webmail = new Webmail("webmail", {
  namespace: mail.namespace,
  config: config.webmail,
  mailServiceName: mail.serviceName,
  mailTlsName: config.mailserver.hostname,
  dbPassword: secrets.roundcubeDbPassword,
});

const dns = new DnsRecords("dns", {
  domain: config.domain,
  mxHosts: [
    {
      hostname: config.mailserver.hostname,
      priority: config.dns.mxPriority,
      ipv4: config.dns.publicIpv4,
      ipv6: config.dns.publicIpv6,
    },
  ],
  spf: config.dns.spf,
  dkimKeys: [
    { selector: config.mailserver.dkimSelector, publicKey: secrets.dkimPublicKey },
    { selector: config.dns.legacyDkimSelector, publicKey: secrets.mailgunDkimTxt },
  ],
  dkimCnames: config.dns.brevoDkim,
  brevoVerificationCode: secrets.brevoVerification,
  dmarc: config.dns.dmarc,
  mtaSts: config.dns.mtaSts,
  tlsRptRua: config.dns.tlsRptRua,
});

export const namespace = mail.namespace;
export const mailLoadBalancerIp = mail.loadBalancerIp;
export const mailHostname = config.mailserver.hostname;
export const mailServiceHost = mail.serviceHost;
export const webmailUrl = webmail.url;
export const dnsRecordNames = dns.recordNames;
export const mtaStsPolicy = dns.mtaStsPolicy;
