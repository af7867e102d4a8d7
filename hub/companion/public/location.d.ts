// Types of location.js for the tests that import it (the page itself has no build).
export interface PhoneFix {
  la: number;
  lo: number;
  ac: number;
  at: number;
}
export interface WirePosition {
  la: number;
  lo: number;
  ac: number;
  fa: number;
  s: 'p';
}
export const ALARM_POSITION_MS: number;
export const MAX_FIX_AGE_MS: number;
export const MAX_ALARM_SHARE_MS: number;
export const ALARM_EVENTS: Set<string>;
export function fixFrom(geo: { coords: { latitude: number; longitude: number; accuracy: number }; timestamp: number }): PhoneFix;
export function positionOf(fix: PhoneFix, nowMs: number): WirePosition;
export function locationLine(mode: 'alarm' | 'shift' | 'off', permission: string): { on: boolean; text: string };
export interface GeolocationLike {
  watchPosition(ok: (p: unknown) => void, err: (e: { code: number }) => void, opts?: unknown): number;
  clearWatch(id: number): void;
  getCurrentPosition(ok: (p: unknown) => void, err: (e: { code: number }) => void, opts?: unknown): void;
}
export class PhoneLocation {
  constructor(opts: {
    geolocation: GeolocationLike | undefined;
    now: () => number;
    timers: { setInterval(fn: () => void, ms: number): unknown; clearInterval(id: unknown): void };
    sendPosition: (p: WirePosition) => void;
    onChange: () => void;
  });
  permission: string;
  readonly mode: 'alarm' | 'shift' | 'off';
  setOnShift(onShift: boolean): void;
  alarmStarted(): PhoneFix | null;
  alarmEnded(): void;
  workerCancelled(): void;
  cleared(): void;
  stop(): void;
  freshFix(): PhoneFix | null;
  failed(err: { code: number }): void;
}
