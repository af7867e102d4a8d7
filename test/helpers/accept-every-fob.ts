/**
 * Broker hooks that let every client in as the device its client id names, store nothing and revoke
 * nothing: the broker alone, for the idle-connection bench and the broker's own keepalive tests.
 */
import type { BrokerHooks } from '../../hub/broker/mqtt-broker.js';

export const ACCEPT_EVERY_FOB: BrokerHooks = {
  authenticate: async (clientId) => ({ kind: 'device', deviceId: clientId }),
  onDevicePublish: async () => undefined,
  onConnected: () => undefined,
  onDisconnected: () => undefined,
  isRevoked: () => false,
};
