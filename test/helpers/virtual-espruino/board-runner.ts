/**
 * The virtual Espruino board on one end of a pseudo-terminal, as a process (main.ts) or inside a
 * test's own process (harness.ts, startVirtualBoard): the same board, the same pty, the same
 * side channel of commands and events. As a process:
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
 *   {"cmd":"loseLineEnd","n":5}      after 5 more line ends, lose the next one (the line stays unfinished)
 *   {"cmd":"loseAnswerAfterWrites","n":5}  after 5 more Storage writes, do the next one and lose its answer
 *   {"cmd":"swap"}                   a new blank board on the same cable (batch flashing)
 *   {"cmd":"powerCycle"}             as E.reboot()
 *   {"cmd":"exit"}
 * Events: ready, boot, write, erase, dropped, lineEndLost, answerLost, relay, error.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { SerialPort } from 'serialport';
import { VirtualEspruino, type Runtime } from './virtual-board.js';
import { Countdown } from '../countdown.js';
import { BleRelay } from '../../../simulator/ble-relay.js';

/** The board's fault each arming command sets (see the commands above). */
const FAULTS = { dropAfterWrites: 'dropAfterWrites', loseAnswerAfterWrites: 'loseAnswerAfterWrites', loseLineEnd: 'loseLineEndAfter' } as const;

export interface BoardRunnerOptions {
  tty: string;
  board: string;
  version: string;
  silent?: boolean;
  storage?: string;
  modemRedirect?: string;
  relayUrl?: string;
  without?: string[];
}

export interface BoardRunner {
  command(cmd: { cmd: string; ms?: number; on?: boolean; n?: number }): void;
  /** Ends the board and closes its end of the pty. */
  stop(): Promise<void>;
}

export async function startBoardRunner(o: BoardRunnerOptions, emit: (ev: Record<string, unknown>) => void): Promise<BoardRunner> {
  const storageFile = o.storage;
  const initial = storageFile && existsSync(storageFile) ? (JSON.parse(readFileSync(storageFile, 'latin1')) as Record<string, string>) : {};
  const save = (): void => {
    if (storageFile) writeFileSync(storageFile, JSON.stringify(board.storage), 'latin1');
  };

  const port = new SerialPort({ path: o.tty, baudRate: 9600, lock: false });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));

  let relay: BleRelay | null = null;
  const onBoot = (rt: Runtime): void => {
    const old = relay;
    relay = null;
    if (old) void old.stop().catch(() => undefined);
    if (rt.kind !== 'puck' || !o.relayUrl) return;
    const id = board.storage['lw.json'];
    if (!id) return;
    const ident = JSON.parse(id) as { id: string; pw: string };
    BleRelay.start(rt.puck!, { url: o.relayUrl, deviceId: ident.id, secret: ident.pw })
      .then((r) => {
        relay = r;
        emit({ ev: 'relay', id: ident.id });
      })
      .catch((err: Error) => emit({ ev: 'error', message: `relay: ${err.message}` }));
  };

  const board = new VirtualEspruino({
    board: o.board,
    version: o.version,
    storage: initial,
    out: (bytes) => port.write(Buffer.from(bytes, 'latin1')),
    event: (ev) => {
      if (ev.ev === 'write' || ev.ev === 'erase' || ev.ev === 'eraseAll') save();
      emit(ev);
    },
    ...(o.modemRedirect ? { modemRedirect: o.modemRedirect } : {}),
    ...(o.without ? { without: o.without } : {}),
    onBoot,
  });
  board.silent = !!o.silent;
  port.on('data', (d: Buffer) => board.input(d.toString('latin1')));
  board.powerOn();

  const files = (): Record<string, { n: number; crc: number }> =>
    Object.fromEntries(Object.entries(board.storage).map(([k, v]) => [k, { n: v.length, crc: crc32(Buffer.from(v, 'latin1')) >>> 0 }]));

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      board.shutdown();
      await relay?.stop().catch(() => undefined);
      save();
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    })());

  emit({ ev: 'ready', board: o.board, version: o.version });
  return {
    stop,
    command(cmd) {
      switch (cmd.cmd) {
        case 'press':
          void board.press(cmd.ms ?? 150).then(() => emit({ ev: 'pressed', ms: cmd.ms }));
          break;
        case 'state':
          emit({ ev: 'state', files: files(), writes: board.writes, lw: board.lw(), silent: board.silent, running: board.runtime !== null });
          break;
        case 'files':
          emit({ ev: 'files', files: { ...board.storage } });
          break;
        case 'silent':
          board.silent = !!cmd.on;
          if (!cmd.on) board.powerOn();
          emit({ ev: 'silent', on: board.silent });
          break;
        case 'dropAfterWrites':
        case 'loseAnswerAfterWrites':
        case 'loseLineEnd':
          board[FAULTS[cmd.cmd]] = new Countdown(cmd.n ?? 0);
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
        default:
          emit({ ev: 'error', message: `unknown command ${cmd.cmd}` });
      }
    },
  };
}
