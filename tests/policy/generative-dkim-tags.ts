/**
 * A second family of dkim-key-strength, drawn from RFC 6376 3.6.1: a verifier ignores a key whose
 * `s=` lists neither `email` nor `*`, treats mail signed with a `t=y` key as unsigned, and cannot
 * use a key whose `h=` leaves out sha256 (the only hash left, RFC 8301 3.1). Legitimate: the same
 * tags spelled so that the key still serves mail, and `t=Y`: values are case-sensitive (3.2) and
 * an unknown flag is ignored.
 */
import fc from "fast-check";
import { rsaPublicKey, txt } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "dkim-key-strength";
const FQDN = "mail._domainkey.viktorbarzin.me";
const key = (tags: string) => {
  const text = `v=DKIM1; ${tags}; k=rsa; p=${rsaPublicKey(2048)}`;
  return (text.match(/.{1,255}/g) ?? []).map((c) => `"${c}"`).join(" ");
};
const withTags = (title: string, tags: string, expect: "violation" | "clean") =>
  variant(POLICY, expect)(title, replace([txt("dkim-mail", FQDN, key(tags))]));

export const dkimTagsFamily: Family = {
  policy: POLICY,
  violating: fc
    .constantFrom("s=tls", "s=foo:bar", "t=y", "t=y:s", "t = y", "h=sha1", "h=sha1:md5")
    .map((tags) => withTags(`unusable tag ${tags}`, tags, "violation")),
  legit: fc
    .constantFrom("s=email", "s=*", "s=email:tls", "t=s", "h=sha256", "h=sha1:sha256", "t=Y")
    .map((tags) => withTags(`usable tag ${tags}`, tags, "clean")),
};
