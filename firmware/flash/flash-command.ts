/**
 * `lonewatch flash`: takes a blank Espruino board on a USB-serial cable to a working, registered fob
 * (issue 8). See docs/flashing.md for the procedure, the options and every error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface, type Interface } from 'node:readline';
import { defineCommand, UsageError } from '../../bin/command.js';
import { cachedFirmwareBuild } from '../build/build-cache.js';
import { CONFIG_OPTION, loadConfigOrExit, openCommands, type OpenCommands } from '../../hub/cli/open-store.js';
import type { HubConfig } from '../../hub/config/config-schema.js';
import { isValidDeviceId } from '../../shared/protocol-core.js';
import { DryRunLink, FlashError, SerialLink, listPorts, setDebug, type ConsoleLink } from './espruino-link.js';
import { CONSOLE_PORT, flashBoard, FIRMWARE_VERSION, type SessionResult } from './flash-session.js';
import { fobHubHost, HubAddressError, isLoopbackHost, parseFobEdges, type FobEdge } from './hub-address.js';
import { describeWiring, PinsError, resolveWiring } from './pins.js';
import type { Wiring } from '../src/wiring.js';
import { choosePasskey, provision, type Provisioned } from './provision.js';
import { isPasskey } from './ble-passkey.js';
import { loadClientCert, type ClientCert } from './modem-files.js';
import { loadPinnedCa, type PinnedCa } from './pinned-ca.js';
import { ProgressBar } from './progress.js';
import type { Identity } from './wire.js';

type Board = 'puck' | 'rak5010';

interface Job {
  deviceId: string;
  board: Board;
  workerId: string | null;
  secret: string | null;
}

interface Outcome {
  job: Job;
  ok: boolean;
  skipped?: boolean;
  result?: SessionResult;
  provisioned?: Provisioned;
  error?: FlashError | Error;
  hub?: string;
  hubOk?: boolean;
  seconds: number;
}

/** Where the command writes: the process's stdout/stderr, or a test's capture (runFlashInProcess). */
let sink: { out(s: string): void; err(s: string): void } = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};
const out = (s: string): void => sink.out(s);
const err = (s: string): void => sink.err(s);

/** The firmware build the command flashes; replaceable in-process (runFlashInProcess). */
type Build = (board: Board) => Promise<{ ok: boolean; code: string; bytes: number; budgetBytes: number; variables: number; variableBudget: number; problems: { what: string; line: number; column: number }[] }>;
// Cached by content (issue 18): the bundle is the same for every fob of a board (identity, hub
// addresses and pins are written to lw.json, not into the code), so a batch, a re-flash or the next
// run reads it instead of building the same bytes again.
const realBuild: Build = (board) => cachedFirmwareBuild(board);
let build: Build = realBuild;

/**
 * Runs `lonewatch flash ARGV` in this process with its output captured (the flash tests: no child
 * process to start). `withBuild` replaces the firmware build for that run.
 */
