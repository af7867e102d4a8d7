/**
 * Runs a scenario with time warp: the hub (in-process, drill mode, ManualClock) and every virtual
 * fob's clock move forward together in small steps, so three hours of escalation take seconds of
 * real time while every message still crosses a real MQTT socket. Expectations are checked against
 * what the hub recorded.
 */
import { addDevice, addVisit } from '../../hub/admin/admin-service.js';
import type { AlarmRecord, StoredTimelineEntry } from '../../hub/store/store-types.js';
import { isOpen } from '../../hub/rules/escalation-engine.js';
import type { VirtualFob, VirtualFobFactory } from '../virtual-fob.js';
import { startSimHub } from '../sim-hub.js';
import { formatDuration, parseDuration } from './durations.js';
import type { Expectation, Scenario, ScriptStep } from './scenario-schema.js';
import type { TimelineStepType } from '../../shared/vocabulary.js';
import { POSITION_SOURCE } from '../../shared/protocol-core.js';
import { handoverPositions, type policePosition } from '../../hub/http/routes-positions.js';
import type { Principal } from '../../hub/http/auth.js';

/** The drill's duty officer, as the hand-over's R22 check and audit see them. */
const DRILL_OFFICER: Principal = { kind: 'user', id: 'drill-officer', name: 'Drill officer', role: 'duty_officer', actor: 'drill:officer', workerId: null };

/** A police hand-over made during the run (issue 20): what it said about where the worker was. */
interface PolicePack {
  alarmId: string;
  workerId: string | null;
  at: number;
  position: ReturnType<typeof policePosition> | null;
}

export const SCENARIO_START = Date.UTC(2026, 10, 23, 8, 0, 0);

export interface ExpectationResult {
  expectation: string;
  met: boolean;
  detail: string;
}

export interface ScenarioResult {
  name: string;
  passed: boolean;
  results: ExpectationResult[];
  /** Real seconds the run took (scenario time is warped). */
  realSeconds: number;
  log: string[];
}

export interface RunOptions {
  fobs: VirtualFobFactory;
  /** Called for each line of the run's log (progress display). */
  onLog?: (line: string) => void;
  /** Test hook: change the hub before the run (used to prove the simulator can fail). */
  tamperHub?: (hub: import('../../hub/hub.js').Hub) => void;
}

/** Real milliseconds to let sockets deliver between time steps. */
const NETWORK_PAUSE_MS = 2;

