/**
 * The pod's addresses, RFC 5737 documentation ranges (TEST-NET-3 and -2; this machine's own
 * network may be TEST-NET-1, so that one is left alone): the pod is POD_ADDRESS, the host side of
 * its link (the "outside" client, the DNS server) OUTSIDE_ADDRESS, and RELAY_ADDRESS is where the
 * Brevo stand-in listens. The outside's names are RFC 2606 ones.
 */
export const POD_ADDRESS = "203.0.113.25";
export const OUTSIDE_ADDRESS = "203.0.113.1";
export const RELAY_ADDRESS = "198.51.100.1";
/** The outside client's name, in the pod's /etc/hosts both ways (reject_unknown_client_hostname). */
export const OUTSIDE_NAME = "client.example.net";
/** The outside sender's domain, answered by the rehearsal's DNS. */
export const OUTSIDE_DOMAIN = "example.net";