export async function runFlashInProcess(
  argv: string[],
  o: { withBuild?: Build; stdin?: NodeJS.ReadableStream; onOutput?: (all: string) => void } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const saved = { sink, build, input };
  sink = {
    out: (s) => {
      stdout += s;
      o.onOutput?.(stdout + stderr);
    },
    err: (s) => {
      stderr += s;
      o.onOutput?.(stdout + stderr);
    },
  };
  if (o.withBuild) build = o.withBuild;
  if (o.stdin) input = o.stdin;
  // The command's usage errors and --help are written by bin/command.ts to the process's streams.
  const writes = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string | Uint8Array) => (sink.out(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (sink.err(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await flashCommand.run(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    ({ sink, build, input } = saved);
  }
}

/** Where the batch prompts read the engineer's answers. */
let input: NodeJS.ReadableStream = process.stdin;

export const flashCommand = defineCommand({
  name: 'flash',
  summary: 'flash and provision a fob over a USB-serial cable (registers it, writes firmware and identity, checks it reaches the hub)',
  usage: 'flash --port <path> --board puck|rak5010 --device <id> [options]\n       lonewatch flash --list\n       lonewatch flash --port <path> --devices-from fobs.csv [--yes]',
  details: [
    'Registers the device with the hub (or uses its registration), builds the board\'s firmware, checks the',
    'board and its Espruino version, writes the firmware (.bootcde) and the identity (lw.json) in verified',
    'chunks, restarts the board and waits for the firmware\'s own "LW:up <version> <board> <id>" line (an',
    '"Uncaught ..." or "LW:fault ..." fails the flash), then waits for the fob\'s hello at the hub.',
    'Stray boot files (.boot0-.boot3, .bootrst, .bootPowerOn) are removed unless --keep-boot-files.',
    'An interrupted upload resumes when the same command is run again. docs/flashing.md has the details.',
    '',
    'Which port: ' + CONSOLE_PORT.puck + '.',
    'And ' + CONSOLE_PORT.rak5010 + '.',
    '',
    'CSV for --devices-from: a header line, then one fob per line: device[,board][,worker][,secret]',
  ].join('\n'),
  options: {
    ...CONFIG_OPTION,
    port: { type: 'string', short: 'p', placeholder: 'path', description: 'serial port of the board\'s console: a Puck.js through a USB-serial adapter (e.g. /dev/ttyUSB0), a RAK5010 through its own USB (e.g. /dev/ttyACM0)' },
    board: { type: 'string', short: 'b', placeholder: 'board', description: 'puck or rak5010' },
    device: { type: 'string', short: 'd', placeholder: 'id', description: 'device id to register and write to the fob' },
    worker: { type: 'string', short: 'w', placeholder: 'id', description: 'worker the new fob belongs to (registration only)' },
    secret: { type: 'string', placeholder: 'secret', description: 'secret of an already registered device (checked against the hub)' },
    force: { type: 'boolean', description: 'flash a board that already holds this (or another) device\'s identity' },
    'dry-run': { type: 'string', placeholder: 'file', description: 'write exactly the bytes that would be sent (to a blank board) to file; no port, no registration' },
    list: { type: 'boolean', short: 'l', description: 'list the serial ports' },
    'devices-from': { type: 'string', placeholder: 'csv', description: 'flash several fobs one after another, prompting to swap boards' },
    yes: { type: 'boolean', short: 'y', description: 'do not prompt between boards (--devices-from)' },
    baud: { type: 'string', placeholder: 'rate', description: 'baud rate (default 9600, Espruino\'s default)' },
    timeout: { type: 'string', placeholder: 's', description: 'seconds to wait for the board to answer (default 6)' },
    hub: { type: 'string', placeholder: 'host:port,...', description: 'RAK5010 in a cluster: every edge it may reach, in the order it tries them (default: cluster.edges; instead of --hub-host/--hub-port)' },
    'hub-host': { type: 'string', placeholder: 'host', description: 'hub address the fob connects to (default: host of hub.public_url)' },
    'hub-port': { type: 'string', placeholder: 'port', description: 'hub MQTT port the fob connects to (default: mqtt.port; a RAK5010 over TLS: tls.mqtts_port)' },
    passkey: { type: 'string', placeholder: '6 digits', description: 'Puck.js: the BLE passkey the worker types on the phone to pair (default: the one on the board for a re-flash, else a new random one, printed once)' },
    'client-cert': { type: 'string', placeholder: 'pem', description: 'RAK5010 over TLS: a client certificate for this fob (CN = its device id), uploaded to its modem, which presents it to the hub (with --client-key)' },
    'client-key': { type: 'string', placeholder: 'pem', description: 'the private key of --client-cert (unencrypted PEM)' },
    'ca-file': { type: 'string', placeholder: 'pem', description: 'RAK5010 over TLS: the CA that signed the hub\'s certificate, pinned in the fob (default: tls.fob_ca_file; needed with [tls])' },
    wait: { type: 'string', placeholder: 's', description: 'seconds to wait for the fob\'s hello at the hub (default 90 for rak5010, 0 for puck; 0 = do not wait)' },
    'allow-localhost': { type: 'boolean', description: 'allow a loopback hub address (localhost, 127.x, ::1) in the fob: only for a hub on this bench' },
    pins: { type: 'string', placeholder: 'role=pin,...', description: 'wiring overrides, e.g. btn=D19,buzz=D20 (roles btn, buzz, motor, led, batt; empty = not fitted)' },
    'keep-boot-files': { type: 'boolean', description: 'leave .boot0-.boot3, .bootrst, .bootPowerOn on the board (they run at every start)' },
    'boot-wait': { type: 'string', placeholder: 's', description: 'seconds the new firmware has to print LW:up after the restart (default 10)' },
    verbose: { type: 'boolean', short: 'v', description: 'show EspruinoTools\' and the serial port\'s messages' },
  },
  async run(values) {
    setDebug(values.verbose ? (line) => err(`[espruino] ${line}\n`) : null);
    if (values.list) return listCommand();
    if (values['devices-from'] && values.device) throw new UsageError('use either --device or --devices-from');
    const jobs: Job[] = values['devices-from'] ? readJobs(values['devices-from'], values.board) : [singleJob(values)];
    for (const j of jobs) {
      if (!isValidDeviceId(j.deviceId)) throw new UsageError(`device id "${j.deviceId}" must be 1-32 letters, digits, '-' or '_'`);
      if (j.board !== 'puck' && j.board !== 'rak5010') throw new UsageError(`--board must be puck or rak5010 (got "${j.board}")`);
    }
    // Issue 17: a Puck.js's BLE passkey is six digits (the SoftDevice takes nothing else).
    if (values.passkey !== undefined) {
      if (!isPasskey(values.passkey)) throw new UsageError(`--passkey must be 6 digits, e.g. 048213 (got "${values.passkey}")`);
      if (jobs.length > 1) throw new UsageError('--passkey names one fob\'s passkey: not with --devices-from (each fob gets its own, printed in its summary)');
      if (jobs[0]!.board !== 'puck') throw new UsageError('--passkey is for a Puck.js (its BLE pairing); a RAK5010 has no BLE link to the phone');
    }
    const baud = num(values.baud, 9600, 'baud');
    const timeoutS = num(values.timeout, 6, 'timeout');
    const dryFile = values['dry-run'];
    if (!dryFile && !values.port) throw new UsageError('say which serial port the board is on: --port /dev/ttyUSB0 (`lonewatch flash --list` lists them)');

    const bootWaitS = num(values['boot-wait'], 10, 'boot-wait');
    // The wiring of every job, checked before anything is opened or registered.
    const wirings = new Map<Job, Wiring>();
    for (const j of jobs) {
      try {
        wirings.set(j, resolveWiring(j.board, values.pins));
      } catch (e) {
        if (e instanceof PinsError) throw new UsageError(`${e.message}${jobs.length > 1 ? ` (for ${j.deviceId}, a ${j.board})` : ''}`);
        throw e;
      }
    }

    const config: HubConfig = loadConfigOrExit(values.config);
    let hubHost: string;
    // Issue 19: the edges of a cluster (--hub, else [cluster] edges unless --hub-host is given); the
    // first is also written as h/p, which firmware from before the cluster reads.
    let edges: FobEdge[] | null = null;
    if (values.hub !== undefined && (values['hub-host'] !== undefined || values['hub-port'] !== undefined)) {
      throw new UsageError('give either --hub host:port,... (every edge, ports included) or --hub-host/--hub-port (one hub), not both');
    }
    try {
      if (values.hub !== undefined) edges = parseFobEdges(values.hub.split(','), '--hub', !!values['allow-localhost']);
      else if (values['hub-host'] === undefined && config.cluster?.edges) edges = parseFobEdges(config.cluster.edges, 'cluster.edges in lonewatch.toml', !!values['allow-localhost']);
      hubHost = edges ? edges[0][0] : fobHubHost({ hubHost: values['hub-host'], publicUrl: config.hub.public_url, allowLocalhost: !!values['allow-localhost'] }).host;
    } catch (e) {
      if (e instanceof HubAddressError) throw new UsageError(e.message);
      throw e;
    }
    // Issue 17: a RAK5010 for a hub with [tls] (or given --ca-file) talks MQTTS through its modem's
    // SSL stack, pinned to the CA that signed the hub's certificate: checked once, before any board.
    const caPath = values['ca-file'] ?? config.tls?.fob_ca_file;
    const rakJobs = jobs.some((j) => j.board === 'rak5010');
    if (rakJobs && config.tls && !caPath) {
      throw new UsageError('the hub has [tls] (MQTTS): a RAK5010 must pin the CA that signed the hub\'s certificate; set tls.fob_ca_file in lonewatch.toml or pass --ca-file <pem>');
    }
    // Issue 17: a client certificate for one RAK5010 over TLS, checked before anything is opened.
    let clientCert: ClientCert | null = null;
    if (values['client-cert'] !== undefined || values['client-key'] !== undefined) {
      if (values['client-cert'] === undefined || values['client-key'] === undefined) throw new UsageError('give both --client-cert <pem> and --client-key <pem>');
      if (jobs.length > 1) throw new UsageError('--client-cert is one fob\'s certificate: not with --devices-from');
      if (jobs[0]!.board !== 'rak5010') throw new UsageError('--client-cert is for a RAK5010 (its modem presents it); a Puck.js reaches the hub through the phone');
      if (!caPath) throw new UsageError('--client-cert needs TLS: the hub\'s [tls] (tls.fob_ca_file) or --ca-file, since the modem presents it in the TLS handshake');
      clientCert = loadClientCert(values['client-cert'], values['client-key'], jobs[0]!.deviceId, config.tls?.client_ca_file);
    }
    const pinned: PinnedCa | null = rakJobs && caPath ? loadPinnedCa(caPath, config.tls ? [config.tls.cert_file, ...(config.tls.chain_file ? [config.tls.chain_file] : [])] : []) : null;
    if (pinned) out(`RAK5010 over TLS: pinning ${pinned.subject} from ${pinned.path} (${pinned.checked}); on the modem as ${pinned.name}\n`);
    const hubPort = edges ? edges[0][1] : num(values['hub-port'], pinned ? (config.tls?.mqtts_port ?? 8883) : config.mqtt.port, 'hub-port');
    // Through the command service (issue 18): a running hub registers the fob and says when its
    // hello arrives (from the change feed), so nothing here polls the database.
    const service = dryFile ? null : await openCommands(config);
    const prompt = jobs.length > 1 && !values.yes ? createInterface({ input }) : null;
    const outcomes: Outcome[] = [];
    try {
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i];
        if (jobs.length > 1) {
          out(`\n=== ${i + 1}/${jobs.length}: ${job.deviceId} (${job.board}${job.workerId ? `, worker ${job.workerId}` : ''}) ===\n`);
          if (prompt) {
            const answer = await ask(prompt, `Connect the board for ${job.deviceId} to ${values.port}, then press Enter (s = skip, q = quit): `);
            if (answer === null || answer.trim().toLowerCase() === 'q') {
              out('stopped: no more boards flashed\n');
              break;
            }
            if (answer.trim().toLowerCase() === 's') {
              outcomes.push({ job, ok: false, skipped: true, seconds: 0 });
              continue;
            }
          }
        }
        const o = await flashOne(job, {
          port: values.port ?? '',
          baud,
          timeoutS,
          dryFile: dryFile ?? null,
          service,
          force: !!values.force,
          hubHost,
          hubPort,
          // Only a RAK5010 dials the hub itself; a Puck.js reaches it through the phone.
          edges: job.board === 'rak5010' && edges && edges.length > 1 ? edges : null,
          wiring: wirings.get(job)!,
          keepBootFiles: !!values['keep-boot-files'],
          bootWaitS,
          ca: job.board === 'rak5010' ? pinned : null,
          passkey: values.passkey ?? null,
          clientCert,
          waitS: values.wait !== undefined ? num(values.wait, 0, 'wait') : job.board === 'rak5010' ? 90 : 0,
        });
        outcomes.push(o);
      }
    } finally {
      prompt?.close();
      await service?.close();
    }
    if (jobs.length > 1) printBatchSummary(outcomes);
    const failed = outcomes.filter((o) => !o.ok && !o.skipped);
    if (failed.length > 0) return 1;
    if (outcomes.some((o) => o.hubOk === false)) return 3;
    return 0;
  },
});

function singleJob(values: { board?: string; device?: string; worker?: string; secret?: string }): Job {
  if (!values.device) throw new UsageError('say which device to flash: --device <id> (or --devices-from file.csv)');
  if (!values.board) throw new UsageError('say which board this is: --board puck or --board rak5010');
  return { deviceId: values.device, board: values.board as Board, workerId: values.worker ?? null, secret: values.secret ?? null };
}

function readJobs(file: string, defaultBoard: string | undefined): Job[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length < 2) throw new UsageError(`${file} needs a header line (device,board,worker,secret) and at least one fob`);
  const header = lines[0].split(',').map((h) => h.trim().toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  if (col('device') < 0) throw new UsageError(`${file}: the header must have a "device" column`);
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    const get = (name: string): string | null => (col(name) >= 0 && cells[col(name)] ? cells[col(name)] : null);
    const board = get('board') ?? defaultBoard;
    if (!board) throw new UsageError(`${file} line ${i + 2}: no board (add a board column or --board)`);
    return { deviceId: get('device') ?? '', board: board as Board, workerId: get('worker'), secret: get('secret') };
  });
}

