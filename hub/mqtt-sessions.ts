/**
 * The one question the HTTP side asks of the broker's live connections: is this MQTT client id
 * connected, and drop it (the companion's relay sweep). A small typed service so no route reaches
 * into aedes's internals (issue 18); this adapter is the only place outside hub/broker that knows
 * aedes keeps its connected clients in `clients`, keyed by client id.
 */
import type { MqttBroker } from './broker/mqtt-broker.js';

export interface MqttSessions {
  /** True while a client with this MQTT client id is connected to this hub's broker. */
  isConnected(clientId: string): boolean;
  /** Closes that client's connection; false when none was connected. */
  disconnect(clientId: string): boolean;
}

interface AedesClientTable {
  clients: Record<string, { close(): void } | undefined>;
}

export function brokerSessions(broker: Pick<MqttBroker, 'aedes'>): MqttSessions {
  const table = (): AedesClientTable['clients'] => (broker.aedes as unknown as AedesClientTable).clients;
  return {
    isConnected: (clientId) => table()[clientId] !== undefined,
    disconnect: (clientId) => {
      const client = table()[clientId];
      if (!client) return false;
      client.close();
      return true;
    },
  };
}
