import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../simulator/scenario/load-scenario.js';
import { runScenario } from '../../simulator/scenario/run-scenario.js';
import { fobFactory } from '../../simulator/fob-factory.js';

const dir = new URL('../../simulator/scenarios/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.toml')).sort();

// One factory for the file: fobFactory('auto') builds both boards' firmware (about two seconds of
// the CPU), and what it returns only compiles the bundles once and makes a new fob per call, so
// every scenario still gets fresh fobs on a fresh simulated board (issue 18).
let fobs: Awaited<ReturnType<typeof fobFactory>>;
beforeAll(async () => {
  fobs = await fobFactory('auto');
}, 120_000);

describe('shipped scenarios pass with time warp', () => {
  it('cover every requirement a fob can exercise', () => {
    const covered = new Set(files.flatMap((f) => loadScenario(dir + f).requirements));
    for (const r of ['R1', 'R2', 'R6', 'R10', 'R11', 'R12', 'R13', 'R16']) expect(covered, r).toContain(r);
  });

  // At the same time (issue 18): each scenario has a hub, a database and fobs of its own on
  // ephemeral ports, and spends its time in short pauses for the network, not on the CPU. `expect`
  // is the test's own, as concurrent tests need (vitest: "Running tests concurrently").
  it.concurrent.for(files)('%s', { timeout: 120_000 }, async (file, { expect }) => {
    const result = await runScenario(loadScenario(dir + file), { fobs: fobs.create });
    expect(result.results.filter((r) => !r.met)).toEqual([]);
    expect(result.passed).toBe(true);
  });
});

describe('the simulator can fail', () => {
  it('reports the ladder expectation as not met when the hub does not climb it', async () => {
    const result = await runScenario(loadScenario(dir + 'r10-missed-checkin.toml'), {
      fobs: fobs.create,
      // Break the rule under test: the missed-check-in ladder never leaves its first level.
      tamperHub: (hub) => {
        const policies = (hub.runtime as unknown as { o: { policies: Record<string, { levels: { delayMin: number }[] }> } }).o.policies;
        for (const l of policies.missed_checkin.levels) l.delayMin = 24 * 60;
      },
    });
    expect(result.passed).toBe(false);
    const ladder = result.results.find((r) => r.expectation.startsWith('missed_checkin'));
    expect(ladder?.met).toBe(false);
    expect(ladder?.detail).toMatch(/ladder level 0 by \+1h25m \(wanted 3\)/);
  }, 120_000);

  it('reports an alarm that never comes', async () => {
    const result = await runScenario(loadScenario(dir + 'r01-covert-alarm.toml'), {
      fobs: fobs.create,
      tamperHub: (hub) => {
        // The hub drops covert alarms on the floor.
        const ingest = hub.ingest as unknown as { apply: (...a: unknown[]) => Promise<string> };
        const apply = ingest.apply.bind(ingest);
        ingest.apply = async (...a: unknown[]) => ((a[4] as { k: string }).k === 'cov' ? 'ok' : apply(...a));
      },
    });
    expect(result.passed).toBe(false);
    expect(result.results[0]).toMatchObject({ met: false, detail: 'not raised' });
  }, 120_000);
});
