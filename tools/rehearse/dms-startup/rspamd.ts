/** DMS 15.0.0's Rspamd edit: the local.d files that disable modules. */
import * as fs from "node:fs";
import * as path from "node:path";
import { expand, need } from "./facts";

const RSPAMD_DISABLED = "rspamd:local.d modules disabled";

/**
 * DMS's local.d `enabled = false` files, written into `tree` (a copy of /etc/rspamd; the world's
 * /etc/rspamd paths are mapped into it).
 */
export function applyRspamdLocalD(tree: string): void {
  const edit = need(RSPAMD_DISABLED, "file", "text", "modules");
  for (const module of edit.modules) {
    const env = { MODULE: module };
    const file = path.join(tree, path.relative("/etc/rspamd", expand(edit.file, env)));
    fs.writeFileSync(file, expand(edit.text, env));
  }
}
