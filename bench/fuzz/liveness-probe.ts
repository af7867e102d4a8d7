/**
 * The liveness probe during the fuzzing: a fob of its own (test/helpers/mqtt-fob.ts, the wire
 * behaviour of a fob: client id = username = device id, QoS 1 events, the hub's `ack` on its
 * command topic) presses SOS every interval and times the PUBACK (the alarm is durable) and the
 * application ack. No ack within the hang limit is a hang: the one thing the fuzzing must never
 * cause is a fob in danger whose SOS the hub does not take.
 */
import { connectFob, type TestFob } from '../../test/helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';

export interface ProbeResult {
  presses: number;
  acked: number;
  /** Presses with no application ack within hangMs. */
  hangs: { at: string; what: string }[];
  ackMs: number[];
}

export class LivenessProbe {
  readonly result: ProbeResult = { presses: 0, acked: 0, hangs: [], ackMs: [] };
  private fob: TestFob | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private seq = 0;

  constructor(
    private readonly url: string,
    private readonly deviceId: string,
    private readonly secret: string,
    private readonly intervalMs: number,
    private readonly hangMs: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<ProbeResult> {
    this.stopped = true;
    await this.loop;
    await this.fob?.close().catch(() => undefined);
    return this.result;
  }

  private async run(): Promise<void> {
    const boot = Math.floor(Date.now() / 1000) % 1_000_000;
    while (!this.stopped) {
      const started = Date.now();
      await this.press(makeEventId(boot, ++this.seq));
      // The pause between presses (a rate, not a timing rule under test).
      const wait = this.intervalMs - (Date.now() - started);
      for (let t = 0; t < wait && !this.stopped; t += 100) await new Promise((r) => setTimeout(r, Math.min(100, wait - t)));
    }
  }

  private async press(id: string): Promise<void> {
    this.result.presses++;
    const t0 = performance.now();
    try {
      if (!this.fob || !this.fob.client.connected) {
        await this.fob?.close().catch(() => undefined);
        this.fob = await connectFob(this.url, this.deviceId, this.secret);
      }
      const fob = this.fob;
      const acked = fob.waitFor((c) => c.k === 'ack' && c.i === id, this.hangMs);
      // Awaited below; when the PUBACK times out first it is never awaited, and its own timeout must
      // not then crash the harness as an unhandled rejection (a full run died of it at 16 minutes).
      acked.catch(() => undefined);
      await withTimeout(fob.send({ i: id, k: 'sos', ag: 0 }), this.hangMs, 'no PUBACK');
      await acked;
      this.result.acked++;
      this.result.ackMs.push(Math.round((performance.now() - t0) * 10) / 10);
    } catch (err) {
      this.result.hangs.push({ at: new Date().toISOString(), what: `SOS ${id}: ${(err as Error).message.slice(0, 200)}` });
      await this.fob?.close().catch(() => undefined);
      this.fob = null;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))).finally(() => clearTimeout(timer))]);
}
