/**
 * `npm run bench -- --only chaos [--fobs n] [--seconds s] [--seed n] [--sqlite]`: the random-kill
 * failure run (chaos-bench.ts). Writes bench/results/chaos-<date>.json and the chaos section of
 * docs/benchmarks.md (between its markers, nothing else), and exits 1 when the verdict fails, so CI
 * or a person can run it as a check.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { benchChaos, type ChaosResult } from './chaos-bench.js';

export const CHAOS_START = '<!-- chaos:start (written by `npm run bench -- --only chaos`; npm run bench keeps it) -->';
export const CHAOS_END = '<!-- chaos:end -->';

export function chaosSection(r: ChaosResult, file: string, date: string, load: number): string {
  const v = r.verdict;
  const byPart = new Map<string, number>();
  for (const k of r.kills) byPart.set(k.part, (byPart.get(k.part) ?? 0) + 1);
  const down = r.kills.map((k) => k.downFor);
  const list = (xs: string[]): string => (xs.length === 0 ? '0' : `**${xs.length}** (${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', ...' : ''})`);
  return [
    CHAOS_START,
    '## The cluster under random kills',
    '',
    `\`npm run bench -- --only chaos --fobs ${r.options.fobs} --seconds ${r.options.seconds} --seed ${r.options.seed}\` on ${date.slice(0, 10)}, store **${r.store}**, ${r.partitions} partitions, \`ack_wait_ms\` ${r.ackWaitMs}, load average ${load.toFixed(2)} on this machine's cores at the end. Raw figures: \`${file}\`.`,
    '',
    `${r.options.fobs} wire fobs, each given both edges, pressed ${v.sosPressed} SOS over ${r.options.seconds} s (about ${r.options.sosPerSecond} a second; every second one followed at once by its cancel), while a part picked at random (edge, worker or NATS node; one down at a time) was killed with SIGKILL and started again: ${r.kills.length} kills (${[...byPart].map(([p, n]) => `${p} ${n}`).join(', ')}), each down ${down.length ? `${Math.min(...down)}-${Math.max(...down)}` : '0'} s. Then every part was up and the fleet resent what was not acknowledged (${r.drainSeconds} s until every outbox was empty).`,
    '',
    '| check | result |',
    '| --- | --- |',
    `| SOS PUBACKed by an edge (at the first try or a resend) | ${v.sosPubacked} of ${v.sosPressed} pressed${v.sosPubacked < v.sosPressed ? ' (the rest never got a PUBACK: see the outbox check)' : ''} |`,
    `| PUBACKed SOS missing from the store | ${list(v.lost)} |`,
    `| events with more than one alarm | ${list(v.duplicated)} |`,
    `| fobs with events never acknowledged | ${v.unacked.length === 0 ? '0' : `**${v.unacked.length}**`} |`,
    `| acknowledged cancels not applied to their alarm | ${list(v.cancelNotApplied)} of ${v.cancelsAcked} |`,
    `| verdict | ${v.ok ? 'pass' : '**FAIL**'} |`,
    '',
    'Not measured here: press -> ack latency, escalation steps (test/cluster/cluster-escalation.test.ts kills between steps), the dashboard during the kills.',
    CHAOS_END,
  ].join('\n');
}

/** The chaos section of a document, or '' (bench/report.ts keeps it when it rewrites the rest). */
export function currentChaosSection(doc: string): string {
  const a = doc.indexOf(CHAOS_START);
  const b = doc.indexOf(CHAOS_END);
  return a === -1 || b === -1 ? '' : doc.slice(a, b + CHAOS_END.length);
}

/** Puts the section into the document: in place of the old one, or at the end. */
export function writeChaosSection(path: string, section: string): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const old = currentChaosSection(doc);
  const next = old ? doc.replace(old, section) : `${doc.replace(/\n*$/, '\n\n')}${section}\n`;
  writeFileSync(path, next);
}

export async function chaosMain(o: { fobs: number; seconds: number; seed: number; sqlite: boolean; out: string }): Promise<number> {
  const started = Date.now();
  const progress = (s: string): void => {
    process.stderr.write(`[${Math.round((Date.now() - started) / 1000)}s] ${s}\n`);
  };
  const date = new Date().toISOString();
  const r = await benchChaos({ fobs: o.fobs, seconds: o.seconds, sosPerSecond: 10, seed: o.seed, ...(o.sqlite ? { store: 'sqlite' as const } : {}) }, progress);
  mkdirSync(o.out, { recursive: true });
  const file = `${o.out}/chaos-${date.slice(0, 19).replace(/:/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  const section = chaosSection(r, file, date, loadavg()[0] ?? 0);
  writeChaosSection('docs/benchmarks.md', section);
  process.stdout.write(section + `\nresults: ${file}\nreport:  docs/benchmarks.md (chaos section)\n`);
  return r.verdict.ok ? 0 : 1;
}
