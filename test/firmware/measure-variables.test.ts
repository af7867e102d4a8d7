/**
 * The build's variable figures come from the real Espruino 2v29 interpreter (espruino-2630, a
 * Puck.js's 2,630 variables), not from the estimate; where the interpreter is missing, the build says
 * so and labels the estimate as an estimate.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFirmware, VARIABLE_BUDGETS } from '../../firmware/build/build.js';
import { DEFAULT_ESPRUINO_DIR, parseFigures } from '../../firmware/build/measure-variables.js';
import { report } from '../../firmware/cli.js';
import { OUTBOX_MAX } from '../../firmware/src/core/outbox-size.js';
import { BOARDS } from '../../shared/protocol-core.js';

const interpreter = join(DEFAULT_ESPRUINO_DIR, 'espruino-2630');
const missing = `no Espruino interpreter at ${interpreter} (../shared/espruino is the team's reference folder, not part of a clone)`;

describe('measured variables', () => {
  // The boards' builds and measurements run side by side (issue 18): each is its own interpreter in
  // its own folder, and most of a measurement is the interpreter's idle wait. The test below changes
  // VARIABLE_BUDGETS, so it stays sequential: vitest starts it only once these two are done.
  it.concurrent.for([...BOARDS])('%s: after boot, idle and with a full outbox, measured on the real interpreter, within the budget', async (board, ctx) => {
    const { expect } = ctx;
    if (!existsSync(interpreter)) ctx.skip(missing);
    const b = await buildFirmware(board, { write: false, measure: true });
    const m = b.measurement;
    if (!m?.measured) throw new Error(`not measured: ${m?.reason}`);
    expect(m.total).toBe(2630);
    expect(m.interpreter).toMatch(/2v29.*2630/);
    // The bundle and its running core take variables; each waiting event a few more, not a dozen.
    expect(m.afterBoot).toBeGreaterThan(m.before + 300);
    expect(m.outboxEntries).toBe(OUTBOX_MAX);
    expect(m.fullOutbox).toBeGreaterThan(m.idle);
    expect((m.fullOutbox - m.idle) / (OUTBOX_MAX - 1)).toBeLessThan(6);
    expect(m.fullOutbox).toBeLessThanOrEqual(VARIABLE_BUDGETS[board]);
    expect(b.ok).toBe(true);
    const text = report(b);
    expect(text).toContain(`${m.fullOutbox} with a full outbox (${OUTBOX_MAX} events)`);
    expect(text).not.toMatch(/estimate/i);
  });

  it('a measured full outbox over the budget fails the build, and the command says by how much', async (ctx) => {
    if (!existsSync(interpreter)) ctx.skip(missing);
    const budget = VARIABLE_BUDGETS.puck;
    // A budget below what the bundle uses: the measured figure, not the estimate, must decide.
    VARIABLE_BUDGETS.puck = 600;
    try {
      const b = await buildFirmware('puck', { write: false, measure: true });
      const m = b.measurement;
      if (!m?.measured) throw new Error(`not measured: ${m?.reason}`);
      expect(b.ok).toBe(false);
      expect(report(b)).toContain(`OVER THE VARIABLE BUDGET by ${m.fullOutbox - 600} (measured, full outbox)`);
      expect(report(b)).toMatch(/FAILED\n$/);
    } finally {
      VARIABLE_BUDGETS.puck = budget;
    }
  });

  it('without the interpreter: not measured, why, and the estimate printed only as an estimate', async () => {
    const b = await buildFirmware('puck', { write: false, measure: { espruinoDir: '/nonexistent/espruino' } });
    expect(b.measurement).toEqual({ measured: false, reason: expect.stringContaining('no Espruino interpreter at /nonexistent/espruino/espruino-2630') });
    const text = report(b);
    expect(text).toContain('variables NOT MEASURED: no Espruino interpreter at /nonexistent/espruino');
    expect(text).toContain(`~${b.variables} of 1000: an ESTIMATE from the code`);
    expect(text).not.toContain('measured on');
  });

  it.each([
    { name: 'an error the bundle raised', out: 'LWM total 2630\nUncaught ReferenceError: "BTN" is not defined\n', reason: /the bundle failed on the interpreter: Uncaught ReferenceError/ },
    { name: 'a core that never started', out: 'LWM total 2630\nLWM error the firmware did not start its core\n', reason: /did not start its core/ },
    { name: 'a figure missing', out: 'LWM total 2630\nLWM block 17\nLWM before 80\nLWM boot 800\n', reason: /did not report every figure/ },
    { name: 'an outbox that did not fill', out: 'LWM total 2630\nLWM block 17\nLWM before 80\nLWM boot 800\nLWM idle 810\nLWM full 850\nLWM entries 7\n', reason: /held 7 events/ },
  ])('a run with $name is not a measurement', ({ out, reason }) => {
    const r = parseFigures(out);
    expect(r.measured).toBe(false);
    expect(r.measured === false && r.reason).toMatch(reason);
  });
});
