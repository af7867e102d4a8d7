// Types of alarm-screen.js for the tests that import its pure parts (the page itself has no build).
export interface PhoneAlarm {
  sentAt: number;
  ackedAt: number | null;
  takenAt: number | null;
  closedAt: number | null;
  cancelAt: number | null;
  cancelAckedAt: number | null;
}
export function hhmm(ms: number): string;
export function zoneName(ms?: number): string;
export function alarmScreenText(a: PhoneAlarm, hubConnected: boolean): { title: string; status: string; advice: string; done: boolean };
export function confirmationCode(random: () => number): string;
export function renderAlarmScreen(a: PhoneAlarm, hubConnected: boolean, sirenOn: boolean): void;