function num(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number`);
  return n;
}

function ask(rl: Interface, question: string): Promise<string | null> {
  return new Promise((resolve) => {
    const onClose = (): void => resolve(null);
    rl.once('close', onClose);
    out(question);
    rl.question('', (a) => {
      rl.off('close', onClose);
      resolve(a);
    });
  });
}

async function listCommand(): Promise<number> {
  const ports = await listPorts();
  if (ports.length === 0) {
    out('no serial ports found: plug the USB-serial cable in (and check `dmesg` for its name)\n');
    return 0;
  }
  out('path                      manufacturer              serial number     vid:pid\n');
  for (const p of ports) {
    out(`${p.path.padEnd(26)}${(p.manufacturer ?? '-').padEnd(26)}${(p.serialNumber ?? '-').padEnd(18)}${p.vendorId ? `${p.vendorId}:${p.productId}` : '-'}\n`);
  }
  return 0;
}

interface FlashOpts {
  port: string;
  baud: number;
  timeoutS: number;
  dryFile: string | null;
  service: OpenCommands | null;
  force: boolean;
  hubHost: string;
  hubPort: number;
  /** Issue 19: every edge, first = hubHost:hubPort (lw.json hs); null: the one hub alone. */
  edges: FobEdge[] | null;
  wiring: Wiring;
  keepBootFiles: boolean;
  bootWaitS: number;
  /** RAK5010 over TLS: the pinned CA (identity t and Storage lw.ca); null: plain MQTT. */
  ca: PinnedCa | null;
  /** Puck.js: --passkey (issue 17); null: the board's, else a new one. */
  passkey: string | null;
  /** RAK5010: --client-cert/--client-key (issue 17); null: none given (a re-flash keeps the board's). */
  clientCert: ClientCert | null;
  waitS: number;
}

async function flashOne(job: Job, o: FlashOpts): Promise<Outcome> {
  const t0 = Date.now();
  const seconds = (): number => Math.round((Date.now() - t0) / 100) / 10;
  out(`building the ${job.board} firmware ${FIRMWARE_VERSION}...\n`);
  const firmware = await build(job.board);
  if (!firmware.ok) {
    const e = new FlashError(
      `the ${job.board} firmware does not build cleanly: ${firmware.problems.map((p) => `${p.what} at ${p.line}:${p.column}`).join('; ') || `${firmware.bytes} bytes of ${firmware.budgetBytes}, ${firmware.variables} variables of ${firmware.variableBudget}`}`,
      'fix the firmware (`lonewatch firmware build`) first',
    );
    report(job, e, null);
    return { job, ok: false, error: e, seconds: seconds() };
  }
  out(`  ${firmware.bytes} bytes, Espruino-compatible\n`);

  let link: ConsoleLink;
  let provisioned: Provisioned | null = null;
  if (o.dryFile) link = new DryRunLink();
  else {
    const portNote = portMismatch(job.board, o.port);
    if (portNote) out(`note: ${portNote}\n`);
    out(`connecting to ${o.port} at ${o.baud} baud...\n`);
    try {
      link = await SerialLink.open(o.port, o.baud);
    } catch (e) {
      report(job, e as Error, null);
      return { job, ok: false, error: e as Error, seconds: seconds() };
    }
  }
  const bar = new ProgressBar(process.stdout);
  let feedBefore = 0;
  let staged = false;
  let dryPasskey: string | null = null;
  let clientCertFrom: 'given' | 'board' | null = null;
  let result: SessionResult;
  try {
    result = await flashBoard(link, {
      board: job.board,
      deviceId: job.deviceId,
      code: firmware.code,
      timeoutS: o.timeoutS,
      keepBootFiles: o.keepBootFiles,
      bootWaitS: o.bootWaitS,
      ...(o.ca ? { ca: o.ca.pem } : {}),
      ...(o.clientCert ? { clientCert: o.clientCert } : {}),
      identity: async (p) => {
        out(`board: ${p.b}, Espruino ${p.v}${p.id?.id ? `, provisioned as ${String(p.id.id)}` : ', not provisioned'}\n`);
        const stray = p.bf ?? [];
        if (stray.length > 0) {
          out(`stray boot code on the board (Espruino runs it at every start): ${stray.map((f) => `${f.n} (${f.b} bytes)`).join(', ')}; ${o.keepBootFiles ? 'kept (--keep-boot-files)' : 'it will be removed'}\n`);
        }
        if (o.dryFile) {
          const pk = choosePasskey({ board: job.board, deviceId: job.deviceId, passkey: o.passkey }, p);
          dryPasskey = pk?.pk ?? null;
          const identity: Identity = { id: job.deviceId, pw: job.secret ?? 'DRY-RUN-NO-SECRET', h: o.hubHost, p: o.hubPort, ...(o.edges ? { hs: o.edges } : {}), w: o.wiring, ...(o.ca ? { t: o.ca.name } : {}), ...(o.clientCert ? { c: o.clientCert.base } : {}), ...(pk ? { pk: pk.pk } : {}) };
          return identity;
        }
        provisioned = await provision(
          { commands: o.service!.commands, deviceId: job.deviceId, board: job.board, workerId: job.workerId, secret: job.secret, force: o.force, hubHost: o.hubHost, hubPort: o.hubPort, edges: o.edges, wiring: o.wiring, passkey: o.passkey },
          p,
        );
        out(
          provisioned.registration === 'new'
            ? `registered ${job.deviceId} with the hub${job.workerId ? ` for worker ${job.workerId}` : ''}\n`
            : `using ${job.deviceId}'s registration (secret from ${provisioned.secretFrom}, checked against the hub)\n`,
        );
        out(`writing firmware (${FILES_NOTE}) and identity${o.ca ? ' and the pinned CA' : ''}...\n`);
        // Issue 17: a client certificate given now, else the one this device's identity on the board
        // names (its files stay on the modem over a re-flash), if the link is TLS at all.
        const kept = p.id && p.id.id === job.deviceId && typeof (p.id as { c?: unknown }).c === 'string' ? String((p.id as { c?: unknown }).c) : null;
        clientCertFrom = o.clientCert ? 'given' : o.ca && kept ? 'board' : null;
        const c = o.clientCert ? o.clientCert.base : o.ca ? kept : null;
        return { ...provisioned.identity, ...(o.ca ? { t: o.ca.name } : {}), ...(c ? { c } : {}) };
      },
      identityStaged: () => {
        staged = true;
      },
      progress: (p) => bar.update(p),
      note: (line) => {
        bar.end();
        out(`${line}\n`);
      },
      beforeStart: async () => {
        bar.end();
        if (o.service) feedBefore = await o.service.commands.feedPosition();
        out('restarting the board with the new firmware...\n');
      },
    });
  } catch (e) {
    bar.end();
    report(job, e as Error, staged ? null : provisioned);
    await link.close();
    return { job, ok: false, error: e as Error, ...(provisioned ? { provisioned } : {}), seconds: seconds() };
  }
  await link.close();

  if (o.dryFile) {
    const bytes = (link as DryRunLink).bytes;
    writeFileSync(o.dryFile, Buffer.from(bytes, 'latin1'));
    out(`\ndry run: ${bytes.length} bytes that would be sent to a blank ${job.board} written to ${o.dryFile}\n`);
    out(`  nothing was registered and no port was opened; the identity in it uses ${job.secret ? 'the --secret given' : 'the placeholder secret DRY-RUN-NO-SECRET'}\n`);
    if (dryPasskey) out(`  and the BLE passkey ${o.passkey ? 'given with --passkey' : `${dryPasskey} (new, random: a real run makes another)`}\n`);
    return { job, ok: true, result, seconds: seconds() };
  }

  const start = result.start!;
  const verdict = start.verdict;
  const started = verdict.kind === 'up' ? verdict : null;
  let hub = '';
  let hubOk: boolean | undefined;
  if (started && o.waitS > 0) {
    const reachable = await tcpReachable(o.hubHost, o.hubPort, 1500);
    if (!reachable) hub = `not reachable from here at ${o.hubHost}:${o.hubPort}: not waiting for the fob's first contact`;
    else {
      out(`waiting up to ${o.waitS} s for ${job.deviceId}'s hello at the hub (${o.hubHost}:${o.hubPort})...\n`);
      const waitFrom = Date.now();
      const seen = await o.service!.commands.waitForHello(job.deviceId, feedBefore, o.waitS * 1000);
      hubOk = !!seen;
      hub = seen
        ? `hello received after ${((Date.now() - waitFrom) / 1000).toFixed(1)} s (firmware ${seen.firmware}, board ${seen.board ?? '?'})`
        : `NO hello within ${o.waitS} s: check the SIM, APN and coverage (RAK5010) or the phone relay (Puck.js), then watch \`lonewatch devices list\``;
    }
  } else if (started) hub = job.board === 'puck' ? 'not waited for (a Puck.js reaches the hub through the phone relay; --wait <s> to wait)' : 'not waited for (--wait 0)';

  const failure = started ? null : startFailure(start, job, o.port);
  const rb = start.readback;
  const lines = [
    '',
    started ? `OK: ${job.deviceId} flashed and started` : `FAILED: ${job.deviceId} was written but ${failure!.headline}`,
    `  board         ${result.boardEnv}, Espruino ${result.espruino}, on ${o.port}`,
    `  firmware      ${FIRMWARE_VERSION}, ${result.bytes} bytes in ${result.chunks} chunks (${result.chunksWritten} written, ${result.chunksResumed} resumed), verified by CRC32`,
    `  identity      ${job.deviceId} -> ${o.edges ? `edges ${o.edges.map(describeEdge).join(', ')}, tried in that order` : `hub ${o.hubHost}:${o.hubPort}`} (lw.json)${result.previousId && result.previousId !== job.deviceId ? `, replacing ${result.previousId}` : ''}${isLoopbackHost(o.hubHost) ? ' (a loopback address, allowed by --allow-localhost: only a hub on this bench, never one in the field)' : ''}`,
    `  wiring        ${describeWiring(o.wiring)} (lw.json)`,
    // (provisioned is set inside the identity callback, which TypeScript's narrowing does not see.)
    ...(clientCertFrom === 'given' && o.clientCert
      ? [`  client cert   ${o.clientCert.subject}, valid until ${o.clientCert.notAfter}: on the modem as ${o.clientCert.base}.crt and ${o.clientCert.base}.key (AT+QFUPL, checked), presented to the hub (lw.json c)`]
      : (clientCertFrom as string | null) === 'board'
        ? [`  client cert   kept from the board: the modem's ${result.identity.c ?? '?'}.crt and .key (lw.json c)`]
        : []),
    ...((provisioned as Provisioned | null)?.passkeyFrom ? [`  BLE passkey   ${describePasskey(provisioned as unknown as Provisioned)}`] : []),
    `  boot files    ${describeBootFiles(result)}`,
    `  registration  ${provisioned ? describeProvisioned(provisioned) : '-'}`,
    ...(link instanceof SerialLink && link.xoffs > 0 ? [`  flow control  the board paused the tool ${link.xoffs} time(s) with XOFF; it waited for XON each time`] : []),
    `  started       ${started ? `${started.line} (printed by the firmware after the restart)` : failure!.started}`,
    `  read back     ${rb ? `LW.v ${rb.v}, LW.id ${rb.id}, LW.up ${rb.up}` : 'the console did not answer after the start'}`,
    ...(hub ? [`  hub           ${hub}`] : []),
    `  time          ${seconds()} s`,
    '',
  ];
  out(lines.join('\n'));
  if (failure) err(`lonewatch flash: ${job.deviceId}: ${failure.message}\n  what to do: ${failure.hint}\n`);
  const ok = started !== null;
  return { job, ok, result, ...(provisioned ? { provisioned } : {}), hub, ...(hubOk !== undefined ? { hubOk } : {}), ...(failure ? { error: new FlashError(failure.message, failure.hint) } : {}), seconds: seconds() };
}

