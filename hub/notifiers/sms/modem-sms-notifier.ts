/**
 * SMS through the hub's own serial GSM modem (Quectel BG96/EC2x family), text mode, with delivery
 * reports. Set-up, once per opening of the port (3GPP TS 27.005 / TS 27.007; the same commands in the
 * Quectel BG96 AT Commands Manual, SMS chapter):
 *
 *   ATE0                  no echo (V.250 §6.2.4), so answers are only answers
 *   AT+CMGF=1             text mode (TS 27.005 §3.2.3)
 *   AT+CSCS="IRA"         the text is ASCII on the wire (TS 27.007 §5.5); see gsm7.ts
 *   AT+CSMS=1             phase 2+ message service (TS 27.005 §3.2.1): status reports routed to us
 *                         must be acknowledged with +CNMA, so the network knows the hub got them
 *   AT+CSMP=49,167,0,0    first octet 49 = 0x31: SMS-SUBMIT (TP-MTI 01), relative validity period
 *                         (TP-VPF 10) and TP-SRR (bit 5, a status report requested; TS 23.040
 *                         §9.2.3.1/§9.2.3.3/§9.2.3.5); 167 = 24 hours (§9.2.3.12.1); PID 0; DCS 0
 *                         (GSM 7-bit default alphabet) (TS 27.005 §3.3.2)
 *   AT+CNMI=2,1,0,1,0     mode 2: result codes are held by the modem while the line is busy (during
 *                         AT+CMGS) and flushed after; ds=1: status reports come to us as
 *                         `+CDS: <fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>` (TS 27.005 §3.4.1)
 *
 * Send: `AT+CMGS="<da>"` CR, the `> ` prompt, the text, Ctrl-Z; `+CMGS: <mr>` and OK mean the network
 * took it (TS 27.005 §3.5.1): recorded `sent`. The `+CDS` with that <mr> later says `delivered`
 * (status 0) or `failed` with the reason (TS 23.040 §9.2.3.15), and is acknowledged with `AT+CNMA`
 * (TS 27.005 §3.4.4). `+CMS ERROR: <n>` fails the attempt with what the code means (§3.2.5).
 */
import { SerialPort } from 'serialport';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { DeliveryError, type DeliveryOutcome, type DeliveryReport, type Notice, type Notifier, type UnmatchedReport } from '../notifier.js';
import { AtAbandoned, AtError, AtLink, AtTimeout, splitParams, type ModemPort } from './at-link.js';
import { fitsOneSms, SMS_MAX_SEPTETS } from './gsm7.js';
import { smsText } from './sms-text.js';
import { cmsReason, dialable, reportStatus } from './sms-codes.js';
import { PendingReports } from './pending-reports.js';

export const MODEM_SETUP = ['ATE0', 'AT+CMGF=1', 'AT+CSCS="IRA"', 'AT+CSMS=1', 'AT+CSMP=49,167,0,0', 'AT+CNMI=2,1,0,1,0'] as const;

export interface ModemSmsOptions {
  path: string;
  baudRate: number;
  /** Time limit of each set-up command (AT+CMGS has the notice's time limit). */
  commandTimeoutMs: number;
  clock: Clock;
  log: Logger;
  /** Opens the port (tests may pass their own); serialport's SerialPort by default. */
  open?: (path: string, baudRate: number) => Promise<ModemPort & { close(): Promise<void> }>;
}

async function openSerial(path: string, baudRate: number): Promise<ModemPort & { close(): Promise<void> }> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return {
    write: (d) => void port.write(d),
    on: (ev, fn) => void port.on(ev, fn),
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}

export class ModemSmsNotifier implements Notifier {
  readonly channel = 'sms';
  private link: Promise<{ at: AtLink; port: ModemPort & { close(): Promise<void> } }> | null = null;
  private readonly pending = new PendingReports();
  private listener: ((r: DeliveryReport | UnmatchedReport) => Promise<boolean>) | null = null;
  private closed = false;

  constructor(private readonly o: ModemSmsOptions) {}

  onReport(listener: (r: DeliveryReport | UnmatchedReport) => Promise<boolean>): void {
    this.listener = listener;
  }

  /**
   * At start-up: opens the modem at once, so delivery reports of SMS sent before a restart are heard
   * (and acknowledged) without waiting for the next alarm. A modem that is not there is logged; the
   * next send tries again.
   */
  resume(): void {
    this.ready(new AbortController().signal).catch((err: Error) => this.o.log.warn({ path: this.o.path, reason: err.message }, 'the SMS modem is not ready; SMS will be tried at the next alarm'));
  }

