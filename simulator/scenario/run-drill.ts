/**
 * Drill mode: a scenario against the LIVE hub, on the real clock, so a duty officer team can
 * rehearse (003: "train and practice the responses"). The scenario's workers and fobs are
 * registered in the hub's database as drill-<id>; every alarm from a drill fob is marked as a drill
 * wherever it appears. Officer steps in the script are left to the real officers. Expectations are
 * checked against what the live hub recorded.
 */
import { join } from 'node:path';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { generateDeviceSecret, hashSecret } from '../../hub/device-secrets.js';
import { addVisit } from '../../hub/admin/admin-service.js';
import { DRILL_PREFIX } from '../../hub/rules/rules-runtime.js';
import type { HubConfig } from '../../hub/config/config-schema.js';
import type { VirtualFob, VirtualFobFactory } from '../virtual-fob.js';
import { formatDuration, parseDuration } from './durations.js';
import type { Scenario } from './scenario-schema.js';
import type { ScenarioResult, ExpectationResult } from './run-scenario.js';

export async function runDrill(s: Scenario, config: HubConfig, fobs: VirtualFobFactory, say: (line: string) => void): Promise<ScenarioResult> {
  const store = new SqliteStore(join(config.hub.data_dir, 'lonewatch.db'));
  const started = Date.now();
  const log: string[] = [];
  const note = (l: string): void => {
    log.push(l);
    say(l);
  };
  const running = new Map<string, VirtualFob>();
  const host = config.mqtt.host === '0.0.0.0' ? '127.0.0.1' : config.mqtt.host;
  const drillId = (id: string): string => `${DRILL_PREFIX}${id}`.slice(0, 32);
  try {
    for (const w of s.workers) {
      const secret = generateDeviceSecret();
      const secretHash = await hashSecret(secret);
      await store.transaction(async (tx) => {
        await tx.upsertWorker({
          id: drillId(w.id),
          name: `DRILL ${w.name}`,
          phone: null,
          homeAddress: null,
          medicalNotes: null,
          car: null,
          emergencyContacts: null,
          buddyId: null,
          lineManagerId: null,
          trainingDate: w.training_date,
          newStarter: false,
          description: null,
        });
        const existing = await tx.getDevice(drillId(w.device));
        if (existing) await tx.updateDevice(existing.id, { secretHash, revokedAt: null, workerId: drillId(w.id) });
        else await tx.insertDevice({ id: drillId(w.device), workerId: drillId(w.id), board: w.fob, secretHash, createdAt: started, revokedAt: null, lastSeenAt: null, battery: null, online: false, firmware: null });
      });
      running.set(w.id, fobs({ deviceId: drillId(w.device), secret, board: w.fob, hubHost: host, hubPort: config.mqtt.port, battery: w.battery, clockStart: started }));
    }
    for (const v of s.visits) {
      await addVisit(
        store,
        {
          workerId: drillId(v.worker),
          ref: `D-${v.ref}`.slice(0, 32),
          scheduledStart: started + parseDuration(v.start)!,
          expectedEnd: started + parseDuration(v.end)!,
          riskCategory: v.category,
          rag: v.rag,
          checkinIntervalMin: v.checkin_interval_min ?? null,
          nextLocation: null,
          secondWorkerId: v.second_worker ? drillId(v.second_worker) : null,
          unplanned: false,
        },
        { onBreach: 'flag', trainingValidYears: 3 },
      );
    }
    for (const f of running.values()) await f.start();
    note(`DRILL ${s.name}: ${running.size} drill fob(s) on the live hub, running ${s.duration} in real time`);

    const end = started + parseDuration(s.duration)!;
    const steps = [...s.script].sort((a, b) => parseDuration(a.at)! - parseDuration(b.at)!);
    let next = 0;
    let last = Date.now();
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      const now = Date.now();
      for (const f of running.values()) await f.advance(now - last);
      last = now;
      while (next < steps.length && started + parseDuration(steps[next].at)! <= now) {
        const step = steps[next++];
        const at = `+${formatDuration(Math.round((now - started) / 1000) * 1000)}`;
        if (step.action === 'officer') {
          note(`${at} (left to the duty officers: ${step.do})`);
          continue;
        }
        const fob = running.get(step.worker)!;
        if (step.action === 'press') fob.press(step.gesture);
        else if (step.action === 'battery') fob.setBattery(step.percent);
        else if (step.action === 'link_down') fob.setLink(false);
        else if (step.action === 'link_up') fob.setLink(true);
        else if (step.action === 'silent') fob.kill();
        else if (step.action === 'reboot') await fob.reboot();
        note(`${at} ${step.worker}: ${step.action}${step.action === 'press' ? ` ${step.gesture}` : ''}`);
      }
    }

    const alarms = (await store.read((tx) => tx.listAlarms({}))).filter((a) => a.raisedAt >= started && a.workerId?.startsWith(DRILL_PREFIX));
    const results: ExpectationResult[] = [];
    for (const e of s.expect) {
      const mine = alarms.filter((a) => (!e.alarm || a.kind === e.alarm) && (!e.worker || a.workerId === drillId(e.worker)) && a.raisedAt >= started + parseDuration(e.after)!);
      if (e.nothing_raised) results.push({ expectation: `no ${e.alarm ?? 'alarm'}`, met: mine.length === 0, detail: `${mine.length} raised` });
      else if (e.fob_silent) {
        const f = running.get(e.worker ?? s.workers[0].id)!;
        results.push({ expectation: 'fob never sounded', met: f.soundCount() === 0, detail: `buzzer sounded ${f.soundCount()} time(s)` });
      } else if (e.alarm) {
        const a = mine[0];
        const within = e.within ? !!a && a.raisedAt <= started + parseDuration(e.after)! + parseDuration(e.within)! : !!a;
        results.push({ expectation: `${e.alarm}${e.within ? ` within ${e.within}` : ''}`, met: !!a && within && a.drill, detail: a ? `raised at +${formatDuration(Math.round((a.raisedAt - started) / 1000) * 1000)}, marked drill: ${a.drill}` : 'not raised' });
      } else results.push({ expectation: 'checked in time-warped runs only', met: true, detail: 'skipped in a drill' });
    }
    for (const r of results) note(`${r.met ? 'met    ' : 'NOT MET'} ${r.expectation}: ${r.detail}`);
    return { name: s.name, passed: results.every((r) => r.met), results, realSeconds: (Date.now() - started) / 1000, log };
  } finally {
    for (const f of running.values()) await f.stop().catch(() => undefined);
    await store.close();
  }
}
