/**
 * `lonewatch flash`: takes a blank Espruino board on a USB-serial cable to a working, registered fob
 * (issue 8). See docs/flashing.md for the procedure, the options and every error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface, type Interface } from 'node:readline';
import { defineCommand, UsageError } from '../../bin/command.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from '../../hub/cli/open-store.js';
import type { HubConfig } from '../../hub/config/config-schema.js';
import type { SqliteStore } from '../../hub/store/sqlite-store.js';
import { isValidDeviceId } from '../../shared/protocol-core.js';
import { DryRunLink, FlashError, SerialLink, listPorts, setDebug, type ConsoleLink } from './espruino-link.js';
import { flashBoard, FIRMWARE_VERSION, type SessionResult } from './flash-session.js';
import { provision, type Provisioned } from './provision.js';
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

const out = (s: string): void => {
  process.stdout.write(s);
};
const err = (s: string): void => {
  process.stderr.write(s);
};

export const flashCommand = defineCommand({
  name: 'flash',
  summary: 'flash and provision a fob over a USB-serial cable (registers it, writes firmware and identity, checks it reaches the hub)',
  usage: 'flash --port <path> --board puck|rak5010 --device <id> [options]\n       lonewatch flash --list\n       lonewatch flash --port <path> --devices-from fobs.csv [--yes]',
  details: [
    'Registers the device with the hub (or uses its registration), builds the board\'s firmware, checks the',
    'board and its Espruino version, writes the firmware (.bootcde) and the identity (lw.json) in verified',
    'chunks, restarts the board, reads back LW.v and LW.id, and waits for the fob\'s hello at the hub.',
    'An interrupted upload resumes when the same command is run again. docs/flashing.md has the details.',
    '',
    'CSV for --devices-from: a header line, then one fob per line: device[,board][,worker][,secret]',
  ].join('\n'),
  options: {
    ...CONFIG_OPTION,
    port: { type: 'string', short: 'p', placeholder: 'path', description: 'serial port of the board, e.g. /dev/ttyUSB0' },
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
    'hub-host': { type: 'string', placeholder: 'host', description: 'hub address the fob connects to (default: host of hub.public_url)' },
    'hub-port': { type: 'string', placeholder: 'port', description: 'hub MQTT port the fob connects to (default: mqtt.port; a RAK5010 over TLS: tls.mqtts_port)' },
    'ca-file': { type: 'string', placeholder: 'pem', description: 'RAK5010 over TLS: the CA that signed the hub\'s certificate, pinned in the fob (default: tls.fob_ca_file; needed with [tls])' },
    wait: { type: 'string', placeholder: 's', description: 'seconds to wait for the fob\'s hello at the hub (default 90 for rak5010, 0 for puck; 0 = do not wait)' },
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
    const baud = num(values.baud, 9600, 'baud');
    const timeoutS = num(values.timeout, 6, 'timeout');
    const dryFile = values['dry-run'];
    if (!dryFile && !values.port) throw new UsageError('say which serial port the board is on: --port /dev/ttyUSB0 (`lonewatch flash --list` lists them)');

    const config: HubConfig = loadConfigOrExit(values.config);
    const hubHost = values['hub-host'] ?? safeHost(config.hub.public_url);
    // Issue 17: a RAK5010 for a hub with [tls] (or given --ca-file) talks MQTTS through its modem's
    // SSL stack, pinned to the CA that signed the hub's certificate: checked once, before any board.
    const caPath = values['ca-file'] ?? config.tls?.fob_ca_file;
    const rakJobs = jobs.some((j) => j.board === 'rak5010');
    if (rakJobs && config.tls && !caPath) {
      throw new UsageError('the hub has [tls] (MQTTS): a RAK5010 must pin the CA that signed the hub\'s certificate; set tls.fob_ca_file in lonewatch.toml or pass --ca-file <pem>');
    }
    const pinned: PinnedCa | null = rakJobs && caPath ? loadPinnedCa(caPath, config.tls ? [config.tls.cert_file, ...(config.tls.chain_file ? [config.tls.chain_file] : [])] : []) : null;
    if (pinned) out(`RAK5010 over TLS: pinning ${pinned.subject} from ${pinned.path} (${pinned.checked}); on the modem as ${pinned.name}\n`);
    const hubPort = num(values['hub-port'], pinned ? (config.tls?.mqtts_port ?? 8883) : config.mqtt.port, 'hub-port');
    const store = dryFile ? null : openStore(config);
    const prompt = jobs.length > 1 && !values.yes ? createInterface({ input: process.stdin }) : null;
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
          store,
          force: !!values.force,
          hubHost,
          hubPort,
          ca: job.board === 'rak5010' ? pinned : null,
          waitS: values.wait !== undefined ? num(values.wait, 0, 'wait') : job.board === 'rak5010' ? 90 : 0,
        });
        outcomes.push(o);
      }
    } finally {
      prompt?.close();
      await store?.close();
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

function safeHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return 'localhost';
  }
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
  store: SqliteStore | null;
  force: boolean;
  hubHost: string;
  hubPort: number;
  /** RAK5010 over TLS: the pinned CA (identity t and Storage lw.ca); null: plain MQTT. */
  ca: PinnedCa | null;
  waitS: number;
}

