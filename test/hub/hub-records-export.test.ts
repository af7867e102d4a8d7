/**
 * Issue 17, the fuzz harness's stall (docs/benchmarks.md "Fuzz and fault harness"), reproduced
 * against a real hub (real aedes on real sockets, real SQLite, the real HTTP API): the records export
 * made two Intl.DateTimeFormat objects per CSV row (views.ts localStamp). Each costs about 1 ms of CPU
 * and an ICU object outside the JavaScript heap, so one export of a few thousand timeline rows held the
 * event loop for over 10 s (the probe fob's SOS went unacknowledged, `GET /app.js` unanswered) and the
 * hub's RSS climbed to 1 GB while its heap stayed small. The cost of an export must not grow with its
 * rows beyond the rows themselves: the hub makes at most one formatter, whatever the export's size.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { userClient } from '../dashboard/api-client.js';

let t: TestHub | null = null;
const fobs: TestFob[] = [];
const RealDateTimeFormat = Intl.DateTimeFormat;
afterEach(async () => {
  Intl.DateTimeFormat = RealDateTimeFormat;
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t?.stop();
  t = null;
});

/** Counts every Intl.DateTimeFormat made in this process (the hub runs in it) from now on. */
function countFormatters(): { made: number } {
  const count = { made: 0 };
  Intl.DateTimeFormat = new Proxy(RealDateTimeFormat, {
    construct(target, args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
      count.made++;
      return new target(...args);
    },
    apply(target, _this, args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
      count.made++;
      return target(...args);
    },
  });
  return count;
}

describe('the records export under the fuzz harness (issue 17)', () => {
  it('an export of hundreds of timeline rows makes at most one date formatter, and every row has its local times', async () => {
    t = await startTestHub({ manualClock: true });
    const WORKERS = 6;
    const PER_WORKER = 25;
    for (let w = 0; w < WORKERS; w++) {
      await t.addWorker(`w${w}`, { name: `Worker ${w}` });
      const { secret } = await t.addDevice(`fob-${w}`, { workerId: `w${w}` });
      const f = await connectFob(t.mqttUrl, `fob-${w}`, secret);
      fobs.push(f);
      // What the fuzz fobs did: SOS after SOS that nobody takes, each a new incident with its timeline.
      for (let i = 1; i <= PER_WORKER; i++) {
        const id = makeEventId(1, i);
        const acked = f.waitFor((c) => c.k === 'ack' && c.i === id);
        await f.send({ i: id, k: i % 2 ? 'sos' : 'cov', ag: 0 });
        await acked;
      }
    }
    await t.settle();
    const officer = await userClient(t, 'dana', 'duty_officer');
    const incidents = (await officer.get<{ records: unknown[] }>('/api/records?limit=5000')).body.records.length;
    // More incidents than one slice of the export (EXPORT_SLICE, 100), so the sliced path runs too.
    expect(incidents).toBeGreaterThan(100);

    const formatters = countFormatters();
    const csv = await officer.get('/api/records/export.csv?limit=5000');
    Intl.DateTimeFormat = RealDateTimeFormat;
    expect(csv.status).toBe(200);
    const rows = csv.text.trim().split('\r\n').slice(1);
    expect(rows.length).toBeGreaterThanOrEqual(incidents);
    // Every incident is in it, each row with both local times (raised_local, at_local).
    expect(new Set(rows.map((r) => r.split('","')[0]))).toHaveProperty('size', incidents);
    for (const r of rows) expect(r).toMatch(/"\d{4}-\d\d-\d\d \d\d:\d\d [^"]+","\d{4}-\d\d-\d\d \d\d:\d\d [^"]+","[^"]*","[^"]*","[^"]*"$/);
    // Before the fix: two per row (here over 300). Now the one shared formatter, made at most once.
    expect(formatters.made).toBeLessThanOrEqual(1);
  });
});
