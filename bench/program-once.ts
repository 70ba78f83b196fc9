/**
 * Runs the program once under mocks and exits: the unit the start-up benchmarks time. With
 * `--entry FILE` the program is loaded from FILE by `import()` (bench/startup.ts: type stripping).
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { placeholderKeys } from "../tools/offline/placeholder-keys";
import { loadWorld } from "../tools/world/load";

// Started before the SDK loads (with tools/offline/mock-program.ts), as `npm run plan` does, so
// the keys are generated in libuv's thread pool meanwhile.
void placeholderKeys();
type MockProgram = typeof import("../tools/offline/mock-program");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mock = require("../tools/offline/mock-program") as MockProgram;

const { entry } = parseArgs({ options: { entry: { type: "string" } } }).values;
const load = entry
  ? () => import(pathToFileURL(entry).href) as Promise<Record<string, unknown>>
  : undefined;

mock
  .runProgram({
    config: mock.loadStackConfig("prod"),
    world: loadWorld("ready"),
    ...(load ? { load } : {}),
  })
  .then(
    (run) => console.log(`${run.resources.length} resources`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
