/**
 * Issue 20: the hub pushes the RAK5010's GNSS visit period (`rules.gnss_visit_period_s`) as `gp` in
 * the `cfg` it sends at every hello, over a real MQTT socket; a bad value is refused at config load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { parseConfig } from '../../hub/config/load-config.js';

describe('cfg gp: the GNSS visit period the hub pushes', () => {
  let hub: TestHub | null = null;
  afterEach(async () => {
    await hub?.stop();
    hub = null;
  });

  async function cfgAfterHello(config?: Record<string, unknown>): Promise<unknown> {
    hub = await startTestHub(config ? { config } : {});
    const { secret } = await hub.addDevice('fob-gp', { workerId: 'w-gp' });
    const fob = await connectFob(hub.mqttUrl, 'fob-gp', secret);
    try {
      await fob.send({ i: '1-0', k: 'hi', ag: 0, fw: '0.1.0', bd: 'rak5010', pv: 2, bc: 1 });
      return await fob.waitFor((c) => c.k === 'cfg', 10_000);
    } finally {
      await fob.close();
    }
  }

  it('defaults to 600 s', async () => {
    expect(await cfgAfterHello()).toEqual({ k: 'cfg', hb: 300, gp: 600 });
  });

  it('0 turns it off, and is sent as 0', async () => {
    expect(await cfgAfterHello({ rules: { gnss_visit_period_s: 0 } })).toEqual({ k: 'cfg', hb: 300, gp: 0 });
  });

  it('a period the fob would refuse (under 60 s) is refused at load, naming the key', () => {
    expect(() => parseConfig({ rules: { gnss_visit_period_s: 30 } })).toThrow(/gnss_visit_period_s/);
  });
});
