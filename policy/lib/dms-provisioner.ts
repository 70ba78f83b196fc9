/**
 * How docker-mailserver v15.0.0 provisions accounts, and which variables only one provisioner
 * reads. `ACCOUNT_PROVISIONER` defaults to FILE (startup/variables-stack.sh:151); FILE runs
 * `_setup_dovecot_local_user` over postfix-accounts.cf, LDAP runs `_setup_ldap`, OIDC fails the
 * start as not implemented and any other value panics (start-mailserver.sh:58-74). Only the LDAP
 * path reads the `LDAP_` variables (variables-stack.sh:12 and 191-199, setup.d/ldap.sh:25-31,
 * security/spoofing.sh:7-8), the `SASLAUTHD_LDAP_` ones (setup.d/saslauthd.sh:9-27) and the
 * `DOVECOT_` ones that setup.d/ldap.sh:50 writes over the keys of dovecot-ldap.conf.ext.
 */

/** The keys of target/dovecot/dovecot-ldap.conf.ext at v15.0.0, as `DOVECOT_<KEY>` variables. */
const DOVECOT_LDAP_KEYS = [
  "BASE",
  "DEFAULT_PASS_SCHEME",
  "DN",
  "DNPASS",
  "URIS",
  "TLS",
  "LDAP_VERSION",
  "PASS_ATTRS",
  "PASS_FILTER",
  "USER_ATTRS",
  "USER_FILTER",
  "AUTH_BIND",
].map((k) => `DOVECOT_${k}`);

/** Is `name` a variable only the LDAP provisioner reads? */
export function ldapOnly(name: string): boolean {
  return (
    name.startsWith("LDAP_") ||
    name.startsWith("SASLAUTHD_LDAP_") ||
    DOVECOT_LDAP_KEYS.includes(name)
  );
}

/** What docker-mailserver does with an ACCOUNT_PROVISIONER value other than FILE. */
export function provisionerProblem(value: string): string | undefined {
  switch (value) {
    case "FILE":
      return undefined;
    case "LDAP":
      return "authenticates against LDAP and ignores the accounts the stack renders into postfix-accounts.cf (helpers/accounts.sh:16)";
    case "OIDC":
      return 'fails the start: "OIDC user account provisioning - it is not yet implemented" (start-mailserver.sh:67-69)';
    default:
      return "panics at start: not a valid value for ACCOUNT_PROVISIONER (start-mailserver.sh:71-73)";
  }
}
