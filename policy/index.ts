import { PolicyPack } from "@pulumi/policy";
import { fail2banDisabled } from "./policies/fail2ban-disabled";

new PolicyPack("mailserver-invariants", {
  policies: [fail2banDisabled],
});
