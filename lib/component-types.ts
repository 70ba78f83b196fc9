/**
 * The type token of each component of the program, spelled once: the components register under
 * them (`static TYPE`), and the adoption plan builds its children's URNs from them (lib/adopt.ts).
 */
export const COMPONENT_TYPE = {
  mail: "mailserver:mail:MailServer",
  webmail: "mailserver:webmail:Webmail",
  dns: "mailserver:dns:DnsRecords",
  mtaSts: "mailserver:dns:MtaStsSite",
  monitoring: "mailserver:monitoring:Monitoring",
  crowdsec: "mailserver:crowdsec:CrowdSecAcquisition",
  preflight: "mailserver:preflight:ClusterPreflight",
} as const;
