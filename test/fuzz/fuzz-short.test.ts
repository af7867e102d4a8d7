/**
 * The short fuzz run (issue 17): the same harness as `lonewatch fuzz`, smaller. A hub process of its
 * own on loopback takes MQTT packets and payloads from the generators and fuzzed API requests while
 * a probe fob presses SOS, then goes through kill -9 restarts under SOS load. No crash, no 5xx, no
 * lost or duplicated alarm; and the run really exercised the hub (the hub's own counters moved).
 */
import { describe, expect, it } from 'vitest';
import { runFuzz, SHORT } from '../../bench/fuzz/fuzz-run.js';
import { formatReport, verdict } from '../../bench/fuzz/fuzz-report.js';
import { Prng } from '../../bench/fuzz/prng.js';
import { EventIds, fuzzFobPayload } from '../../bench/fuzz/protocol-fuzz.js';

describe('fuzz harness, short run', () => {
  it('the generators are reproducible from the seed', () => {
    const run = (seed: number) => {
      const rng = new Prng(seed);
      const ids = new EventIds(1);
      return Array.from({ length: 200 }, () => fuzzFobPayload(rng, ids).payload.toString('base64')).join();
    };
    expect(run(123)).toBe(run(123));
    expect(run(123)).not.toBe(run(124));
  });

  it('no crash, no 5xx, no lost or duplicate alarm', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.LONEWATCH_FUZZ_SEED ?? 20261201);
    const report = await runFuzz({ ...SHORT, seed, progress: () => undefined });
    const text = formatReport(report);
    const v = verdict(report);
    // The whole report on failure, with the seed to replay it.
    expect({ crashes: v.crashes, serverErrors: v.serverErrors, lost: v.lost, duplicateAlarms: v.duplicateAlarms }, text).toEqual({ crashes: 0, serverErrors: 0, lost: 0, duplicateAlarms: 0 });
    // It did fuzz: packets and requests went out, the hub refused bad input by its own count, and
    // the kill loop PUBACKed alarms across real SIGKILLs.
    expect(Object.values(report.tally['mqtt sent'] ?? {}).reduce((a, b) => a + b, 0), text).toBeGreaterThan(1000);
    expect(Object.values(report.tally['api sent'] ?? {}).reduce((a, b) => a + b, 0), text).toBeGreaterThan(100);
    const ingest = report.hubCounters?.ingest as { rejected: Record<string, number> } | undefined;
    expect(ingest?.rejected.event_invalid ?? 0, text).toBeGreaterThan(0);
    expect(report.killLoop?.rounds).toBe(SHORT.killRounds);
    expect(report.killLoop?.acked ?? 0, text).toBeGreaterThan(0);
    expect(report.probe.acked, text).toBeGreaterThan(0);
  });
});