/**
 * A port name that does not fit the board (boards/RAK5010.py: the console is USB or Bluetooth, no
 * UART): /dev/ttyUSB<n> is what Linux names a USB-serial adapter, which on a RAK5010's header pins
 * reaches no console. Said before connecting; the flash still tries.
 */
function portMismatch(board: Board, port: string): string | null {
  if (board === 'rak5010' && /ttyUSB\d+$/.test(port)) {
    return `${port} looks like a USB-serial adapter; ${CONSOLE_PORT.rak5010}`;
  }
  return null;
}

/** What went wrong with a start that was not LW:up, from the board's own lines. */
function startFailure(start: NonNullable<SessionResult['start']>, job: Job, port: string): { headline: string; started: string; message: string; hint: string } {
  const v = start.verdict;
  const again = `then run the flash again with --force (identity and secret are kept)`;
  switch (v.kind) {
    case 'uncaught':
      return {
        headline: 'its firmware stopped with an error at start',
        started: `NO: the board printed ${JSON.stringify(v.line)}`,
        message: `the firmware stopped with an error at start; the board printed:\n    ${[v.line, ...v.detail].join('\n    ')}`,
        hint: `a name that "is not defined" is a part this board does not have (the wrong --board, or a board whose wiring needs --pins); ${again}`,
      };
    case 'fault':
      return {
        headline: 'its firmware reported a wiring fault',
        started: `NO: the firmware printed ${JSON.stringify(v.line)}`,
        message: `the firmware reported a wiring fault at start: ${v.line}`,
        hint: `check the fob's wiring against the summary's wiring line (change it with --pins role=pin,...), ${again}`,
      };
    case 'mismatch':
      return {
        headline: 'a different firmware or identity started',
        started: `NO: the firmware printed ${JSON.stringify(v.line)}`,
        message: `the board started firmware ${v.version} as ${v.deviceId}, not ${FIRMWARE_VERSION} as ${job.deviceId}`,
        hint: `open \`lonewatch console --port ${port}\` and look at require("Storage").list(), ${again}`,
      };
    default:
      return {
        headline: 'did not report that it started',
        started: `NO: no LW:up line from the firmware`,
        message: start.silence!.message,
        hint: start.silence!.hint,
      };
  }
}

