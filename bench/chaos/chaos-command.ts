/**
 * `npm run bench -- --only chaos [--fobs n] [--seconds s] [--seed n] [--sqlite]`: the random-kill
 * failure run (chaos-bench.ts). Writes bench/results/chaos-<date>.json and the chaos section of
 * docs/benchmarks.md (between its markers, nothing else), and exits 1 when the verdict fails, so CI
 * or a person can run it as a check. And `--only partitions`: what the per-device order costs
 * (partition-bench.ts), its own section.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { benchChaos, type ChaosResult } from './chaos-bench.js';
import { benchPartitions, type PartitionRun } from './partition-bench.js';

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

export const PARTITIONS_START = '<!-- partitions:start (written by `npm run bench -- --only partitions`; npm run bench keeps it) -->';
export const PARTITIONS_END = '<!-- partitions:end -->';

/** The section between two markers of a document, or ''. */
function markedSection(doc: string, start: string, end: string): string {
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  return a === -1 || b === -1 ? '' : doc.slice(a, b + end.length);
}

/** The chaos and partitions sections of a document, or '' (bench/report.ts keeps them when it rewrites the rest). */
export function currentChaosSection(doc: string): string {
  return [markedSection(doc, CHAOS_START, CHAOS_END), markedSection(doc, PARTITIONS_START, PARTITIONS_END)].filter(Boolean).join('\n\n');
}

/** Puts a section (starting with `start`, ending with `end`) into the document: in place of the old one, or at the end. */
export function writeMarkedSection(path: string, start: string, end: string, section: string): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const old = markedSection(doc, start, end);
  const next = old ? doc.replace(old, section) : `${doc.replace(/\n*$/, '\n\n')}${section}\n`;
  writeFileSync(path, next);
}

export function partitionsSection(r: { store: string; runs: PartitionRun[] }, file: string, date: string, load: number): string {
  const first = r.runs[0];
  return [
    PARTITIONS_START,
    '## What per-device order costs',
    '',
    `\`npm run bench -- --only partitions\` on ${date.slice(0, 10)}, store **${r.store}**, two workers, three NATS nodes, no edges; load average ${load.toFixed(2)} at the end. Raw figures: \`${file}\`. A backlog of ${first?.events ?? 0} check-in events from ${first?.devices ?? 0} devices is put on the stream at once (as edges would), and the clock stops when every partition's consumer has nothing pending and nothing unacked and the store holds every event. A fresh cluster per row.`,
    '',
    '| partitions | events | seconds | events stored and acked per second |',
    '| --- | --- | --- | --- |',
    ...r.runs.map((x) => `| ${x.partitions} | ${x.events} | ${x.seconds} | ${x.perSecond} |`),
    '',
    'Each partition hands out one message at a time (docs/cluster.md, "Order per device"): with 1 partition the whole cluster handles one event at a time.',
    PARTITIONS_END,
  ].join('\n');
}

export async function partitionsMain(o: { quick: boolean; sqlite: boolean; out: string }): Promise<number> {
  const started = Date.now();
  const progress = (s: string): void => {
    process.stderr.write(`[${Math.round((Date.now() - started) / 1000)}s] ${s}\n`);
  };
  const date = new Date().toISOString();
  const r = await benchPartitions({ partitionCounts: [1, 4, 16], events: o.quick ? 600 : 3000, devices: o.quick ? 60 : 300, ...(o.sqlite ? { store: 'sqlite' as const } : {}) }, progress);
  mkdirSync(o.out, { recursive: true });
  const file = `${o.out}/partitions-${date.slice(0, 19).replace(/:/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  const section = partitionsSection(r, file, date, loadavg()[0] ?? 0);
  writeMarkedSection('docs/benchmarks.md', PARTITIONS_START, PARTITIONS_END, section);
  process.stdout.write(section + `\nresults: ${file}\nreport:  docs/benchmarks.md (partitions section)\n`);
  return 0;
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
  writeMarkedSection('docs/benchmarks.md', CHAOS_START, CHAOS_END, section);
  process.stdout.write(section + `\nresults: ${file}\nreport:  docs/benchmarks.md (chaos section)\n`);
  return r.verdict.ok ? 0 : 1;
}
