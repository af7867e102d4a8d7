/**
 * The unit of work of one rules transaction: the effects its engine steps produced and the due times
 * it armed. The runtime makes one inside each attempt of the store transaction (issue 18: a retried
 * transaction starts from an empty unit and never doubles its effects), writes its effects as due
 * work leased to this process before the commit, and carries them out after it.
 */
import { randomBytes } from 'node:crypto';
import type { DueWorkKind, StoreTx } from '../store/store.js';
import type { CommandMessage } from '../../shared/protocol-schemas.js';
import type { EscalationEffect } from './escalation-engine.js';

/** Effects the runtime carries out: the escalation engine's, and the two it adds for workers and fobs. */
export type RuntimeEffect =
  | EscalationEffect
  | { type: 'prompt_worker'; workerId: string; seconds: number }
  | { type: 'tell_device'; deviceId: string; command: CommandMessage };

/**
 * What one transaction produced. Its deadlines are written as they are made (`schedule`); its
 * effects are written at the end of the transaction, and carried out after it commits.
 */
export class Unit {
  effects: RuntimeEffect[] = [];
  /** Due times this transaction armed: the loop's timer is brought forward to the earliest after the commit. */
  wakes: number[] = [];

  /** Arms, moves or (null) cancels a deadline in the transaction of the state it belongs to. */
  async schedule(tx: StoreTx, kind: Extract<DueWorkKind, 'alarm' | 'worker' | 'device'>, key: string, at: number | null): Promise<void> {
    await tx.scheduleWork(kind, key, at);
    if (at !== null) this.wakes.push(at);
  }

  /** schedule for many keys of one kind in one call (the heartbeat batch: one statement on PostgreSQL). */
  async scheduleMany(tx: StoreTx, kind: Extract<DueWorkKind, 'worker' | 'device'>, rows: readonly { key: string; dueAt: number | null }[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.scheduleWorkMany(kind, rows);
    for (const r of rows) if (r.dueAt !== null) this.wakes.push(r.dueAt);
  }
}

let effectSeq = 0;
/** Time-ordered and unique across processes: an effect left by a crash is never overwritten by a new one. */
export function newEffectKey(now: number): string {
  effectSeq = (effectSeq + 1) % 1_000_000;
  return `${now.toString(36).padStart(9, '0')}-${String(effectSeq).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
}

/** Time-ordered, unique: `a` + base36 milliseconds + 6 random hex characters. */
export function newAlarmId(now: number): string {
  return `a${now.toString(36)}${randomBytes(3).toString('hex')}`;
}

/** The alarm an effect is about, for the log line of a failed one. */
export function alarmIdOf(effect: unknown): string | undefined {
  const id = (effect as { alarmId?: unknown } | null)?.alarmId;
  return typeof id === 'string' ? id : undefined;
}
