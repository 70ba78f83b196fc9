/**
 * The pack's compiled entry (`main` in package.json): refuses a build older than its sources,
 * then loads `index.ts`, which constructs the pack.
 */
import { assertFreshBuild } from "./build/fresh-build";

assertFreshBuild(__filename, __dirname);

import "./index";
