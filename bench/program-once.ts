/** Runs the program once under mocks and exits: the unit the start-up benchmark times. */
import { loadStackConfig, runProgram } from "../tools/mock-program";

runProgram({ config: loadStackConfig("prod") }).then(
  (run) => console.log(`${run.resources.length} resources`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
