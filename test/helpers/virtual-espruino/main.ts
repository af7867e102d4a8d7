/**
 * The virtual Espruino board as a process, on one end of a pseudo-terminal:
 *
 *   node --import tsx test/helpers/virtual-espruino/main.ts --tty /tmp/x/board \
 *        [--board PUCKJS|RAK5010] [--version 2v29] [--silent] [--storage file.json] \
 *        [--modem-redirect 127.0.0.1] [--relay-url mqtt://127.0.0.1:1883] [--without BTN,NRF]
 *
 * TEST-ONLY SIDE CHANNEL: the process's stdin takes JSON commands, one per line, and its stdout
 * carries JSON events, one per line (the serial port is the pty, never stdin/stdout):
 *   {"cmd":"press","ms":3200}        hold the fob's button (a loud SOS is a 3 s hold)
 *   {"cmd":"state"}                  -> {"ev":"state","files":{name:{n,crc}},"writes":[...],"lw":{v,id},"silent":b}
 *   {"cmd":"files"}                  -> {"ev":"files","files":{name:content(latin1)}}
 *   {"cmd":"silent","on":true}       stop answering (unpowered / cable pulled); false: back, with a power-on
 *   {"cmd":"dropAfterWrites","n":5}  after 5 more Storage writes, do the next one and go silent
 *   {"cmd":"swap"}                   a new blank board on the same cable (batch flashing)
 *   {"cmd":"powerCycle"}             as E.reboot()
 *   {"cmd":"exit"}
 * Events: ready, boot, write, erase, dropped, relay, error.
 */
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { crc32 } from 'node:zlib';
import { SerialPort } from 'serialport';
import { VirtualEspruino, type Runtime } from './virtual-board.js';
import { BleRelay } from '../../../simulator/ble-relay.js';

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

const storageFile = values.storage;
const initial = storageFile && existsSync(storageFile) ? (JSON.parse(readFileSync(storageFile, 'latin1')) as Record<string, string>) : {};
const save = (): void => {
  if (storageFile) writeFileSync(storageFile, JSON.stringify(board.storage), 'latin1');
};

const port = new SerialPort({ path: values.tty!, baudRate: 9600, lock: false });
await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));

let relay: BleRelay | null = null;
const onBoot = (rt: Runtime): void => {
  const old = relay;
  relay = null;
  if (old) void old.stop().catch(() => undefined);
  if (rt.kind !== 'puck' || !values['relay-url']) return;
  const id = board.storage['lw.json'];
  if (!id) return;
  const ident = JSON.parse(id) as { id: string; pw: string };
  BleRelay.start(rt.puck!, { url: values['relay-url'], deviceId: ident.id, secret: ident.pw })
    .then((r) => {
      relay = r;
      emit({ ev: 'relay', id: ident.id });
    })
    .catch((err: Error) => emit({ ev: 'error', message: `relay: ${err.message}` }));
};

const board = new VirtualEspruino({
  board: values.board!,
  version: values.version!,
  storage: initial,
  out: (bytes) => port.write(Buffer.from(bytes, 'latin1')),
  event: (ev) => {
    if (ev.ev === 'write' || ev.ev === 'erase' || ev.ev === 'eraseAll') save();
    emit(ev);
  },
  ...(values['modem-redirect'] ? { modemRedirect: values['modem-redirect'] } : {}),
  ...(values.without ? { without: values.without.split(',') } : {}),
  onBoot,
});
board.silent = values.silent!;
port.on('data', (d: Buffer) => board.input(d.toString('latin1')));
board.powerOn();

const files = (): Record<string, { n: number; crc: number }> =>
  Object.fromEntries(Object.entries(board.storage).map(([k, v]) => [k, { n: v.length, crc: crc32(Buffer.from(v, 'latin1')) >>> 0 }]));

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd: { cmd: string; ms?: number; on?: boolean; n?: number };
  try {
    cmd = JSON.parse(line);
  } catch {
    return emit({ ev: 'error', message: `not JSON: ${line}` });
  }
  switch (cmd.cmd) {
    case 'press':
      void board.press(cmd.ms ?? 150).then(() => emit({ ev: 'pressed', ms: cmd.ms }));
      break;
    case 'state':
      emit({ ev: 'state', files: files(), writes: board.writes, lw: board.lw(), silent: board.silent, running: board.runtime !== null });
      break;
    case 'files':
      emit({ ev: 'files', files: board.storage });
      break;
    case 'silent':
      board.silent = !!cmd.on;
      if (!cmd.on) board.powerOn();
      emit({ ev: 'silent', on: board.silent });
      break;
    case 'dropAfterWrites':
      board.dropAfterWrites = cmd.n ?? 0;
      emit({ ev: 'armed', n: cmd.n });
      break;
    case 'swap':
      board.swap();
      save();
      emit({ ev: 'swapped' });
      break;
    case 'powerCycle':
      board.shutdown();
      board.powerOn();
      emit({ ev: 'powered' });
      break;
    case 'exit':
      shutdown();
      break;
    default:
      emit({ ev: 'error', message: `unknown command ${cmd.cmd}` });
  }
});
rl.on('close', () => shutdown());

function shutdown(): void {
  board.shutdown();
  void relay?.stop().catch(() => undefined);
  save();
  port.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}

emit({ ev: 'ready', board: values.board, version: values.version });
