/**
 * `npm run bench`: every benchmark of the project, printed as Markdown tables with ratios.
 * `npm run bench -- validate` runs only the sections whose name contains "validate".
 */
import { benchGrpc } from "./grpc.js";
import { benchHttp } from "./http.js";
import { benchLinks } from "./links.js";
import { benchSockets } from "./sockets.js";
import { benchValidate } from "./validate.js";

const sections: Record<string, () => Promise<void>> = {
  validate: benchValidate,
  links: benchLinks,
  grpc: benchGrpc,
  http: benchHttp,
  sockets: benchSockets,
};

const filter = process.argv[2];
console.log(`# Tessera benchmarks (node ${process.version}, ${new Date().toISOString()})`);
for (const [name, run] of Object.entries(sections)) {
  if (filter !== undefined && !name.includes(filter)) continue;
  console.log(`\nrunning ${name}…`);
  await run();
}
