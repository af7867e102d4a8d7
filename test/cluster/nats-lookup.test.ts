// A starting node's JetStream lookups (hub/cluster/nats-connection.ts lookup): "absent" only when
// JetStream says so. A timeout once read as "no consumer" had the node try to create one that was
// there; under load in a full run a restarted worker exited at start ("worker-1 exited while
// starting (1)", cluster-escalation, 2026-12-02).
import { describe, expect, it } from 'vitest';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { JetStreamUnansweredError, lookup } from '../../hub/cluster/nats-connection.js';

const apiError = (code: number, description: string) => new JetStreamApiError({ err_code: code, code: 404, description });
const timeout = () => Object.assign(new Error('TIMEOUT'), { name: 'TimeoutError' });

describe('JetStream lookups at start-up', () => {
  it('asks again after a request that got no answer, and returns what is there', async () => {
    let asked = 0;
    const got = await lookup('consumer S/c', async () => {
      asked += 1;
      if (asked < 3) throw timeout();
      return { name: 'c' };
    }, [JetStreamApiCodes.ConsumerNotFound], { totalMs: 60_000, pauseMs: 0 });
    expect(got).toEqual({ name: 'c' });
    expect(asked).toBe(3);
  });

  it('returns null at once when JetStream answers that it does not exist', async () => {
    let asked = 0;
    const got = await lookup('stream S', async () => {
      asked += 1;
      throw apiError(JetStreamApiCodes.StreamNotFound, 'stream not found');
    }, [JetStreamApiCodes.StreamNotFound], { totalMs: 60_000, pauseMs: 0 });
    expect(got).toBeNull();
    expect(asked).toBe(1);
  });

  it('does not take another JetStream error for absence', async () => {
    const got = lookup('stream S', async () => {
      throw apiError(JetStreamApiCodes.JetStreamNotEnabledForAccount, 'jetstream not enabled for account');
    }, [JetStreamApiCodes.StreamNotFound], { totalMs: 0, pauseMs: 0 });
    await expect(got).rejects.toThrow(/stream S.*jetstream not enabled for account/);
  });

  it('gives up when nothing answers, saying what it looked for and what it last got', async () => {
    const got = lookup('consumer S/p0', async () => {
      throw timeout();
    }, [JetStreamApiCodes.ConsumerNotFound], { totalMs: 0, pauseMs: 0 });
    await expect(got).rejects.toBeInstanceOf(JetStreamUnansweredError);
    await expect(got).rejects.toThrow(/consumer S\/p0 .*TIMEOUT.*majority of the NATS nodes/);
  });
});
