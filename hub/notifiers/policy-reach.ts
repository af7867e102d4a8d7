/**
 * Whom the escalation policies in force can actually reach, given the channels `[notifiers]`
 * configures and the contacts the hub holds. Pure. The hub logs each problem as a warning at start-up
 * (`--strict` refuses to start), `lonewatch hub --check` lists them, and the dashboard shows a standing
 * warning while any policy can reach nobody (issue 16: a default install said people were told "by
 * email, webhook" when nobody was).
 */
import type { EscalationPolicy, Target } from '../rules/escalation-policy.js';
import type { ContactRecord } from '../store/store-types.js';
import { channelInfo, isForwardingChannel } from './channel-registry.js';

export type ReachProblemKind = 'channel_not_configured' | 'no_contact' | 'no_address' | 'reaches_nobody';

export interface ReachProblem {
  kind: ReachProblemKind;
  policy: string;
  /** 0-based level, or null for the whole policy (or its senior targets). */
  level: number | null;
  /** Which alarm kinds use this policy. */
  usedBy: string[];
  message: string;
}

/** Roles the officer reaches by phone or the hub by the fob: never a notice channel's business. */
const NOT_NOTIFIED: readonly string[] = ['worker', 'visit_contact', 'home_contact', 'buddy'];

function holders(t: Target, contacts: ContactRecord[]): ContactRecord[] {
  if (t.startsWith('person:')) return contacts.filter((c) => c.id === t.slice(7));
  return contacts.filter((c) => c.role === t);
}

export function checkPolicyReach(policies: Record<string, EscalationPolicy>, usedBy: Record<string, string[]>, configured: string[], contacts: ContactRecord[]): ReachProblem[] {
  const out: ReachProblem[] = [];
  for (const [name, p] of Object.entries(policies)) {
    const used = usedBy[name] ?? [];
    if (used.length === 0) continue;
    const where = (i: number): string => `policy ${name} level ${i + 1} (${p.levels[i].name})`;
    let reachesSomeone = false;
    p.levels.forEach((l, i) => {
      const forwarding = l.channels.filter((c) => isForwardingChannel(c));
      for (const c of forwarding.filter((x) => !configured.includes(x))) {
        out.push({ kind: 'channel_not_configured', policy: name, level: i, usedBy: used, message: `${where(i)} names the ${channelInfo(c)?.label ?? c} channel, but [notifiers.${c}] is not configured: nobody is told that way` });
      }
      const live = forwarding.filter((x) => configured.includes(x));
      if (live.some((c) => !channelInfo(c)?.perRecipient)) reachesSomeone = true;
      for (const t of l.targets) {
        if (NOT_NOTIFIED.includes(t)) continue;
        // A line manager is the worker's own (workers.line_manager): any contact in that role counts here.
        const people = t === 'line_manager' ? contacts.filter((c) => c.role === 'line_manager') : holders(t, contacts);
        if (people.length === 0) {
          out.push({ kind: 'no_contact', policy: name, level: i, usedBy: used, message: `${where(i)} names ${t.replace(/_/g, ' ')}, but no contact ${t.startsWith('person:') ? 'has that id' : 'holds that role'}` });
          continue;
        }
        for (const c of live.filter((x) => channelInfo(x)?.perRecipient)) {
          const info = channelInfo(c)!;
          const reachable = people.filter((x) => info.addressOf?.({ id: x.id, name: x.name, role: x.role, ...(x.email ? { email: x.email } : {}), ...(x.phone ? { phone: x.phone } : {}) }) !== null);
          if (reachable.length > 0) reachesSomeone = true;
          else out.push({ kind: 'no_address', policy: name, level: i, usedBy: used, message: `${where(i)}: no ${t.replace(/_/g, ' ')} has a ${info.label} address` });
        }
      }
    });
    for (const t of p.seniorTargets) {
      if (!NOT_NOTIFIED.includes(t) && t !== 'line_manager' && holders(t, contacts).length === 0) {
        out.push({ kind: 'no_contact', policy: name, level: null, usedBy: used, message: `policy ${name}'s senior targets name ${t.replace(/_/g, ' ')}, but no contact holds that role` });
      }
    }
    if (!reachesSomeone) {
      out.push({ kind: 'reaches_nobody', policy: name, level: null, usedBy: used, message: `policy ${name} (used by ${used.join(', ')}) can reach nobody beyond the dashboard: no configured channel reaches any of its contacts` });
    }
  }
  return out;
}
