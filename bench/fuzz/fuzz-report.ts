/**
 * The fuzz run's verdict and its printout: what was tried, what the hub refused (by reason, from
 * its own /metrics counters and from what came back on the wire), and every crash, 5xx, hang or loss.
 */
import type { FuzzReport } from './fuzz-run.js';

export interface Verdict {
  ok: boolean;
  crashes: number;
  serverErrors: number;
  hangs: number;
  lost: number;
  duplicateAlarms: number;
}

export function verdict(r: FuzzReport): Verdict {
  const serverErrors = Object.values(r.tally['api failures'] ?? {}).reduce((a, b) => a + b, 0);
  const v = {
    crashes: r.crashes.length,
    serverErrors,
    hangs: r.probe.hangs.length,
    lost: r.killLoop?.lost.length ?? 0,
    duplicateAlarms: r.killLoop?.duplicateAlarms.length ?? 0,
  };
  return { ok: Object.values(v).every((n) => n === 0), ...v };
}

const n = (x: number): string => x.toLocaleString('en-GB');

function group(title: string, g: Record<string, number> | undefined, limit = 40): string[] {
  if (!g) return [];
  const rows = Object.entries(g).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((a, [, c]) => a + c, 0);
  const out = [`${title} (${n(total)}):`, ...rows.slice(0, limit).map(([k, c]) => `  ${n(c).padStart(10)}  ${k}`)];
  if (rows.length > limit) out.push(`  ... and ${rows.length - limit} more kinds`);
  return out;
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function formatReport(r: FuzzReport): string {
  const v = verdict(r);
  const lines = [
    `Lonewatch fuzz run ${r.date}, seed ${r.seed} (replay: npx lonewatch fuzz --seed ${r.seed})`,
    `asked for ${n(r.asked.packets)} MQTT packets, ${n(r.asked.apiRequests)} API requests, ${r.asked.killRounds} kill -9 rounds`,
    `fuzzing took ${r.seconds.fuzz} s${r.stoppedAtTimeBound ? ' and STOPPED AT ITS TIME BOUND (counts below are what was sent)' : ''}; the kill -9 loop ${r.seconds.killLoop} s`,
    '',
    ...group('MQTT packets sent', r.tally['mqtt sent']),
    ...group('payload mutations (in the PUBLISHes of logged-in fobs)', r.tally['payload mutations']),
    ...group('what came back on the wire', r.tally['mqtt answers']),
    ...group('MQTT driver problems', r.tally['mqtt failures']),
    '',
    `refused by the hub (its /metrics counters at the end):`,
    `  broker: ${JSON.stringify(r.hubCounters?.broker ?? 'not read (the hub was down)')}`,
    `  ingest: ${JSON.stringify(r.hubCounters?.ingest ?? 'not read (the hub was down)')}`,
    '',
    ...group('API requests sent', r.tally['api sent']),
    ...group('API answers by status', r.tally['api answers']),
    ...(r.apiFailures.length ? ['API failures (first ones, whole):', ...r.apiFailures.map((f) => `  ${f.outcome}: ${f.request}`)] : []),
    '',
    `liveness probe: ${r.probe.presses} SOS presses, ${r.probe.acked} acked (p50 ${pct(r.probe.ackMs, 50)} ms, p99 ${pct(r.probe.ackMs, 99)} ms, max ${Math.max(0, ...r.probe.ackMs)} ms), ${r.probe.hangs.length} not acked within 10 s`,
    ...r.probe.hangs.slice(0, 10).map((h) => `  HANG ${h.at}: ${h.what}`),
    `hub memory (RSS): ${r.rssMb.start} MB at start, ${r.rssMb.max} MB at most over ${r.rssMb.samples} samples, ${r.rssMb.end} MB at the end`,
    '',
  ];
  const k = r.killLoop;
  if (k) {
    lines.push(
      `kill -9 loop: ${k.rounds} rounds, ${n(k.acked)} SOS PUBACKed, ${k.inFlightAtKill} on the wire at a kill and ${k.waitingAtKills} waiting in outboxes at the kills (summed; re-sent after each restart), ${k.duplicatesSent} PUBACKed ones re-sent as retries`,
      `  restart to listening: median ${pct(k.restartSeconds, 50)} s, max ${Math.max(0, ...k.restartSeconds)} s`,
      `  lost: ${k.lost.length}${k.lost.length ? '\n    ' + k.lost.slice(0, 20).join('\n    ') : ''}`,
      `  duplicate alarms: ${k.duplicateAlarms.length}${k.duplicateAlarms.length ? '\n    ' + k.duplicateAlarms.slice(0, 20).join('\n    ') : ''}`,
    );
  }
  for (const c of r.crashes) lines.push(`CRASH: ${c}`);
  lines.push('', v.ok ? 'RESULT: no crash, no 5xx, no hang, no loss' : `RESULT: FAILED: ${v.crashes} crashes, ${v.serverErrors} API failures (5xx or no answer), ${v.hangs} probe hangs, ${v.lost} lost, ${v.duplicateAlarms} duplicate alarms`);
  return lines.join('\n') + '\n';
}
