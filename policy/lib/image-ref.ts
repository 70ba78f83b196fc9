/**
 * Container image references as the kubelet and containerd read them: `ParseNormalizedNamed` of
 * distribution/reference (commit 0965666): normalize.go `splitDockerDomain` (docker.io and
 * library/ for familiar names), reference.go `Parse` with the grammar of regexp.go, and the digest
 * checked by go-digest v1.0.0 `Digest.Validate` (algorithm.go: sha256, sha384 or sha512 in
 * lowercase hex of exactly the algorithm's length). No maintained npm port follows the current
 * grammar (the `[-]+` separator, IPv6 hosts) and go-digest's check, so it is written out here.
 * The patterns use only constructs that RE2 and JavaScript read alike (`\w` is ASCII in both).
 */
import { memoize } from "./memo";

// regexp.go, term by term.
const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const domainNameComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const optionalPort = "(?::[0-9]+)?";
const tag = "[\\w][\\w.-]{0,127}";
const digestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}";
const ipv6address = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const REFERENCE = new RegExp(`^(${namePat})(?::(${tag}))?(?:@(${digestPat}))?$`);
const ANCHORED_NAME = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
/** reference.go RepositoryNameTotalLengthMax. */
const PATH_MAX = 255;
/** go-digest v1.0.0 algorithm.go: the registered algorithms and their hex lengths. */
const DIGEST_HEX: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

export interface ImageRef {
  /** Registry host (and port), "docker.io" for Docker Hub. */
  domain: string;
  /** Repository path, e.g. "mailserver/docker-mailserver" or "library/busybox". */
  path: string;
  tag?: string;
  /** "<algorithm>:<hex>". */
  digest?: string;
}

/** normalize.go splitDockerDomain. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf("/");
  if (slash < 0) return ["docker.io", `library/${name}`];
  const maybeDomain = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain = "docker.io";
  let remote = name;
  if (maybeDomain === "localhost") [domain, remote] = [maybeDomain, rest];
  else if (maybeDomain === "index.docker.io") remote = rest;
  else if (/[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    [domain, remote] = [maybeDomain, rest];
  }
  if (domain === "docker.io" && !remote.includes("/")) remote = `library/${remote}`;
  return [domain, remote];
}

/** go-digest v1.0.0 Digest.Validate; undefined when valid. */
function digestError(digest: string): string | undefined {
  const colon = digest.indexOf(":");
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = DIGEST_HEX[algorithm];
  if (length === undefined) return `unsupported digest algorithm ${algorithm}`;
  if (encoded.length !== length) return "invalid checksum digest length";
  return /^[a-f0-9]+$/.test(encoded) ? undefined : "invalid checksum digest format";
}

/** The reference, or the runtime's reason for refusing it (then the pod never starts). */
export const parseImageRef: (image: string) => ImageRef | { error: string } = memoize((image) => {
  if (image === "") return { error: "repository name must have at least one component" };
  if (IDENTIFIER.test(image)) return { error: "a 64-byte hexadecimal string is not a name" };
  const [domain, remainder] = splitDockerDomain(image);
  const colon = remainder.indexOf(":");
  const remote = colon < 0 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) return { error: "repository name must be lowercase" };
  const m = REFERENCE.exec(`${domain}/${remainder}`);
  if (!m) return { error: "invalid reference format" };
  const name = ANCHORED_NAME.exec(m[1] ?? "");
  const path = name?.[2] ?? m[1] ?? "";
  if (path.length > PATH_MAX) return { error: `repository name longer than ${PATH_MAX}` };
  const digest = m[3];
  const bad = digest === undefined ? undefined : digestError(digest);
  if (bad) return { error: bad };
  return { domain: name?.[1] ?? domain, path, tag: m[2], digest };
});

/** `domain/path`, the name the runtime pulls (no tag, no digest). */
export function repositoryOf(ref: ImageRef): string {
  return `${ref.domain}/${ref.path}`;
}