export async function runScenario(s: Scenario, opts: RunOptions): Promise<ScenarioResult> {
  const realStart = Date.now();
  const log: string[] = [];
  const say = (line: string): void => {
    log.push(line);
    opts.onLog?.(line);
  };
  const sim = await startSimHub(SCENARIO_START, s.rules);
  const fobs = new Map<string, VirtualFob>();
  try {
    opts.tamperHub?.(sim.hub);
    const store = sim.hub.store;
    await store.transaction(async (tx) => {
      for (const w of s.workers) {
        await tx.upsertWorker({
          id: w.id,
          name: w.name,
          phone: null,
          homeAddress: null,
          medicalNotes: null,
          car: null,
          emergencyContacts: null,
          buddyId: null,
          lineManagerId: 'manager',
          trainingDate: w.training_date,
          newStarter: false,
          description: null,
        });
      }
    });
    for (const v of s.visits) {
      await addVisit(
        store,
        {
          workerId: v.worker,
          ref: v.ref,
          scheduledStart: SCENARIO_START + parseDuration(v.start)!,
          expectedEnd: SCENARIO_START + parseDuration(v.end)!,
          riskCategory: v.category,
          rag: v.rag,
          checkinIntervalMin: v.checkin_interval_min ?? null,
          nextLocation: null,
          secondWorkerId: v.second_worker ?? null,
          unplanned: false,
        },
        { onBreach: 'flag', trainingValidYears: 3 },
      );
    }
    // As the API does after recording a visit: the worker's rules learn of the itinerary (item 6).
    for (const w of new Set(s.visits.map((v) => v.worker))) await sim.hub.runtime.workerAction(w, { type: 'itinerary_changed' });
    for (const w of s.workers) {
      const { secret } = await addDevice(store, w.device, { workerId: w.id, board: w.fob, now: SCENARIO_START });
      const fob = opts.fobs({ deviceId: w.device, secret, board: w.fob, hubHost: '127.0.0.1', hubPort: sim.hub.mqttPort, battery: w.battery, clockStart: SCENARIO_START, ...(w.fob === 'rak5010' && w.track.length > 0 ? { track: gnssTrackText(w.track) } : {}) });
      fobs.set(w.id, fob);
      await fob.start();
    }
    say(`${s.name}: ${s.workers.length} fob(s) up, running ${s.duration} of scenario time`);

    const steps = [...s.script].sort((a, b) => parseDuration(a.at)! - parseDuration(b.at)!);
    const packs: PolicePack[] = [];
    // Issue 20: every worker's track, in time order, applied as the clock passes each point.
    const track = s.workers
      .flatMap((w) => w.track.map((p) => ({ worker: w.id, at: SCENARIO_START + parseDuration(p.at)!, point: p })))
      .sort((a, b) => a.at - b.at);
    let nextPoint = 0;
    const end = SCENARIO_START + parseDuration(s.duration)!;
    const relinks: { at: number; worker: string }[] = [];
    let next = 0;
    let busyUntil = SCENARIO_START + 10_000;
    while (sim.clock.now() < end) {
      const now = sim.clock.now();
      // Fine steps around activity, coarse ones in between.
      const stepMs = now < busyUntil ? 1000 : 10_000;
      const target = Math.min(end, now + stepMs);
      for (const fob of fobs.values()) await fob.advance(target - now);
      await pause();
      sim.clock.advanceTo(target);
      await sim.settle();
      await pause();
      await sim.settle();
      while (nextPoint < track.length && track[nextPoint].at <= sim.clock.now()) {
        const { worker, point } = track[nextPoint++];
        const fix = 'no_fix' in point ? null : { la: point.lat, lo: point.lon, ac: point.accuracy_m, s: POSITION_SOURCE[point.source] };
        
        const took = fobs.get(worker)!.setPosition(fix);
        const at = `+${formatDuration(sim.clock.now() - SCENARIO_START)}`;
        if (!took) say(`${at} ${worker}: this fob cannot send positions: track point ignored`);
        else say(`${at} ${worker}: ${'no_fix' in point ? 'fix lost (indoors)' : `at ${point.lat}, ${point.lon} (${point.source === 'phone' ? "the phone's fix" : point.source})`}`);
      }
      while (next < steps.length && SCENARIO_START + parseDuration(steps[next].at)! <= sim.clock.now()) {
        await act(steps[next]);
        busyUntil = sim.clock.now() + 30_000;
        next++;
      }
      for (const r of relinks.filter((x) => x.at <= sim.clock.now())) {
        fobs.get(r.worker)?.setLink(true);
        say(`+${formatDuration(sim.clock.now() - SCENARIO_START)} ${r.worker}: link back`);
        relinks.splice(relinks.indexOf(r), 1);
        busyUntil = sim.clock.now() + 30_000;
      }
    }
    await pause();
    await sim.settle();

    const alarms = await store.read((tx) => tx.listAlarms({}));
    const timelines = new Map<string, StoredTimelineEntry[]>();
    for (const a of alarms) timelines.set(a.id, await store.read((tx) => tx.getTimeline(a.id)));
    const results: ExpectationResult[] = [];
    for (const e of s.expect) results.push(await check(e, alarms, timelines));
    for (const r of results) say(`${r.met ? 'met    ' : 'NOT MET'} ${r.expectation}: ${r.detail}`);
    return { name: s.name, passed: results.every((r) => r.met), results, realSeconds: (Date.now() - realStart) / 1000, log };

    async function act(step: ScriptStep): Promise<void> {
      const at = `+${formatDuration(sim.clock.now() - SCENARIO_START)}`;
      if (step.action === 'officer') {
        const open = (await store.read((tx) => tx.listAlarms({ open: true }))).filter((a) => !step.alarm || a.kind === step.alarm);
        if (open.length === 0) {
          say(`${at} officer: no open alarm to ${step.do}`);
          return;
        }
        if (step.do === 'handover') {
          // What GET /api/alarms/:id/handover puts under "Last known position", audited as it is there.
          const alarm = open[0];
          const sighting = alarm.workerId ? ((await store.read((tx) => tx.getCheckinState(alarm.workerId!)))?.lastSighting ?? null) : null;
          const where = await handoverPositions(store, DRILL_OFFICER, alarm, sighting?.at ?? null, sim.clock.now());
          packs.push({ alarmId: alarm.id, workerId: alarm.workerId, at: sim.clock.now(), position: where.position });
          const p = where.position;
          say(`${at} officer: police hand-over for ${alarm.kind}: ${p ? `last known position ${p.lat}, ${p.lon} (within ${p.accuracyM} m, ${p.age} old, ${p.source})` : where.positionWithheld ? `position withheld: ${where.positionWithheld}` : 'no position known'}`);
          return;
        }
        const input = step.do === 'cancel' ? { type: 'cancel' as const, by: 'drill:officer', source: 'officer' as const } : step.do === 'resolve'
              ? { type: 'resolve' as const, by: 'drill:officer', outcome: 'test' as const, authority: 'taker' as const }
              : { type: step.do, by: 'drill:officer' };
        await sim.hub.runtime.alarmAction(open[0].id, input as never).catch((err: Error) => say(`${at} officer: ${err.message}`));
        say(`${at} officer: ${step.do} ${open[0].kind}`);
        return;
      }
      const fob = fobs.get(step.worker)!;
      switch (step.action) {
        case 'press':
          fob.press(step.gesture);
          say(`${at} ${step.worker}: ${step.gesture}`);
          break;
        case 'battery':
          fob.setBattery(step.percent);
          say(`${at} ${step.worker}: battery ${step.percent}%`);
          break;
        case 'link_down':
          fob.setLink(false);
          if (step.for) relinks.push({ at: sim.clock.now() + parseDuration(step.for)!, worker: step.worker });
          say(`${at} ${step.worker}: link down${step.for ? ` for ${step.for}` : ''}`);
          break;
        case 'link_up':
          fob.setLink(true);
          say(`${at} ${step.worker}: link up`);
          break;
        case 'silent':
          fob.kill();
          say(`${at} ${step.worker}: fob goes silent`);
          break;
        case 'reboot':
          await fob.reboot();
          say(`${at} ${step.worker}: fob reboots`);
          break;
      }
    }

    async function check(e: Expectation, all: AlarmRecord[], tl: Map<string, StoredTimelineEntry[]>): Promise<ExpectationResult> {
      const worker = e.worker ? s.workers.find((w) => w.id === e.worker) : undefined;
      const who = e.worker ? ` for ${e.worker}` : '';
      const after = SCENARIO_START + parseDuration(e.after)!;
      const matching = all.filter((a) => (!e.alarm || a.kind === e.alarm) && (!e.worker || a.workerId === e.worker) && a.raisedAt >= after);
      if (e.nothing_raised) {
        return { expectation: `no ${e.alarm ?? 'alarm'}${who}`, met: matching.length === 0, detail: matching.length === 0 ? 'none raised' : `raised: ${matching.map((a) => `${a.kind} at +${formatDuration(a.raisedAt - SCENARIO_START)}`).join(', ')}` };
      }
      if (e.fob_silent) {
        const fob = fobs.get(e.worker ?? s.workers[0].id)!;
        return { expectation: `fob${who} never sounded`, met: fob.soundCount() === 0, detail: `buzzer sounded ${fob.soundCount()} time(s)` };
      }
      if (e.delivered_once) {
        const fob = fobs.get(e.worker ?? s.workers[0].id)!;
        const stored = await store.read((tx) => tx.countFobEvents((worker ?? s.workers[0]).device));
        const ok = stored === fob.eventsRaised() && fob.outboxSize() === 0;
        return { expectation: `every event from the fob${who} delivered exactly once`, met: ok, detail: `fob raised ${fob.eventsRaised()}, hub stored ${stored}, ${fob.outboxSize()} waiting in the outbox` };
      }
      if (e.police_advised) {
        const advised = matching.some((a) => (tl.get(a.id) ?? []).some((t) => t.type === 'police_advised'));
        return { expectation: `999 advised${who}`, met: advised, detail: advised ? 'advised' : 'not advised' };
      }
      if (e.police_position_max_age !== undefined || e.police_position !== undefined) {
        const pack = packs.filter((p) => !e.worker || p.workerId === e.worker).at(-1);
        const label = `police hand-over${who} had a position${e.police_position_max_age ? ` no older than ${e.police_position_max_age}` : ''}${e.police_position ? ` at ${e.police_position.join(', ')}` : ''}`;
        if (!pack) return { expectation: label, met: false, detail: 'no hand-over was made (script an officer step with do = "handover")' };
        const p = pack.position;
        if (!p) return { expectation: label, met: false, detail: `the hand-over at +${formatDuration(pack.at - SCENARIO_START)} had no position` };
        const fresh = e.police_position_max_age === undefined || p.ageS * 1000 <= parseDuration(e.police_position_max_age)!;
        const place = e.police_position === undefined || (p.lat === e.police_position[0] && p.lon === e.police_position[1]);
        return { expectation: label, met: fresh && place, detail: `at +${formatDuration(pack.at - SCENARIO_START)}: ${p.lat}, ${p.lon}, within ${p.accuracyM} m, ${p.age} old (${p.source})` };
      }
      const alarm = matching[0];
      const label = `${e.alarm}${who}`;
      if (!alarm) return { expectation: label, met: false, detail: 'not raised' };
      const parts: string[] = [`raised at +${formatDuration(alarm.raisedAt - SCENARIO_START)}`];
      let met = true;
      if (e.within) {
        const limit = after + parseDuration(e.within)!;
        const ok = alarm.raisedAt <= limit;
        met &&= ok;
        parts.push(`within ${e.within} of +${formatDuration(after - SCENARIO_START)}: ${ok ? 'yes' : 'no'}`);
      }
      if (e.level !== undefined) {
        const by = e.by ? SCENARIO_START + parseDuration(e.by)! : Infinity;
        const reached = Math.max(-1, ...(tl.get(alarm.id) ?? []).filter((t) => t.type === ('notify' satisfies TimelineStepType) && t.at <= by).map((t) => Number(t.detail.level)));
        const ok = reached >= e.level;
        met &&= ok;
        parts.push(`ladder level ${reached}${e.by ? ` by ${e.by}` : ''} (wanted ${e.level})`);
      }
      if (e.state) {
        const ok = alarm.state === e.state;
        met &&= ok;
        parts.push(`state ${alarm.state} (wanted ${e.state})`);
      }
      if (!alarm.drill) {
        met = false;
        parts.push('not marked as a drill');
      }
      void isOpen;
      return { expectation: `${label}${e.within ? ` within ${e.within}` : ''}${e.level !== undefined ? `, level ${e.level}` : ''}${e.state ? `, ${e.state}` : ''}`, met, detail: parts.join('; ') };
    }
  } finally {
    for (const f of fobs.values()) await f.stop().catch(() => undefined);
    await sim.stop();
  }
}

function pause(): Promise<void> {
  return new Promise((r) => setTimeout(r, NETWORK_PAUSE_MS));
}

/**
 * A scenario's walk as the BG96 simulator's GNSS track (firmware/sim/bg96-sim.ts parseTrack): seconds
 * from the start, and HDOP from the accuracy by the firmware's own estimate inverted (accuracy =
 * HDOP x 5 m, docs/fob.md "GNSS"), so the fob reports about the accuracy the scenario gave.
 */
export function gnssTrackText(track: { at: string; lat?: number; lon?: number; accuracy_m?: number; no_fix?: true }[]): string {
  return track
    .map((p) => {
      const t = Math.round(parseDuration(p.at)! / 1000);
      if (p.no_fix) return `${t} indoors`;
      const hdop = Math.min(99.9, Math.max(0.5, Math.round(((p.accuracy_m ?? 10) / 5) * 10) / 10));
      return `${t} ${p.lat} ${p.lon} ${hdop}`;
    })
    .join('\n');
}