function describeBootFiles(r: SessionResult): string {
  if (r.bootFiles.length === 0) return 'none besides .bootcde';
  const list = r.bootFiles.map((f) => `${f.n} (${f.b} bytes)`).join(', ');
  return r.bootFilesRemoved ? `removed ${list} (they ran at every start)` : `KEPT ${list} (--keep-boot-files: they run at every start, before .bootcde)`;
}

const FILES_NOTE = '.bootcde, via lw.up';

/**
 * Issue 17: the passkey is shown once, in the summary of the run that wrote it (a new one, or one
 * an interrupted run wrote but never showed); never in a log line, and not again on a re-flash.
 */
function describePasskey(p: Provisioned): string {
  const pk = p.identity.pk ?? '';
  switch (p.passkeyFrom) {
    case 'new':
    case 'interrupted flash':
      return `${pk}  <- give this to the worker: their phone asks for it once, when it first pairs with this fob (shown only now; it is kept on the fob, not at the hub)`;
    case '--passkey':
      return 'the one given with --passkey (lw.json pk)';
    default:
      return 'kept from the board (lw.json pk; not shown again: --passkey <6 digits> sets a new one)';
  }
}

function describeProvisioned(p: Provisioned): string {
  return p.registration === 'new' ? 'registered now (the secret is on the fob only)' : `existing (secret from ${p.secretFrom})`;
}

