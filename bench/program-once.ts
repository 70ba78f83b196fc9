/**
 * Runs the program once under mocks and exits: the unit the start-up benchmarks time. With
 * `--entry FILE` the program is loaded from FILE by `import()` (bench/startup.ts: type stripping).
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { loadStackConfig, runProgram } from "../tools/mock-program";
import { loadWorld } from "../tools/world";

const { entry } = parseArgs({ options: { entry: { type: "string" } } }).values;
const load = entry
  ? () => import(pathToFileURL(entry).href) as Promise<Record<string, unknown>>
  : undefined;

runProgram({
  config: loadStackConfig("prod"),
  world: loadWorld("ready"),
  ...(load ? { load } : {}),
}).then(
  (run) => console.log(`${run.resources.length} resources`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
