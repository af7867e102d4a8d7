/**
 * SIA DC-09 over TCP to an alarm receiving centre (ARC): one link, one message in flight at a time,
 * each answered by ACK (delivered), NAK (the receiver rejected our time or the frame: resynchronise
 * the timestamp from the NAK and retransmit with the same sequence number) or DUH (the receiver does
 * not understand the message: no point retrying). NULL supervision messages keep the link proven
 * when there is nothing to report.
 */
import { connect, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { DeliveryError, type DeliveryOutcome, type Notice, type Notifier } from '../notifier.js';
import { encodeFrame, nextSeq, splitFrames, type Dc09Message } from './dc09-frame.js';
import { isBareAnswer, readAnswer, type Dc09Answer } from './dc09-answer.js';
import { cidData, cidFor } from './contact-id.js';
import { locationBlocks } from './dc09-location.js';

/**
 * DC-09 receivers accept a timestamp from 20 s behind to 40 s ahead of their own clock (DC-09 5.5.1.9):
 * a NAK whose time is within that of ours was not about the time.
 */
const CLOCK_WINDOW_BEFORE_MS = 20_000;
const CLOCK_WINDOW_AFTER_MS = 40_000;

export interface Dc09Options {
  host: string;
  port: number;
  /** Hex digits, 3-16. */
  account: string;
  /** Hex digits, or null to send no R field. */
  receiver: string | null;
  /** Hex digits ("0" when the ARC uses no line prefix). */
  line: string;
  key: Buffer | null;
  /** Contact ID group (partition), 0-99. */
  group: number;
  /** Worker id to the user/zone number the ARC knows them by (0-999); others are sent as 000. */
  users: Record<string, number>;
  /** How many NAKs one message may get (each followed by a retransmission). */
  maxNaks: number;
  /** NULL supervision interval; 0 turns it off. */
  supervisionMs: number;
  /** How long a supervision message may wait for its answer. */
  supervisionTimeoutMs: number;
  clock: Clock;
  log: Logger;
  /** Each supervision result (null: acknowledged), so the path state covers quiet times too. */
  onSupervision?(err: Error | null): void;
}

interface Waiter {
  resolve(frame: Dc09Answer): void;
  reject(err: Error): void;
}

export class Dc09Notifier implements Notifier {
  readonly channel = 'arc';
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buffer = '';
  private waiter: Waiter | null = null;
  private seq = 0;
  /** Receiver time minus ours, learnt from a NAK. */
  private offsetMs = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** A retransmission keeps its sequence number. */
  private seqByNotice = new Map<string, number>();
  private supervision: TimerHandle | null = null;
  private closed = false;
  /** For metrics and tests. */
  readonly counters = { sent: 0, acks: 0, naks: 0, duhs: 0, nulls: 0, nullFailures: 0 };

  constructor(private readonly o: Dc09Options) {
    this.armSupervision();
  }

  async send(notice: Notice, signal: AbortSignal): Promise<DeliveryOutcome> {
    const alert = notice.alert;
    // A location follow-up (issue 20) restates the open alarm: qualifier 6, the same event code.
    const ev = cidFor(alert.kind, notice.event === 'position' ? 'position' : alert.state, alert.drill);
    const zone = (alert.workerId && this.o.users[alert.workerId]) || 0;
    const data = cidData(this.o.account, { qualifier: ev.qualifier, code: ev.code, group: this.o.group, zone });
    const given = Number(notice.ref ?? NaN);
    let seq = Number.isInteger(given) && given >= 1 && given <= 9999 ? given : this.seqByNotice.get(notice.noticeId);
    if (seq === undefined) {
      this.seq = nextSeq(this.seq);
      seq = this.seq;
      this.seqByNotice.set(notice.noticeId, seq);
      if (this.seqByNotice.size > 1000) this.seqByNotice.delete(this.seqByNotice.keys().next().value!);
    }
    // Issue 20: where the worker was last known to be, while the alarm is open (the alert carries it only then).
    const extended = alert.position ? locationBlocks({ lat: alert.position.lat, lon: alert.position.lon, fixAt: Date.parse(alert.position.fixAt) }) : [];
    if (alert.position && extended.length === 0) this.o.log.warn({ alarmId: alert.alarmId, noticeId: notice.noticeId }, 'the position could not be written in DC-09 X/Y/H blocks: the ARC is sent the event without it');
    await this.exchange({ id: 'ADM-CID', seq, data, extended }, signal);
    return { status: 'delivered', detail: `ACK seq ${String(seq).padStart(4, '0')} (${data.split('|')[1]} ${ev.name})`, ref: String(seq) };
  }

  /** The next sequence number, for a notice the dispatcher stores with it before its first send. */
  reserveRef(): string {
    this.seq = nextSeq(this.seq);
    return String(this.seq);
  }

  /**
   * After a restart, carry on from the last acknowledged sequence number instead of 0001: a receiver
   * may take a repeated number for a retransmission of the message it already has, and drop it.
   */
  resume(lastRef: string | null): void {
    const last = Number(lastRef);
    if (lastRef !== null && Number.isInteger(last) && last >= 1 && last <= 9999 && this.seq === 0) this.seq = last;
  }

  /** One NULL message: proves the path to the ARC. */
  async supervise(signal: AbortSignal): Promise<void> {
    this.counters.nulls++;
    await this.exchange({ id: 'NULL', seq: 0, data: '', extended: [] }, signal);
  }

  private exchange(m: { id: 'ADM-CID' | 'NULL'; seq: number; data: string; extended: string[] }, signal: AbortSignal): Promise<Dc09Answer> {
    const run = () => this.exchangeNow(m, signal);
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async exchangeNow(m: { id: 'ADM-CID' | 'NULL'; seq: number; data: string; extended: string[] }, signal: AbortSignal): Promise<Dc09Answer> {
    if (this.closed) throw new DeliveryError('ARC link closed', false);
    signal.throwIfAborted();
    let clockNaks = 0;
    let agreeingNaks = 0;
    for (let naks = 0; ; naks++) {
      const sentAt = this.o.clock.now() + this.offsetMs;
      const msg: Dc09Message = {
        id: m.id,
        encrypted: this.o.key !== null,
        seq: m.seq,
        receiver: this.o.receiver,
        line: this.o.line,
        account: this.o.account,
        data: m.data,
        extended: m.extended,
        timestamp: sentAt,
      };
      const socket = await this.connectNow(signal);
      const reply = this.awaitReply(signal);
      socket.write(encodeFrame(msg, this.o.key), 'latin1');
      this.counters.sent++;
      const r = await reply;
      if (!r.intact) {
        // Damaged on the way back: the ARC may have the message; a retransmission keeps its number.
        if (naks + 1 >= this.o.maxNaks) throw new DeliveryError('the ARC answer failed its CRC or length check every time', true, 'unreachable');
        continue;
      }
      if (r.kind === 'ACK' || r.kind === 'RSP') {
        if (r.seq !== null && r.seq !== m.seq) throw new DeliveryError(`ARC acknowledged seq ${r.seq}, expected ${m.seq}`);
        if (r.account !== null && r.account.toUpperCase() !== this.o.account.toUpperCase()) throw new DeliveryError(`ARC acknowledged account ${r.account}, ours is ${this.o.account}`);
        this.counters.acks++;
        return r;
      }
      if (r.kind === 'DUH') {
        this.counters.duhs++;
        throw new DeliveryError(
          `the ARC answered DUH (it does not understand this message): account ${this.o.account} or the ADM-CID message type is not set up there; check notifiers.arc with the ARC`,
          false,
          'refused',
        );
      }
      if (r.kind === 'EMPTY') {
        this.counters.naks++;
        // pysiaalarm answers LF CR to a message whose CRC it rejects.
        if (naks + 1 >= this.o.maxNaks) throw new DeliveryError(`the ARC rejected the message ${naks + 1} times without a reason (empty answer: it found the frame damaged)`, true, 'refused');
        continue;
      }
      // NAK
      this.counters.naks++;
      if (r.timestamp === null) {
        // A bare "NAK" (no frame, no time): the receiver does not know this account (pysiaalarm).
        throw new DeliveryError(`the ARC refused the message (NAK without a time): it does not know account ${this.o.account}, or cannot read the message with its key; check notifiers.arc with the ARC`, false, 'refused');
      }
      const diff = r.timestamp - sentAt;
      if (diff > CLOCK_WINDOW_AFTER_MS || diff < -CLOCK_WINDOW_BEFORE_MS) {
        clockNaks++;
        this.offsetMs = r.timestamp - this.o.clock.now();
        this.o.log.warn({ offsetMs: this.offsetMs }, 'ARC answered NAK: its clock differs from ours; timestamp resynchronised to the receiver clock and message resent');
        if (naks + 1 >= this.o.maxNaks) throw new DeliveryError(`the ARC answered NAK ${naks + 1} times; its clock differs from ours by ${Math.round(diff / 1000)} s`, true, 'refused');
        continue;
      }
      agreeingNaks++;
      // One NAK while the clocks agree may be a frame damaged on the way; a second is a refusal:
      // the key, account or line do not match (a rotated key, a typo). Retrying will not help.
      if (agreeingNaks >= 2 || naks + 1 >= this.o.maxNaks) {
        throw new DeliveryError(
          `the ARC refused the message (NAK ${naks + 1} times) although our clocks agree${clockNaks ? ' after resynchronising' : ''}: the encryption key, account or line do not match what the ARC holds for this hub; check notifiers.arc with the ARC`,
          false,
          'refused',
        );
      }
    }
  }

  private awaitReply(signal: AbortSignal): Promise<Dc09Answer> {
    return new Promise<Dc09Answer>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiter = null;
        // The answer may still come; a fresh connection keeps it from being read as the next one's.
        this.dropSocket();
        reject(new DeliveryError(`no answer from the ARC (${String(signal.reason ?? 'aborted')})`, true, 'unreachable'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (f) => {
          signal.removeEventListener('abort', onAbort);
          resolve(f);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
    });
  }

  private connectNow(signal: AbortSignal): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (!this.connecting) {
      this.connecting = new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: this.o.host, port: this.o.port });
        s.setNoDelay(true);
        const onError = (err: Error): void => {
          this.connecting = null;
          s.destroy();
          reject(new DeliveryError(`ARC ${this.o.host}:${this.o.port} unreachable: ${err.message}`, true, 'unreachable'));
        };
        s.once('error', onError);
        s.once('connect', () => {
          s.off('error', onError);
          this.connecting = null;
          this.socket = s;
          this.buffer = '';
          s.setEncoding('latin1');
          s.on('data', (chunk: string) => this.onData(chunk));
          s.on('error', (err) => this.o.log.warn({ err: err.message }, 'ARC link error'));
          s.on('close', () => {
            if (this.socket === s) this.socket = null;
            const w = this.waiter;
            this.waiter = null;
            w?.reject(new DeliveryError('ARC closed the connection before answering', true, 'unreachable'));
          });
          resolve(s);
        });
      });
    }
    const pending = this.connecting;
    return new Promise<Socket>((resolve, reject) => {
      const onAbort = (): void => reject(new DeliveryError(`ARC connection timed out (${String(signal.reason ?? 'aborted')})`, true, 'unreachable'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (s) => (signal.removeEventListener('abort', onAbort), resolve(s)),
        (e: Error) => (signal.removeEventListener('abort', onAbort), reject(e)),
      );
    });
  }

  private onData(chunk: string): void {
    const text = this.buffer + chunk;
    // An answer with no LF ... CR around it (pysiaalarm's bare "NAK" for an unknown account).
    if (!text.includes('\n') && isBareAnswer(text)) {
      this.buffer = '';
      this.deliverAnswer(text.trim());
      return;
    }
    const { frames, rest } = splitFrames(text);
    this.buffer = rest.slice(-4096);
    for (const raw of frames) this.deliverAnswer(raw);
  }

  private deliverAnswer(raw: string): void {
    const w = this.waiter;
    if (!w) {
      this.o.log.warn('unexpected frame from the ARC ignored');
      return;
    }
    this.waiter = null;
    try {
      w.resolve(readAnswer(raw, this.o.key));
    } catch (err) {
      w.reject(new DeliveryError(`unreadable answer from the ARC: ${(err as Error).message} (${JSON.stringify(raw.slice(0, 80))})`, true, 'refused'));
    }
  }

  private dropSocket(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private armSupervision(): void {
    if (this.o.supervisionMs <= 0 || this.closed) return;
    this.supervision = this.o.clock.setTimer(() => {
      const ctl = new AbortController();
      const t = this.o.clock.setTimer(() => ctl.abort(new Error('supervision timeout')), this.o.supervisionTimeoutMs);
      this.supervise(ctl.signal)
        .then(
          () => {
            this.o.log.debug('ARC NULL supervision acknowledged');
            this.o.onSupervision?.(null);
          },
          (err: Error) => {
            this.counters.nullFailures++;
            this.o.onSupervision?.(err);
            const refused = err instanceof DeliveryError && err.kind === 'refused';
            this.o.log.warn({ err: err.message }, refused ? 'ARC NULL supervision refused: the alarm receiving centre answers but refuses our messages' : 'ARC NULL supervision failed: the path to the alarm receiving centre is down');
          },
        )
        .finally(() => t.cancel());
      this.armSupervision();
    }, this.o.supervisionMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.supervision?.cancel();
    const w = this.waiter;
    this.waiter = null;
    w?.reject(new DeliveryError('ARC link closed', false));
    this.dropSocket();
  }
}
