/**
 * A GSM modem at the far end of a real pseudo-terminal pair (socat), speaking the SMS subset of the
 * AT command set the way a Quectel BG96/EC2x does (3GPP TS 27.005 text mode; V.250 command lines).
 * It is the edge the hub's SMS channel talks to; it is strict, so a hub that gets the protocol wrong
 * fails here instead of on a real modem at 2 a.m.:
 *
 * - command lines end with CR (V.250 §5.2.1; S3 = 13); LF after it is ignored; echo is on until ATE0
 *   (V.250 §6.2.4: E1 is the factory default);
 * - one command at a time: a command line that arrives before the final result of the last one is
 *   recorded in `violations` and ignored (V.250 §5.2.4);
 * - `AT+CMGS="<da>"` only in text mode (in PDU mode it wants a length: +CMS ERROR: 304), answered with
 *   CR LF `>` SPACE and nothing else (TS 27.005 §3.5.1); the text ends with Ctrl-Z (send) or ESC
 *   (cancel: OK, nothing sent); more than 160 septets (TS 23.038 §6.1.2.1.1), or a character the IRA
 *   set cannot carry, is +CMS ERROR: 305 (invalid text mode parameter);
 * - `+CMGS: <mr>` then OK; <mr> counts 0-255 (TS 23.040 §9.2.3.6);
 * - a status report only when the first octet of AT+CSMP had TP-SRR (0x20, TS 23.040 §9.2.3.5) and
 *   AT+CNMI's <ds> is 1, `reportDelayMs` of the shared (manual) clock after the send, as
 *   `+CDS: <fo>,<mr>,"<ra>",<tora>,"<scts>","<dt>",<st>` (TS 27.005 §3.4.1); held while a command is
 *   running and flushed after its result (CNMI <mode> 2); with AT+CSMS=1 each must be acknowledged
 *   with AT+CNMA (TS 27.005 §3.4.4), which is +CMS ERROR: 340 when none is expected;
 * - `failNext` makes the next sends answer +CMS ERROR: <n> (e.g. 331: no network service);
 * - `stallNext` makes the next AT+CMGS give no prompt at all (a modem stuck searching for the network):
 *   it stays busy until an ESC cancels the send (TS 27.005 §3.5.1), which it answers with nothing.
 */
import { SerialPort } from 'serialport';
import type { Clock } from '../../hub/clock.js';
import { startPty, type Pty } from './virtual-espruino/harness.js';

export interface SentSms {
  to: string;
  text: string;
  mr: number;
  /** First octet AT+CSMP had set when it was sent. */
  fo: number;
}

export interface SmsModemSimOptions {
  clock: Clock;
  /** Network delay before the status report. */
  reportDelayMs?: number;
  /** TP-Status of the report for a number (TS 23.040 §9.2.3.15); 0 (received) by default. */
  reportStatus?: (to: string) => number | null;
}

const EXT = new Set(['^', '{', '}', '\\', '[', '~', ']', '|']);

