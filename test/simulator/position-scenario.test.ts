// Issue 20: the simulator walks a worker, loses the fix indoors and checks the police pack's last
// known position and its age; on the firmware-backed Puck.js (the phone adds its position) and on
// the wire fob; and it reports the expectation as not met when the hub keeps no positions.
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../simulator/scenario/load-scenario.js';
import { runScenario } from '../../simulator/scenario/run-scenario.js';
import { fobFactory } from '../../simulator/fob-factory.js';

const file = new URL('../../simulator/scenarios/r20-last-known-position.toml', import.meta.url).pathname;

describe('issue 20: last known position in the police pack', () => {
  it.each(['auto', 'wire'] as const)('the shipped scenario passes (%s fob): the street fix, about 6 minutes old', async (kind) => {
    const fobs = await fobFactory(kind);
    const result = await runScenario(loadScenario(file), { fobs: fobs.create });
    expect(result.results.filter((r) => !r.met)).toEqual([]);
    const pack = result.results.find((r) => r.expectation.startsWith('police hand-over'))!;
    expect(pack.detail).toMatch(/^at \+11m: 53\.4808, -2\.24263, within 12 m, (5|6) min old \(phone\)$/);
    // The log says when the fix was lost, and what the hand-over showed.
    expect(result.log.some((l) => /\+6m sam: fix lost \(indoors\)/.test(l))).toBe(true);
  }, 120_000);

  it('is not met when the hub drops positions: the pack had none', async () => {
    const fobs = await fobFactory('wire');
    const result = await runScenario(loadScenario(file), {
      fobs: fobs.create,
      // The store forgets every fix (both `ps` and the `l` of events).
      tamperHub: (hub) => {
        (hub.store as unknown as { tx: { insertPosition: () => Promise<void> } }).tx.insertPosition = async () => undefined;
      },
    });
    expect(result.passed).toBe(false);
    const pack = result.results.find((r) => r.expectation.startsWith('police hand-over'))!;
    expect(pack).toMatchObject({ met: false, detail: 'the hand-over at +11m had no position' });
  }, 120_000);
});
