// Builds only when bin/ or policy/bin/ is missing or older than its sources, so `npm test` after
// scripts/setup.sh (which builds) does not compile a second time, and a fresh clone still builds.
"use strict";
const { existsSync } = require("node:fs");
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const checker = path.join(root, "bin/policy/build/fresh-build.js");

function staleDirs() {
  if (!existsSync(checker)) return ["bin"];
  const { staleSources } = require(checker);
  return ["bin", "policy/bin"].filter((dir) => staleSources(path.join(root, dir)).length > 0);
}

const stale = staleDirs();
if (stale.length === 0) {
  console.log("build is fresh: skipping npm run build");
} else {
  console.log(`stale build (${stale.join(", ")}): npm run build`);
  const build = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  process.exitCode = build.status ?? 1;
}