async function flashOne(job: Job, o: FlashOpts): Promise<Outcome> {
  const started = Date.now();
  const seconds = (): number => Math.round((Date.now() - started) / 100) / 10;
  out(`building the ${job.board} firmware ${FIRMWARE_VERSION}...\n`);
  const { buildFirmware } = await import('../build/build.js');
  const build = await buildFirmware(job.board, { write: false });
  if (!build.ok) {
    const e = new FlashError(
      `the ${job.board} firmware does not build cleanly: ${build.problems.map((p) => `${p.what} at ${p.line}:${p.column}`).join('; ') || `${build.bytes} bytes of ${build.budgetBytes}, ${build.variables} variables of ${build.variableBudget}`}`,
      'fix the firmware (`lonewatch firmware build`) first',
    );
    report(job, e, null);
    return { job, ok: false, error: e, seconds: seconds() };
  }
  out(`  ${build.bytes} bytes, Espruino-compatible\n`);

  let link: ConsoleLink;
  let provisioned: Provisioned | null = null;
  if (o.dryFile) link = new DryRunLink();
  else {
    out(`connecting to ${o.port} at ${o.baud} baud...\n`);
    try {
      link = await SerialLink.open(o.port, o.baud);
    } catch (e) {
      report(job, e as Error, null);
      return { job, ok: false, error: e as Error, seconds: seconds() };
    }
  }
  const bar = new ProgressBar(process.stdout);
  let eventsBefore = 0;
  let staged = false;
  let result: SessionResult;
  try {
    result = await flashBoard(link, {
      board: job.board,
      deviceId: job.deviceId,
      code: build.code,
      timeoutS: o.timeoutS,
      ...(o.ca ? { ca: o.ca.pem } : {}),
      identity: async (p) => {
        out(`board: ${p.b}, Espruino ${p.v}${p.id?.id ? `, provisioned as ${String(p.id.id)}` : ', not provisioned'}\n`);
        if (o.dryFile) {
          const identity: Identity = { id: job.deviceId, pw: job.secret ?? 'DRY-RUN-NO-SECRET', h: o.hubHost, p: o.hubPort, ...(o.ca ? { t: o.ca.name } : {}) };
          return identity;
        }
        provisioned = await provision(
          { store: o.store!, deviceId: job.deviceId, board: job.board, workerId: job.workerId, secret: job.secret, force: o.force, hubHost: o.hubHost, hubPort: o.hubPort },
          p,
        );
        out(
          provisioned.registration === 'new'
            ? `registered ${job.deviceId} with the hub${job.workerId ? ` for worker ${job.workerId}` : ''}\n`
            : `using ${job.deviceId}'s registration (secret from ${provisioned.secretFrom}, checked against the hub)\n`,
        );
        out(`writing firmware (${FILES_NOTE}) and identity${o.ca ? ' and the pinned CA' : ''}...\n`);
        return o.ca ? { ...provisioned.identity, t: o.ca.name } : provisioned.identity;
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
        if (o.store) eventsBefore = await o.store.read((tx) => tx.countFobEvents(job.deviceId));
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
    return { job, ok: true, result, seconds: seconds() };
  }

  const rb = result.readback;
  const readbackOk = !!rb && rb.v === FIRMWARE_VERSION && rb.id === job.deviceId;
  let hub = '';
  let hubOk: boolean | undefined;
  if (readbackOk && o.waitS > 0) {
    const reachable = await tcpReachable(o.hubHost, o.hubPort, 1500);
    if (!reachable) hub = `not reachable from here at ${o.hubHost}:${o.hubPort}: not waiting for the fob's first contact`;
    else {
      out(`waiting up to ${o.waitS} s for ${job.deviceId}'s hello at the hub (${o.hubHost}:${o.hubPort})...\n`);
      const t0 = Date.now();
      const seen = await waitForHello(o.store!, job.deviceId, eventsBefore, o.waitS * 1000);
      hubOk = !!seen;
      hub = seen
        ? `hello received after ${((Date.now() - t0) / 1000).toFixed(1)} s (firmware ${seen.firmware}, board ${seen.board ?? '?'})`
        : `NO hello within ${o.waitS} s: check the SIM, APN and coverage (RAK5010) or the phone relay (Puck.js), then watch \`lonewatch devices list\``;
    }
  } else if (readbackOk) hub = job.board === 'puck' ? 'not waited for (a Puck.js reaches the hub through the phone relay; --wait <s> to wait)' : 'not waited for (--wait 0)';

  const ok = readbackOk;
  const lines = [
    '',
    `${ok ? 'OK' : 'FAILED'}: ${job.deviceId} ${ok ? 'flashed' : 'was written but did not read back correctly'}`,
    `  board         ${result.boardEnv}, Espruino ${result.espruino}, on ${o.port}`,
    `  firmware      ${FIRMWARE_VERSION}, ${result.bytes} bytes in ${result.chunks} chunks (${result.chunksWritten} written, ${result.chunksResumed} resumed), verified by CRC32`,
    `  identity      ${job.deviceId} -> hub ${o.hubHost}:${o.hubPort} (lw.json)${result.previousId && result.previousId !== job.deviceId ? `, replacing ${result.previousId}` : ''}`,
    `  registration  ${provisioned ? describeProvisioned(provisioned) : '-'}`,
    `  read back     ${rb ? `LW.v ${rb.v}, LW.id ${rb.id}` : 'no answer from the firmware after restart'}`,
    ...(hub ? [`  hub           ${hub}`] : []),
    `  time          ${seconds()} s`,
    '',
  ];
  out(lines.join('\n'));
  if (!ok) {
    err(`lonewatch flash: ${job.deviceId}: the firmware did not report ${FIRMWARE_VERSION}/${job.deviceId} after the restart (got ${JSON.stringify(rb)})\n  what to do: open \`lonewatch console --port ${o.port}\` to see what the board prints, then run the flash again with --force\n`);
  }
  return { job, ok, result, ...(provisioned ? { provisioned } : {}), hub, ...(hubOk !== undefined ? { hubOk } : {}), seconds: seconds() };
}

const FILES_NOTE = '.bootcde, via lw.up';

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
    const why = o.error ? `  ${o.error.message}` : o.hub ? `  ${o.hub}` : '';
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

async function waitForHello(store: SqliteStore, deviceId: string, before: number, ms: number): Promise<{ firmware: string; board: string | null } | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const [count, device] = await store.read(async (tx) => [await tx.countFobEvents(deviceId), await tx.getDevice(deviceId)] as const);
    if (count > before && device?.firmware) return { firmware: device.firmware, board: device.board };
    await new Promise((r) => setTimeout(r, 300));
  }
  return null;
}