function report(job: Job, e: Error, provisioned: Provisioned | null): void {
  const hint = e instanceof FlashError && e.hint ? `\n  what to do: ${e.hint}` : '';
  err(`lonewatch flash: ${job.deviceId}: ${e instanceof FlashError ? e.message : `unexpected error: ${e.stack ?? e.message}`}${hint}\n`);
  // Registered by this run, but the board does not hold the secret yet: the one chance to see it.
  if (provisioned?.registration === 'new') {
    err(`  ${job.deviceId} was registered by this run before its secret reached the board: run again with --secret ${provisioned.identity.pw} (shown once)\n`);
  }
}

function printBatchSummary(outcomes: Outcome[]): void {
  out('\nbatch summary\n');
  for (const o of outcomes) {
    const state = o.skipped ? 'skipped' : o.ok ? (o.hubOk === false ? 'flashed, no hello' : 'ok') : 'FAILED';
    // One line per fob: an error that quotes the board's lines is cut to its first two.
    const why = o.error ? `  ${o.error.message.split('\n').slice(0, 2).map((l) => l.trim()).join(' ')}` : o.hub ? `  ${o.hub}` : '';
    out(`  ${o.job.deviceId.padEnd(20)}${state.padEnd(18)}${why}\n`);
  }
  const ok = outcomes.filter((o) => o.ok).length;
  out(`${ok} of ${outcomes.length} flashed\n`);
}

function tcpReachable(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}


function describeEdge(e: FobEdge): string {
  return e[0].includes(':') ? `[${e[0]}]:${e[1]}` : `${e[0]}:${e[1]}`;
}
