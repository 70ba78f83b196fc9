/**
 * The program's compiled entry (`main` in package.json; Pulumi.yaml runs it with `typescript:
 * false`): refuses a build older than its sources, then runs `index.ts` and re-exports its stack
 * outputs.
 */
import { assertFreshBuild } from "./policy/build/fresh-build";

assertFreshBuild(__filename, __dirname);

export { default } from "./index";
