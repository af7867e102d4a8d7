/**
 * The failure tests' NATS: a real three-node nats-server cluster with JetStream on loopback (free
 * ports, temporary store folders, cluster routes), whose nodes a test can kill -9 and restart. The
 * cluster itself is hub/cluster/nats-local.ts, the same one `lonewatch cluster up` starts.
 */
import { LocalNatsCluster, type LocalNatsOptions } from '../../hub/cluster/nats-local.js';

export { LocalNatsCluster };

const running: LocalNatsCluster[] = [];

export async function startNatsCluster(opts: LocalNatsOptions = {}): Promise<LocalNatsCluster> {
  const c = await LocalNatsCluster.start(opts);
  running.push(c);
  return c;
}

/** For afterAll/afterEach: stops every cluster a test started. */
export async function stopNatsClusters(): Promise<void> {
  for (const c of running.splice(0)) await c.stop();
}
