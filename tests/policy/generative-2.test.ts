/** The second half of the generative corpus (tests/policy/generative-suite.ts). */
import { describeGenerative } from "./generative-suite";

describeGenerative(1);