  async send(notice: Notice, signal: AbortSignal): Promise<DeliveryOutcome> {
    const phone = notice.recipient?.phone ? dialable(notice.recipient.phone) : null;
    if (!phone) throw new DeliveryError(`"${notice.recipient?.phone ?? ''}" is not a phone number the modem can dial`, false, 'refused');
    const text = smsText(notice);
    // smsText always fits; this guards the rule at the modem, where it matters.
    if (!fitsOneSms(text)) throw new DeliveryError(`the text does not fit one SMS (${SMS_MAX_SEPTETS} GSM characters)`, false);
    const { at } = await this.ready(signal);
    let lines: string[];
    try {
      lines = await at.sendText(`AT+CMGS="${phone}"`, text, 120_000, signal);
    } catch (err) {
      // Given up mid-send (the notice's time limit): the modem may still answer late; start afresh.
      // One aborted while still queued behind another SMS never reached the modem: the line is fine.
      if (err instanceof AtAbandoned) this.reset();
      throw this.failure(err);
    }
    const mr = lines.map((l) => /^\+CMGS:\s*(\d+)/.exec(l)).find(Boolean)?.[1];
    if (mr === undefined) throw new DeliveryError(`the modem answered OK to AT+CMGS without a message reference (${lines.join(' | ') || 'no lines'})`);
    this.pending.add(mr, notice, this.o.clock.now());
    this.o.log.info({ alarmId: notice.alert.alarmId, noticeId: notice.noticeId, mr }, 'SMS accepted by the network; waiting for its delivery report');
    return { status: 'sent', detail: `the network accepted it (+CMGS: ${mr}); waiting for the delivery report`, ref: mr };
  }

  private failure(err: unknown): DeliveryError {
    if (err instanceof DeliveryError) return err;
    if (err instanceof AtError && err.cms !== null) {
      const { reason, retryable } = cmsReason(err.cms);
      return new DeliveryError(`the modem did not send it: ${reason}`, retryable, retryable ? 'other' : 'refused');
    }
    if (err instanceof AtError) return new DeliveryError(`the modem did not send it: ${err.message}`);
    if (err instanceof AtAbandoned) return new DeliveryError(`the modem did not answer AT+CMGS in time: ${err.message}`, true, 'unreachable');
    if (err instanceof AtTimeout) {
      this.reset();
      return new DeliveryError(`the modem did not send it: ${err.message}`, true, 'unreachable');
    }
    return new DeliveryError(`the modem did not send it: ${(err as Error).message ?? String(err)}`);
  }

  /** Opens the port and runs the set-up; a failure closes it so the next attempt starts again. */
  private ready(signal: AbortSignal): Promise<{ at: AtLink; port: ModemPort & { close(): Promise<void> } }> {
    if (this.closed) return Promise.reject(new DeliveryError('hub stopping', false));
    if (!this.link) {
      const made = (async () => {
        let port: ModemPort & { close(): Promise<void> };
        try {
          port = await (this.o.open ?? openSerial)(this.o.path, this.o.baudRate);
        } catch (err) {
          throw new DeliveryError(`cannot open the SMS modem on ${this.o.path}: ${(err as Error).message}`, true, 'unreachable');
        }
        const at = new AtLink(port, this.o.clock, (line) => this.urc(line));
        try {
          for (const cmd of MODEM_SETUP) await at.command(cmd, this.o.commandTimeoutMs, signal);
        } catch (err) {
          await port.close().catch(() => undefined);
          const why = err instanceof AtError || err instanceof AtTimeout ? err.message : (err as Error).message;
          throw new DeliveryError(`the SMS modem on ${this.o.path} did not accept its set-up: ${why}`, true, 'unreachable');
        }
        this.o.log.info({ path: this.o.path }, 'SMS modem ready (text mode, delivery reports on)');
        return { at, port };
      })();
      this.link = made;
      made.catch(() => {
        if (this.link === made) this.link = null;
      });
    }
    return this.link;
  }

  private reset(): void {
    const l = this.link;
    this.link = null;
    void l?.then((x) => x.port.close()).catch(() => undefined);
  }

  /** `+CDS: <fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>` (TS 27.005 §3.4.1, text mode). */
  private urc(line: string): void {
    if (!line.startsWith('+CDS:')) return;
    const p = splitParams(line.slice(5));
    const mr = p[1];
    const st = Number(p[6]);
    void this.link?.then(({ at }) => at.command('AT+CNMA', this.o.commandTimeoutMs).catch((err) => this.o.log.warn({ err: (err as Error).message }, 'the modem did not take the acknowledgement of a delivery report')));
    if (p.length < 7 || !/^\d+$/.test(mr ?? '') || !Number.isInteger(st)) {
      this.o.log.warn({ line }, 'unreadable delivery report from the SMS modem');
      return;
    }
    const outcome = reportStatus(st);
    const now = this.o.clock.now();
    if (!outcome.final) {
      this.o.log.info({ mr, st }, `SMS delivery report: ${outcome.text}`);
      return;
    }
    const status = outcome.delivered ? 'delivered' : 'failed';
    const detail = `+CDS status ${st}: ${outcome.text}`;
    const report = this.pending.take(mr, status, detail, now);
    // Not waiting for it here (sent before a restart): the dispatcher looks <mr> up among the notices.
    void this.listener?.(report ?? { unmatched: true, ref: mr, status, detail }).then((recorded) => {
      if (!recorded) this.o.log.info({ mr, st }, 'delivery report for an SMS this hub has no record of; not recorded');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const l = this.link;
    this.link = null;
    await l?.then((x) => x.port.close()).catch(() => undefined);
  }
}
