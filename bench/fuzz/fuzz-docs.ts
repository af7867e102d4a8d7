/**
 * The fuzz run's section of docs/benchmarks.md, between two markers so that `npm run bench`, which
 * writes the rest of that file, keeps it (bench/report.ts) and a new full fuzz run replaces it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { FuzzReport } from './fuzz-run.js';
import { verdict } from './fuzz-report.js';

export const FUZZ_START = '<!-- fuzz:start (written by `npx lonewatch fuzz`; npm run bench keeps it) -->';
export const FUZZ_END = '<!-- fuzz:end -->';

const n = (x: number): string => x.toLocaleString('en-GB');
const sum = (g: Record<string, number> | undefined): number => Object.values(g ?? {}).reduce((a, b) => a + b, 0);

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const METHOD = [
  '**What it does** (`bench/fuzz/`, one module per generator and driver; the short version, 5,000 packets, 500 requests and 3 kill -9 rounds, runs in `npm test` as `test/fuzz/fuzz-short.test.ts`):',
  '',
  '- The hub is `lonewatch hub` in its own process on loopback ephemeral ports with a temporary SQLite store (`fuzz-hub.ts`); a crash is that process exiting by itself. Every generator is seeded from the printed seed (`prng.ts`, one forked stream per connection; the interleaving of streams is not replayed, each stream\'s inputs are).',
  '- **Structure-aware payloads** (`protocol-fuzz.ts`): a valid message of each kind from `shared/protocol-core.ts` and the bounds of `shared/protocol-schemas.ts`, then one mutation: a field removed or retyped, an unknown kind or key, huge and stale ages, id boundaries, a duplicate id, unicode and lone surrogates, a payload at and one byte over the 256-byte limit, deep nesting, not JSON. Inputs the hub stores (valid, stale, duplicate) are kept rare, as each is a durable commit. Sent by 24 logged-in fobs over raw TCP at QoS 0 and 1, with SUBSCRIBEs (own and forbidden topics), PINGREQs, publishes on another fob\'s topic, wrong secrets and session takeovers (`mqtt-fuzz.ts`).',
  '- **Byte mutation** (`mqtt-packets.ts`): valid CONNECT, PUBLISH, SUBSCRIBE and PINGREQ packets written byte by byte (MQTT 3.1.1 §2, §3) with bit flips, truncation, bogus and 5-byte remaining lengths, bad UTF-8 in topic names, reserved packet types, appended garbage and protocol levels 0, 3, 5, 6 and 255; each followed by a PINGREQ to see whether the hub kept the connection. 24 streams, from 200 loopback source addresses; at most 48 connections are open before their CONNACK at once (the hub allows 128 per address, 2,048 in all), so the hub\'s bounds (docs/hub.md) are met and what it refuses is counted as refused.',
  '- **API** (`api-fuzz.ts`, `api-driver.ts`): the routes from the hub\'s own OpenAPI document (`/docs/json`), with path parameters (known ids and hostile strings), query strings, JSON bodies from each route\'s schema with one mutation, bodies that are not JSON, wrong content types and odd headers; as nobody, a duty officer, an admin (API tokens) or a forged credential. Any 5xx, a request with no answer within 15 s or a connection reset is a failure; a 4xx is a refusal.',
  '- **Liveness** (`liveness-probe.ts`): a fob of its own (the wire behaviour of `test/helpers/mqtt-fob.ts`, not the firmware) presses SOS every 2 s; no application ack within 10 s is a hang. Memory: the hub\'s RSS every second (`ps`).',
  '- **kill -9** (`kill-restart.ts`): a second hub; 8 fobs press SOS as fast as it acknowledges, it is killed with SIGKILL after a random number of PUBACKs, restarted on the same database, and the fobs re-send what was not PUBACKed (and now and then one that was). At the end every PUBACKed event must be in `fob_events` with exactly one alarm.',
  '- Exit status 1 on any crash, API failure, hang, lost or duplicated alarm.',
  '',
];

export function fuzzSection(r: FuzzReport, resultsFile: string): string {
  const v = verdict(r);
  const answers = r.tally['api answers'] ?? {};
  const status = (pred: (code: number) => boolean): number => Object.entries(answers).reduce((a, [k, c]) => (pred(Number(k.slice(0, 3))) ? a + c : a), 0);
  const broker = (r.hubCounters?.broker ?? {}) as Record<string, number>;
  const ingest = (r.hubCounters?.ingest ?? {}) as { rejected?: Record<string, number>; events?: number; duplicates?: number; alarms?: number; heartbeats?: number };
  const k = r.killLoop;
  const wire = r.tally['mqtt answers'] ?? {};
  const top = Object.entries(wire)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([w, c]) => `${w} ${n(c)}`)
    .join('; ');
  return [
    FUZZ_START,
    '## Fuzz and fault harness',
    '',
    `\`npx lonewatch fuzz\` (\`npm run bench -- --only fuzz\`) on ${r.date.slice(0, 10)}, seed **${r.seed}** (replay: \`npx lonewatch fuzz --seed ${r.seed}\`). Raw figures: \`${resultsFile}\`.`,
    `Asked for ${n(r.asked.packets)} MQTT packets, ${n(r.asked.apiRequests)} API requests and ${r.asked.killRounds} kill -9 rounds; the fuzzing ran ${r.seconds.fuzz} s${r.stoppedAtTimeBound ? ' and **stopped at its time bound**, so the counts below are what was sent' : ''}, the kill -9 loop ${r.seconds.killLoop} s alongside it.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| MQTT packets sent | ${n(sum(r.tally['mqtt sent']))} (structure-aware PUBLISHes of logged-in fobs ${n(sum(r.tally['payload mutations']))}) |`,
    `| refused by the hub, ingest (\`/metrics\`) | ${Object.entries(ingest.rejected ?? {}).map(([c, x]) => `${c} ${n(x)}`).join(', ')} |`,
    `| accepted by the ingest | ${n(ingest.events ?? 0)} events (${n(ingest.alarms ?? 0)} alarms), ${n(ingest.duplicates ?? 0)} duplicates, ${n(ingest.heartbeats ?? 0)} heartbeats |`,
    `| refused by the broker (\`/metrics\`) | ${Object.entries(broker).map(([c, x]) => `${c} ${n(x)}`).join(', ')} |`,
    `| what came back on the wire (largest) | ${top} |`,
    `| API requests sent | ${n(sum(r.tally['api sent']))}: 2xx ${n(status((c) => c >= 200 && c < 300))}, 3xx ${n(status((c) => c >= 300 && c < 400))}, 4xx ${n(status((c) => c >= 400 && c < 500))}, **5xx ${n(status((c) => c >= 500))}**, failures (5xx or no answer) ${n(v.serverErrors)} |`,
    `| liveness probe (a fob pressing SOS every 2 s) | ${r.probe.presses} presses, ${r.probe.acked} acked, p50 ${pct(r.probe.ackMs, 50)} ms, p99 ${pct(r.probe.ackMs, 99)} ms; **${r.probe.hangs.length} not acked within 10 s** |`,
    `| hub RSS | ${r.rssMb.start} MB at start, ${r.rssMb.max} MB at most (${r.rssMb.samples} samples), ${r.rssMb.end} MB at the end |`,
    ...(k
      ? [
          `| kill -9 rounds under SOS load | ${k.rounds}: ${n(k.acked)} SOS PUBACKed, ${k.waitingAtKills === undefined ? '' : `${n(k.inFlightAtKill)} publishes on the wire at a kill, `}${n(k.waitingAtKills ?? k.inFlightAtKill)} presses waiting in the fobs' outboxes at the kills (summed over the kills; re-sent after each restart), ${k.duplicatesSent} PUBACKed ones re-sent |`,
          `| lost / duplicate alarms | **${k.lost.length} / ${k.duplicateAlarms.length}** |`,
          `| restart to listening | median ${pct(k.restartSeconds, 50)} s, max ${Math.max(0, ...k.restartSeconds)} s |`,
        ]
      : []),
    `| crashes | **${v.crashes}** |`,
    '',
    ...METHOD,
    FUZZ_END,
  ].join('\n');
}

/** Puts the section into the file: in place of the old one, or at the end. */
export function writeFuzzSection(path: string, section: string): void {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  writeFileSync(path, replaceSection(old, section));
}

export function replaceSection(doc: string, section: string): string {
  const a = doc.indexOf(FUZZ_START);
  const b = doc.indexOf(FUZZ_END);
  if (a >= 0 && b > a) return doc.slice(0, a) + section + doc.slice(b + FUZZ_END.length);
  return doc.replace(/\n*$/, '\n\n') + section + '\n';
}

/** The section as it stands in a file, for bench/report.ts to carry over; '' when none. */
export function currentSection(doc: string): string {
  const a = doc.indexOf(FUZZ_START);
  const b = doc.indexOf(FUZZ_END);
  return a >= 0 && b > a ? doc.slice(a, b + FUZZ_END.length) : '';
}
