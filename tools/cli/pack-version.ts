/**
 * `npm run pack:version [-- --pack DIR]`: keeps the pack's version honest. Published pack versions
 * are immutable and any change under policy/ changes what `deploy/` publishes
 * (docs/operations.md, "Publishing a new pack version"), so `policy/version-digest.json` records
 * the version together with a digest of everything under policy/ but its build and dependencies.
 * `npm test` fails while the two disagree with the pack (tests/build/pack-version.test.ts), so a
 * pull request that changes the pack without bumping `version` is stopped before the merge, not
 * by the publication after it.
 * Exit 0: the record is current (or was brought up to date after a bump); 1: the pack changed but
 * `version` did not; 2: bad input.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { listSources } from "../../policy/build/fresh-build";
import { InputError, parseOptions, runCli } from "./common";
import { PACK_DIR } from "./project";

export const RECORD_FILE = "version-digest.json";

export interface VersionRecord {
  version: string;
  digest: string;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** `version` of the pack's package.json. */
export function packVersion(packDir: string): string {
  const version = readJson(path.join(packDir, "package.json")).version;
  if (typeof version !== "string") throw new InputError(`${packDir}/package.json has no version`);
  return version;
}

/**
 * SHA-256 over every file under the pack (names and contents; not bin/, node_modules/ or the
 * record itself), with package.json read without its `version`: a bump alone changes nothing.
 */
export function packDigest(packDir: string): string {
  const hash = createHash("sha256");
  for (const file of listSources(packDir, ["."], "bin")) {
    if (file === RECORD_FILE) continue;
    const full = path.join(packDir, file);
    const content =
      file === "package.json"
        ? JSON.stringify({ ...readJson(full), version: null })
        : readFileSync(full);
    hash.update(`${file}\0${createHash("sha256").update(content).digest("hex")}\n`);
  }
  return hash.digest("hex");
}

export function readRecord(packDir: string): VersionRecord {
  const { version, digest } = readJson(path.join(packDir, RECORD_FILE));
  if (typeof version !== "string" || typeof digest !== "string") {
    throw new InputError(`${packDir}/${RECORD_FILE} needs "version" and "digest" strings`);
  }
  return { version, digest };
}

export interface RecordCheck {
  /** current: record = pack; unbumped: the pack changed, its version did not; outdated: bumped. */
  state: "current" | "unbumped" | "outdated";
  pack: VersionRecord;
  /** One sentence: what is the case and how to fix it. */
  message: string;
}

export function checkRecord(packDir: string): RecordCheck {
  const record = readRecord(packDir);
  const pack: VersionRecord = { version: packVersion(packDir), digest: packDigest(packDir) };
  if (record.digest === pack.digest && record.version === pack.version) {
    return {
      state: "current",
      pack,
      message: `${RECORD_FILE} is current: version ${pack.version}`,
    };
  }
  if (record.version === pack.version) {
    return {
      state: "unbumped",
      pack,
      message: `policy/ changed since version ${pack.version} was recorded: bump "version" in policy/package.json (published versions are immutable), then run \`npm run pack:version\``,
    };
  }
  return {
    state: "outdated",
    pack,
    message: `policy/${RECORD_FILE} records version ${record.version}, the pack is ${pack.version}: run \`npm run pack:version\``,
  };
}

const OPTIONS = { pack: { type: "string" } } as const;

/** Where run() reports: the console, or a test's collector. */
type Out = Pick<Console, "log" | "error">;

/** Records a bumped version; refuses (exit 1) when the pack changed but its version did not. */
export function run(argv: string[], out: Out = console): number {
  const packDir = parseOptions(argv, OPTIONS).pack ?? PACK_DIR;
  const check = checkRecord(packDir);
  if (check.state === "unbumped") {
    out.error(check.message);
    return 1;
  }
  if (check.state === "outdated") {
    writeFileSync(path.join(packDir, RECORD_FILE), `${JSON.stringify(check.pack, null, 2)}\n`);
    out.log(`recorded version ${check.pack.version} in ${RECORD_FILE}`);
    return 0;
  }
  out.log(check.message);
  return 0;
}

if (require.main === module) runCli((argv) => Promise.resolve(run(argv)));
