// The command table. Each area adds its commands here; a command's module loads only when it runs,
// so `lonewatch --help` stays instant and heavy dependencies (serial ports, SQLite) load on demand.
import type { Command } from './command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: 'protocol',
    summary: 'print the protocol version, topics and message kinds',
    load: async () => (await import('../shared/protocol-command.js')).protocolCommand,
  },
];
