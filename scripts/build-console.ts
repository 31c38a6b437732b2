/**
 * Builds the web console into console/dist: `npm run build:console`. `npm start` does the same by
 * itself when the build is missing or older than the console's sources.
 */
import { ensureConsoleBuilt } from '../src/http/console.js';

await ensureConsoleBuilt({ force: true, log: (line) => console.log(line) });
