import { createHash } from "node:crypto";

/**
 * Hex SHA-256 of the parts, NUL-separated so that ("ab", "c") and ("a", "bc") differ. The one
 * digest of the program: pod-template checksums, the MTA-STS policy id, content fingerprints.
 */
export function sha256Hex(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0"), "utf8").digest("hex");
}
