/**
 * The virtual Espruino board as a process (see board-runner.ts for the options, the commands on
 * stdin and the events on stdout):
 *
 *   node --import tsx test/helpers/virtual-espruino/main.ts --tty /tmp/x/board [--board RAK5010] ...
 *
 * {"cmd":"exit"} on stdin (or stdin closing) ends it.
 */
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { startBoardRunner } from './board-runner.js';

const { values } = parseArgs({
  options: {
    tty: { type: 'string' },
    board: { type: 'string', default: 'PUCKJS' },
    version: { type: 'string', default: '2v29' },
    silent: { type: 'boolean', default: false },
    storage: { type: 'string' },
    'modem-redirect': { type: 'string' },
    'relay-url': { type: 'string' },
    without: { type: 'string' },
  },
});

const emit = (ev: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(ev) + '\n');
};

const runner = await startBoardRunner(
  {
    tty: values.tty!,
    board: values.board!,
    version: values.version!,
    silent: values.silent!,
    ...(values.storage ? { storage: values.storage } : {}),
    ...(values['modem-redirect'] ? { modemRedirect: values['modem-redirect'] } : {}),
    ...(values['relay-url'] ? { relayUrl: values['relay-url'] } : {}),
    ...(values.without ? { without: values.without.split(',') } : {}),
  },
  emit,
);

const shutdown = (): void => {
  setTimeout(() => process.exit(0), 500).unref();
  void runner.stop().then(() => process.exit(0));
};

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd: { cmd: string; ms?: number; on?: boolean; n?: number };
  try {
    cmd = JSON.parse(line);
  } catch {
    return emit({ ev: 'error', message: `not JSON: ${line}` });
  }
  if (cmd.cmd === 'exit') shutdown();
  else runner.command(cmd);
});
rl.on('close', () => shutdown());
