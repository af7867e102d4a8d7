// What bin/lonewatch.js runs once tsx is registered: the entry of the test run's bundle of the
// command (test/helpers/cli-bundle.ts), run with plain `node`.
import { main } from '../../bin/cli.js';

process.exitCode = await main(process.argv.slice(2));
