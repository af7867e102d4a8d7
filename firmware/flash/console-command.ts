/**
 * `lonewatch console --port <path>`: a terminal to a fob's Espruino console, for diagnosis. Keys go
 * to the board as typed (raw mode on a terminal; piped input is sent as it comes), and what the
 * board prints goes to the screen. Ctrl-] quits, as in telnet; Ctrl-C goes to the board (it clears
 * the input line or interrupts running code there).
 */
import { defineCommand, UsageError } from '../../bin/command.js';
import { FlashError, SerialLink, setDebug } from './espruino-link.js';

const QUIT = 0x1d; // Ctrl-]

export const consoleCommand = defineCommand({
  name: 'console',
  summary: "a terminal to a fob's Espruino console over serial, for diagnosis (Ctrl-] quits)",
  usage: 'console --port <path> [--baud 9600]',
  details: 'Examples at the prompt: LW (firmware version, device id), require("Storage").list(), E.getBattery(), load() to restart the firmware.',
  options: {
    port: { type: 'string', short: 'p', placeholder: 'path', description: 'serial port of the board, e.g. /dev/ttyUSB0' },
    baud: { type: 'string', placeholder: 'rate', description: 'baud rate (default 9600)' },
    verbose: { type: 'boolean', short: 'v', description: "show EspruinoTools' and the serial port's messages" },
  },
  async run(values) {
    if (!values.port) throw new UsageError('say which serial port: --port /dev/ttyUSB0 (`lonewatch flash --list` lists them)');
    setDebug(values.verbose ? (line) => process.stderr.write(`[espruino] ${line}\n`) : null);
    const baud = values.baud ? Number(values.baud) : 9600;
    if (!Number.isFinite(baud) || baud <= 0) throw new UsageError('--baud must be a number');
    let link: SerialLink;
    try {
      link = await SerialLink.open(values.port, baud);
    } catch (e) {
      const fe = e as FlashError;
      process.stderr.write(`lonewatch console: ${fe.message}${fe.hint ? `\n  what to do: ${fe.hint}` : ''}\n`);
      return 1;
    }
    process.stderr.write(`connected to ${values.port} at ${baud} baud; Ctrl-] quits\r\n`);
    link.onRaw((s) => process.stdout.write(Buffer.from(s, 'latin1')));
    const stdin = process.stdin;
    const tty = stdin.isTTY === true;
    if (tty) stdin.setRawMode(true);
    const code = await new Promise<number>((resolve) => {
      let done = false;
      const finish = (c: number): void => {
        if (done) return;
        done = true;
        stdin.off('data', onData);
        clearInterval(watch);
        resolve(c);
      };
      const onData = (d: Buffer): void => {
        const q = d.indexOf(QUIT);
        const send = q >= 0 ? d.subarray(0, q) : d;
        if (send.length > 0) void link.send(send.toString('latin1')).catch(() => finish(1));
        if (q >= 0) finish(0);
      };
      stdin.on('data', onData);
      // Piped input: when it ends, give the board a moment to answer, then quit.
      stdin.once('end', () => setTimeout(() => finish(0), 700));
      const watch = setInterval(() => {
        if (link.isClosed) {
          process.stderr.write('\r\nthe serial port closed (board unplugged?)\r\n');
          finish(1);
        }
      }, 200);
    });
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    await link.close();
    process.stderr.write('\r\ndisconnected\r\n');
    return code;
  },
});
