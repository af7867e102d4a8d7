/**
 * Carries out the runtime's effects after their transaction commits (rules-runtime.ts writes them as
 * leased due work first, so a crash leaves them to be claimed again): commands to fobs, the alert on
 * lw/alerts, and the notices the notifiers deliver. It resolves a level's targets to people and
 * records on the alarm's timeline what nobody could carry (R20: the timeline never says people were
 * told when they were not).
 */
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';
import type { AlarmRecord, TimelineEntry } from '../store/store-types.js';
import type { AlertMessage, CommandMessage } from '../../shared/protocol-schemas.js';
import { isOpen, type EscalationEffect } from './escalation-engine.js';
import type { Target } from './escalation-policy.js';
import type { Recipient } from '../notifiers/notifier.js';
import { channelInfo, isForwardingChannel } from '../notifiers/channel-registry.js';
import { alarmTrack } from '../ingest/positions.js';
import { alertMessage } from '../presentation/alarm-presentation.js';
import type { RuntimeEffect } from './unit-of-work.js';

/** Where the runtime's effects leave the hub. */
export interface RuntimeOutputs {
  sendCommand(deviceId: string, command: CommandMessage): void;
  /** May return a promise: the effect is completed (its due-work row deleted) once it settles. */
  publishAlert(alert: AlertMessage): void | Promise<void>;
  /**
   * E-mail, webhook and ARC delivery (the notifiers); absent when none is configured. Returns once the
   * notices are stored (never waits for a delivery), so a crash cannot fall between the completed
   * effect and the notices it made.
   */
  dispatch?(req: DispatchRequest): void | Promise<void>;
}

export interface DispatchRequest {
  alert: AlertMessage;
  level: number;
  recipients: Recipient[];
  channels: string[];
  link: string;
  /** The ladder rung (the notify effect's `step`): notice ids derive from it, so a re-run effect dedupes. */
  step?: string;
  /** Why the ladder sent it (raised, escalated, repeat, re_alert, police, exhausted): the e-mail subject says so. */
  reason?: string;
  /** Who has taken the alarm (a reminder names them), or null. */
  holder?: string | null;
}

export interface EffectExecutorOptions {
  store: Store;
  clock: Clock;
  outputs: RuntimeOutputs;
  /** The dashboard's address: the link in every notice is `<publicUrl>/alarms/<id>`. */
  publicUrl: string;
  /** Minutes the worker has to answer a prompt (the check-in rules' grace): the fob prompt's length. */
  graceMin: number;
  /**
   * The forwarding channels `[notifiers]` configures (email, webhook, arc, ...). A policy naming any
   * other is recorded as "not configured" for each person it would have reached. Absent: the caller
   * dispatches itself and every channel counts as configured.
   */
  forwarding?: string[];
}

export class EffectExecutor {
  constructor(private readonly o: EffectExecutorOptions) {}

  async execute(effect: RuntimeEffect): Promise<void> {
    switch (effect.type) {
      case 'alarm_changed': {
        const alert = await this.alertFor(effect.alarmId, null);
        // The dashboards heard of the change from the feed, appended in its transaction (stepAlarm).
        if (alert) await this.o.outputs.publishAlert(alert);
        break;
      }
      case 'fob_command': {
        const alarm = await this.o.store.read((tx) => tx.getAlarm(effect.alarmId));
        if (alarm?.deviceId) this.o.outputs.sendCommand(alarm.deviceId, { k: effect.command });
        break;
      }
      case 'tell_device':
        this.o.outputs.sendCommand(effect.deviceId, effect.command);
        break;
      case 'prompt_worker': {
        const devices = await this.o.store.read((tx) => tx.listWorkerDevices(effect.workerId));
        for (const d of devices) {
          if (d.revokedAt === null) {
            this.o.outputs.sendCommand(d.id, { k: 'prm', d: Math.max(10, Math.min(3600, Math.round(effect.seconds))) });
          }
        }
        break;
      }
      case 'notify':
        await this.notify(effect);
        break;
    }
  }

  private async notify(effect: Extract<EscalationEffect, { type: 'notify' }>): Promise<void> {
    const alarm = await this.o.store.read((tx) => tx.getAlarm(effect.alarmId));
    if (!alarm) return;
    const recipients = await this.resolveTargets(alarm, effect.targets);
    const alert = await this.alertFor(alarm.id, effect);
    if (!alert) return;
    await this.o.outputs.publishAlert(alert);
    if (effect.channels.includes('fob') && effect.targets.includes('worker') && alarm.workerId) {
      await this.execute({ type: 'prompt_worker', workerId: alarm.workerId, seconds: this.o.graceMin * 60 });
    }
    const electronic = effect.channels.filter((c) => isForwardingChannel(c));
    const configured = electronic.filter((c) => !this.o.forwarding || this.o.forwarding.includes(c));
    await this.recordUnreached(alarm, effect, recipients, electronic.filter((c) => !configured.includes(c)));
    if (configured.length > 0 && this.o.outputs.dispatch) {
      await this.o.outputs.dispatch({
        alert,
        level: effect.level,
        recipients,
        channels: configured,
        link: `${this.o.publicUrl}/alarms/${alarm.id}`,
        ...(effect.step ? { step: effect.step } : {}),
        reason: effect.reason,
        holder: alarm.acknowledgedBy,
      });
    }
  }

