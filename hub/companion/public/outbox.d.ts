// Types of outbox.js for the tests that import its pure part (the page itself has no build).
import type { PhoneFix } from './location.js';
export interface OutboxEntry {
  i: string;
  event: Record<string, unknown>;
  ag0: number;
  heldSince: number;
  origin: 'fob' | 'phone';
  fix?: PhoneFix;
}
export function add(entry: OutboxEntry): Promise<boolean>;
export function all(): Promise<(OutboxEntry & { seq: number })[]>;
export function remove(i: string): Promise<void>;
export function payload(entry: OutboxEntry, now?: number): string;
