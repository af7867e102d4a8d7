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
    name: 'hub',
    summary: 'run the hub: MQTT broker, rules, store and HTTP (what `npm start` runs)',
    load: async () => (await import('../hub/cli/hub-command.js')).hubCommand,
  },
  {
    name: 'edge',
    summary: "run a cluster edge: MQTT for fobs, each publish PUBACKed after JetStream's ack (docs/cluster.md)",
    load: async () => (await import('../hub/cli/cluster-node-commands.js')).edgeCommand,
  },
  {
    name: 'worker',
    summary: 'run a cluster worker: fob messages from JetStream into the store, acks, rules, dashboard',
    load: async () => (await import('../hub/cli/cluster-node-commands.js')).workerCommand,
  },
  {
    name: 'http',
    summary: 'run a cluster HTTP node: the dashboard and API, no share of the stream',
    load: async () => (await import('../hub/cli/cluster-node-commands.js')).httpCommand,
  },
  {
    name: 'cluster',
    summary: '`cluster up`: a local cluster on loopback (3 NATS nodes, 2 edges, 2 workers, an HTTP node)',
    load: async () => (await import('../hub/cli/cluster-command.js')).clusterCommand,
  },
  {
    name: 'devices',
    summary: 'register, list, assign and revoke fobs',
    load: async () => (await import('../hub/cli/devices-command.js')).devicesCommand,
  },
  {
    name: 'workers',
    summary: 'add and list lone workers',
    load: async () => (await import('../hub/cli/workers-command.js')).workersCommand,
  },
  {
    name: 'users',
    summary: 'dashboard and companion accounts: add (the first admin too), list, password, sign-out, disable',
    load: async () => (await import('../hub/cli/users-command.js')).usersCommand,
  },
  {
    name: 'visits',
    summary: 'import and list visits (itineraries) with the R8/R9 policy checks',
    load: async () => (await import('../hub/cli/visits-command.js')).visitsCommand,
  },
  {
    name: 'firmware',
    summary: 'build the fob firmware for a board (puck or rak5010), with the Espruino check and size budget',
    load: async () => (await import('../firmware/cli.js')).firmwareCommand,
  },
  {
    name: 'flash',
    summary: 'flash and provision a fob over a USB-serial cable (`--list` lists the ports)',
    load: async () => (await import('../firmware/flash/flash-command.js')).flashCommand,
  },
  {
    name: 'console',
    summary: "a terminal to a fob's Espruino console over serial, for diagnosis (Ctrl-] quits)",
    load: async () => (await import('../firmware/flash/console-command.js')).consoleCommand,
  },
  {
    name: 'sim',
    summary: 'run scenarios (time-warped) or a load test of N virtual fobs against a hub',
    load: async () => (await import('../simulator/sim-command.js')).simCommand,
  },
  {
    name: 'bench',
    summary: 'run the benchmark suite (hub vs Mosquitto, SOS latency, fleet size, rules, firmware)',
    load: async () => (await import('../bench/bench-command.js')).benchCommand,
  },
  {
    name: 'fuzz',
    summary: 'fuzz a hub of its own (MQTT packets, API requests, kill -9 restarts under SOS load) and report crashes, 5xx, hangs, losses',
    load: async () => (await import('../bench/fuzz/fuzz-command.js')).fuzzCommand,
  },
  {
    name: 'protocol',
    summary: 'print the protocol version, topics and message kinds',
    load: async () => (await import('./protocol-command.js')).protocolCommand,
  },
];