  /**
   * The part of a notification nobody could carry, on the record so the timeline never says people
   * were told when they were not: each channel the policy names that `[notifiers]` does not configure
   * (per person it would have reached, or once for an organisation channel), and each role the policy
   * names that no contact holds.
   */
  private async recordUnreached(alarm: AlarmRecord, effect: Extract<EscalationEffect, { type: 'notify' }>, recipients: Recipient[], missing: string[]): Promise<void> {
    const at = this.o.clock.now();
    const entries: TimelineEntry[] = [];
    const { holders, worker } = await this.o.store.read(async (tx) => ({ holders: await tx.listContacts(), worker: alarm.workerId ? await tx.getWorker(alarm.workerId) : null }));
    for (const t of effect.targets) {
      // The worker is reached by the fob, the visit and home contacts by the officer's phone calls.
      if (t === 'worker' || t === 'visit_contact' || t === 'home_contact' || t === 'buddy') continue;
      const held =
        t === 'line_manager'
          ? holders.some((c) => c.id === worker?.lineManagerId)
          : t.startsWith('person:')
            ? holders.some((c) => c.id === t.slice(7))
            : holders.some((c) => c.role === t);
      if (!held) entries.push({ at, type: 'delivery', actor: 'hub', detail: { status: 'no_contact', level: effect.level, target: t, reason: t === 'line_manager' ? `${worker?.name ?? 'the worker'} has no line manager among the contacts` : t.startsWith('person:') ? `no contact ${t.slice(7)}` : `nobody holds the role ${t.replace(/_/g, ' ')}` } });
    }
    for (const channel of missing) {
      const info = channelInfo(channel);
      const why = `[notifiers.${channel}] is not configured`;
      if (info?.perRecipient) {
        for (const r of recipients) entries.push({ at, type: 'delivery', actor: `notifier:${channel}`, detail: { status: 'not_configured', channel, level: effect.level, recipientId: r.id, recipientName: r.name, recipientRole: r.role, address: info.addressOf?.(r) ?? null, reason: why } });
      } else {
        entries.push({ at, type: 'delivery', actor: `notifier:${channel}`, detail: { status: 'not_configured', channel, level: effect.level, recipientId: null, recipientName: null, address: null, reason: why } });
      }
    }
    if (entries.length === 0) return;
    await this.o.store.transaction(async (tx) => {
      await tx.appendTimeline(alarm.id, entries);
      await tx.appendChange({ at, topic: 'alarm', alarmId: alarm.id, detail: { type: 'delivery' } });
    });
  }

  /** Roles to people. Private details are not copied: a Recipient carries only how to reach them. */
  async resolveTargets(alarm: AlarmRecord, targets: Target[]): Promise<Recipient[]> {
    return this.o.store.read(async (tx) => {
      const contacts = await tx.listContacts();
      const worker = alarm.workerId ? await tx.getWorker(alarm.workerId) : null;
      const out: Recipient[] = [];
      const add = (r: Recipient | null): void => {
        if (r && !out.some((x) => x.id === r.id)) out.push(r);
      };
      const fromContact = (id: string | null | undefined): Recipient | null => {
        const c = contacts.find((x) => x.id === id);
        return c ? { id: c.id, name: c.name, role: c.role, ...(c.email ? { email: c.email } : {}), ...(c.phone ? { phone: c.phone } : {}) } : null;
      };
      for (const t of targets) {
        if (t.startsWith('person:')) add(fromContact(t.slice(7)));
        else if (t === 'line_manager') add(fromContact(worker?.lineManagerId));
        else if (t === 'buddy') {
          const buddyContact = fromContact(worker?.buddyId);
          if (buddyContact) add({ ...buddyContact, role: 'buddy' });
          else if (worker?.buddyId) {
            const b = await tx.getWorker(worker.buddyId);
            if (b) add({ id: b.id, name: b.name, role: 'buddy' });
          }
        } else if (t === 'worker' || t === 'visit_contact' || t === 'home_contact') {
          // The worker is reached through the fob; the visit and home contacts are calls the duty
          // officer makes from the dashboard, where those details are shown under R22's rules.
        } else {
          for (const c of contacts) if (c.role === t) add(fromContact(c.id));
        }
      }
      return out;
    });
  }

  /** The lw/alerts message for an alarm as it stands now (null: no such alarm), its words from hub/presentation. */
  async alertFor(alarmId: string, step: Extract<EscalationEffect, { type: 'notify' }> | null): Promise<AlertMessage | null> {
    const found = await this.o.store.read(async (tx) => {
      const alarm = await tx.getAlarm(alarmId);
      const worker = alarm?.workerId ? await tx.getWorker(alarm.workerId) : null;
      // Issue 20: the latest known position goes out with the alarm while it is open (R22).
      const position = alarm && isOpen(alarm) ? (await alarmTrack(tx, alarm)).latest : null;
      return alarm ? { alarm, worker, position } : null;
    });
    if (!found) return null;
    return alertMessage({ alarm: found.alarm, workerName: found.worker?.name ?? null, position: found.position, step, now: this.o.clock.now() });
  }
}
