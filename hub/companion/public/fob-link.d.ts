// Types of fob-link.js for the tests that drive it in Node with a stand-in for Web Bluetooth (the page itself has no build).
export const NUS_SERVICE: string;
export const NUS_RX: string;
export const NUS_TX: string;
export interface FobLinkState {
  connected: boolean;
  name: string;
  lost?: boolean;
}
export class FobLink {
  constructor(opts: { onLine(leaf: string, json: string): void; onState(s: FobLinkState): void });
  connected: boolean;
  wanted: boolean;
  pair(): Promise<boolean>;
  reconnectKnown(): Promise<boolean>;
  connect(device: unknown): Promise<boolean>;
  disconnect(): Promise<void>;
  send(leaf: string, json: string): Promise<boolean>;
}
