/**
 * Entry point of the `tessera` binary (`bin/tessera.js` imports the compiled file).
 * Management commands exit with their code; `serve` keeps the process alive until a signal.
 */
import { processIO } from "./io.js";
import { runCli } from "./program.js";

const result = await runCli(process.argv.slice(2), processIO());
if (result !== "serving") process.exit(result);
