/**
 * One AT command at a time over a serial line to a GSM modem (3GPP TS 27.007 §4/§5 and TS 27.005,
 * as the Quectel BG96/EC2x AT Commands Manuals implement them):
 *
 * - a command line ends with CR (S3, TS 27.007 §6.2.1 / V.250 §5.2.1); the modem answers with
 *   information lines and one final result: `OK`, `ERROR`, `+CME ERROR: <n>` (TS 27.007 §9.2) or
 *   `+CMS ERROR: <n>` (TS 27.005 §3.2.5), each framed by CR LF (ATV1);
 * - the next command is written only after the final result of the one before (V.250 §5.2.4: a
 *   command line sent before the result of the last one may be ignored or abort it);
 * - `AT+CMGS` (TS 27.005 §3.5.1, text mode) answers the four characters CR LF `>` SPACE, then takes
 *   the text, ended by Ctrl-Z (0x1A) to send or ESC (0x1B) to cancel;
 * - unsolicited result codes (here `+CDS:`, TS 27.005 §3.4.1) may arrive between commands and are
 *   handed to `onUrc`, never taken for a command's answer.
 *
 * The serial port is passed in (serialport's SerialPort in the hub); timeouts run on the hub's clock.
 */
import type { Clock, TimerHandle } from '../../clock.js';

export interface ModemPort {
  write(data: string | Buffer): void;
  on(event: 'data', fn: (chunk: Buffer) => void): void;
}

/** A final result other than OK: `+CMS ERROR: 330` has `cms` 330; a bare `ERROR` has neither. */
export class AtError extends Error {
  constructor(
    readonly command: string,
    readonly result: string,
    readonly cms: number | null,
    readonly cme: number | null,
  ) {
    super(`${command} answered ${result}`);
    this.name = 'AtError';
  }
}

/** The modem said nothing (or not the final result) in time. */
export class AtTimeout extends Error {
  constructor(readonly command: string, ms: number) {
    super(`the modem did not answer ${command} within ${ms} ms`);
    this.name = 'AtTimeout';
  }
}

/**
 * A command given up while it was running (written, no final result yet): the modem may still answer
 * it, so the caller should not trust the line until it is set up again. One aborted while still queued
 * is rejected with the abort's own reason instead: it never reached the modem.
 */
export class AtAbandoned extends Error {
  constructor(readonly command: string, why: string) {
    super(why);
    this.name = 'AtAbandoned';
  }
}

/** Unsolicited result codes we route (TS 27.005 §3.4.1); everything else unasked-for is ignored. */
const URC = /^\+(CDS|CMTI|CDSI|CMT):/;

interface Pending {
  command: string;
  lines: string[];
  /** Text to write after the `> ` prompt (AT+CMGS). */
  text: string | null;
  prompted: boolean;
  resolve(lines: string[]): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

export class AtLink {
  private buf = '';
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly port: ModemPort,
    private readonly clock: Clock,
    private readonly onUrc: (line: string) => void,
  ) {
    port.on('data', (chunk) => this.receive(chunk.toString('latin1')));
  }

  /** Runs `AT...` after every command queued before it; resolves with its information lines on OK. */
  command(cmd: string, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.enqueue(cmd, null, timeoutMs, signal);
  }

  /** `AT+CMGS="<da>"`, the text after the prompt, Ctrl-Z; resolves with the information lines (`+CMGS: <mr>`). */
  sendText(cmd: string, text: string, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.enqueue(cmd, text, timeoutMs, signal);
  }

  private enqueue(cmd: string, text: string | null, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
    const run = (): Promise<string[]> =>
      new Promise<string[]>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        const finish = (): void => {
          this.pending?.timer.cancel();
          this.pending = null;
          signal?.removeEventListener('abort', onAbort);
        };
        /** Gave up waiting (time limit, abort): the modem has not answered yet. */
        const abandon = (err: Error): void => {
          // No prompt seen yet: the modem may still give it and wait for text; ESC cancels that entry
          // (TS 27.005 §3.5.1). After the prompt the text and Ctrl-Z went out at once, so the modem is
          // sending and an ESC would only be a stray character on its command line.
          if (this.pending?.text !== null && this.pending?.prompted === false) this.port.write('\x1b');
          finish();
          reject(err instanceof AtTimeout ? err : new AtAbandoned(cmd, err.message));
        };
        const onAbort = (): void => abandon(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        this.pending = {
          command: cmd,
          lines: [],
          text,
          prompted: false,
          resolve: (lines) => {
            finish();
            resolve(lines);
          },
          // A final result other than OK: the modem is back at the command line already.
          reject: (err) => {
            finish();
            reject(err);
          },
          timer: this.clock.setTimer(() => abandon(new AtTimeout(cmd, timeoutMs)), timeoutMs),
        };
        this.port.write(`${cmd}\r`);
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private receive(data: string): void {
    this.buf += data;
    for (;;) {
      const p = this.pending;
      // The prompt has no line end after it: `\r\n> ` (TS 27.005 §3.5.1).
      if (p && p.text !== null && !p.prompted) {
        const at = this.buf.indexOf('> ');
        const nl = this.buf.indexOf('\r\n', this.buf.startsWith('\r\n') ? 2 : 0);
        if (at >= 0 && (nl < 0 || at < nl || this.buf.slice(0, at).trim() === '')) {
          this.buf = this.buf.slice(at + 2);
          p.prompted = true;
          this.port.write(`${p.text}\x1a`);
          continue;
        }
      }
      const end = this.buf.indexOf('\r\n');
      if (end < 0) return;
      const line = this.buf.slice(0, end).trim();
      this.buf = this.buf.slice(end + 2);
      if (line === '') continue;
      this.line(line);
    }
  }

  private line(line: string): void {
    if (URC.test(line)) {
      this.onUrc(line);
      return;
    }
    const p = this.pending;
    if (!p) return;
    // An echo of the command (ATE1 before our ATE0 took effect) is not an answer.
    if (line === p.command) return;
    if (line === 'OK') return p.resolve(p.lines);
    const cms = /^\+CMS ERROR:\s*(\d+)/.exec(line);
    const cme = /^\+CME ERROR:\s*(\d+)/.exec(line);
    if (line === 'ERROR' || cms || cme || /^\+CM[SE] ERROR:/.test(line)) {
      return p.reject(new AtError(p.command.replace(/=.*$/, '='), line, cms ? Number(cms[1]) : null, cme ? Number(cme[1]) : null));
    }
    p.lines.push(line);
  }
}

/** Splits an AT parameter list on commas outside double quotes; quotes removed. */
export function splitParams(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}