function scts(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())},${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}+00`;
}

export class SmsModemSim {
  readonly sent: SentSms[] = [];
  readonly commands: string[] = [];
  readonly violations: string[] = [];
  readonly failNext: number[] = [];
  stallNext = 0;
  /** AT+CMGS sends cancelled with ESC while stalled. */
  cancelled = 0;
  private stalled = false;
  /** +CDS lines written, and the AT+CNMA acknowledgements received. */
  readonly reports: string[] = [];
  acks = 0;
  /** Everything the hub wrote, byte for byte (latin1). */
  received = '';
  private echo = true;
  private textMode = false;
  private csms = 0;
  private fo = 17;
  private cnmi = [0, 0, 0, 0, 0];
  private mr = -1;
  private line = '';
  private busy = false;
  private inText: { to: string; text: string } | null = null;
  private held: string[] = [];
  private unacked = 0;

  private constructor(
    private readonly port: SerialPort,
    private readonly pty: Pty,
    private readonly o: SmsModemSimOptions,
  ) {
    port.on('data', (b: Buffer) => this.receive(b.toString('latin1')));
  }

  /** The hub opens `path` (the host end of the pty). */
  get path(): string {
    return this.pty.host;
  }

  static async start(o: SmsModemSimOptions): Promise<SmsModemSim> {
    const pty = await startPty();
    const port = new SerialPort({ path: pty.board, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    return new SmsModemSim(port, pty, o);
  }

  private write(s: string): void {
    this.port.write(Buffer.from(s, 'latin1'));
  }

  private result(s: string): void {
    this.write(`\r\n${s}\r\n`);
    this.busy = false;
    // CNMI mode 2: result codes held while the line was busy are flushed now.
    for (const r of this.held.splice(0)) this.emitReport(r);
  }

  private receive(data: string): void {
    this.received += data;
    for (const ch of data) {
      if (this.inText) {
        if (this.echo && ch !== '\x1a' && ch !== '\x1b') this.write(ch);
        if (ch === '\x1a') this.finishText();
        else if (ch === '\x1b') {
          this.inText = null;
          this.result('OK');
        } else this.inText.text += ch;
        continue;
      }
      if (this.stalled) {
        if (ch === '\x1b') {
          this.stalled = false;
          this.busy = false;
          this.cancelled++;
        }
        continue;
      }
      if (ch === '\n' && this.line === '') continue;
      if (this.echo) this.write(ch);
      if (ch !== '\r') {
        this.line += ch;
        continue;
      }
      const cmd = this.line.trim();
      this.line = '';
      if (cmd === '') continue;
      if (this.busy) {
        this.violations.push(`"${cmd}" sent before the result of the last command`);
        continue;
      }
      this.commands.push(cmd);
      this.busy = true;
      this.run(cmd);
    }
  }

  private run(cmd: string): void {
    const up = cmd.toUpperCase();
    if (!up.startsWith('AT')) return this.result('ERROR');
    let m: RegExpExecArray | null;
    if (up === 'AT') return this.result('OK');
    if ((m = /^ATE([01])$/.exec(up))) {
      this.echo = m[1] === '1';
      return this.result('OK');
    }
    if ((m = /^AT\+CMGF=([01])$/.exec(up))) {
      this.textMode = m[1] === '1';
      return this.result('OK');
    }
    if (/^AT\+CSCS="(IRA|GSM)"$/.test(up)) return this.result('OK');
    if ((m = /^AT\+CSMS=([01])$/.exec(up))) {
      this.csms = Number(m[1]);
      return this.result('+CSMS: 1,1,1\r\n\r\nOK');
    }
    if ((m = /^AT\+CSMP=(\d+),(\d+),(\d+),(\d+)$/.exec(up))) {
      if (!this.textMode) return this.result('+CMS ERROR: 302');
      this.fo = Number(m[1]);
      return this.result('OK');
    }
    if ((m = /^AT\+CNMI=([0-3]),([0-3]),([0-3]),([0-2]),([01])$/.exec(up))) {
      this.cnmi = m.slice(1).map(Number);
      return this.result('OK');
    }
    if (up === 'AT+CNMA') {
      if (!this.textMode) return this.result('+CMS ERROR: 302');
      if (this.csms !== 1 || this.unacked === 0) return this.result('+CMS ERROR: 340');
      this.unacked--;
      this.acks++;
      return this.result('OK');
    }
    if ((m = /^AT\+CMGS="(\+?[0-9]{3,20})"(?:,(129|145))?$/i.exec(cmd))) {
      if (!this.textMode) return this.result('+CMS ERROR: 304');
      if (this.stallNext > 0) {
        this.stallNext--;
        this.stalled = true;
        return;
      }
      this.inText = { to: m[1], text: '' };
      // Exactly CR LF '>' SPACE (TS 27.005 §3.5.1).
      return this.write('\r\n> ');
    }
    if (/^AT\+CMGS=/i.test(cmd)) return this.result(this.textMode ? '+CMS ERROR: 305' : '+CMS ERROR: 304');
    return this.result('ERROR');
  }

  private finishText(): void {
    const { to, text } = this.inText!;
    this.inText = null;
    let septets = 0;
    for (const ch of text) {
      const c = ch.charCodeAt(0);
      if ((c < 0x20 && ch !== '\n' && ch !== '\r') || c > 0x7e || ch === '`') return this.result('+CMS ERROR: 305');
      septets += EXT.has(ch) ? 2 : 1;
    }
    if (septets > 160) return this.result('+CMS ERROR: 305');
    const fail = this.failNext.shift();
    if (fail !== undefined) return this.result(`+CMS ERROR: ${fail}`);
    this.mr = (this.mr + 1) % 256;
    const mr = this.mr;
    this.sent.push({ to, text, mr, fo: this.fo });
    const sentAt = this.o.clock.now();
    this.result(`+CMGS: ${mr}\r\n\r\nOK`);
    const wantsReport = (this.fo & 0x20) !== 0 && this.cnmi[3] === 1;
    const st = (this.o.reportStatus ?? (() => 0))(to);
    if (!wantsReport || st === null) return;
    this.o.clock.setTimer(() => {
      const line = `+CDS: 6,${mr},"${to}",${to.startsWith('+') ? 145 : 129},"${scts(sentAt)}","${scts(this.o.clock.now())}",${st}`;
      if (this.busy || this.inText) this.held.push(line);
      else this.emitReport(line);
    }, this.o.reportDelayMs ?? 5000);
  }

  private emitReport(line: string): void {
    this.reports.push(line);
    if (this.csms === 1) this.unacked++;
    this.write(`\r\n${line}\r\n`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
    await this.pty.stop();
  }
}
