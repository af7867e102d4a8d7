/**
 * Reads and checks a scenario file. Mistakes are refused with the file, the line and what is wrong:
 * TOML syntax errors carry their own line; for schema errors the line is found by walking the file's
 * tables ([[script]] number 3, then its `at =` key) to where the faulty value is written.
 */
import { readFileSync } from 'node:fs';
import TOML from '@iarna/toml';
import { scenarioSchema, type Scenario } from './scenario-schema.js';
import { parseDuration } from './durations.js';
import { parseTrack } from '../../firmware/sim/bg96-sim.js';

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { line: number | null; message: string }[],
  ) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.message}`).join('\n'));
    this.name = 'ScenarioError';
  }
}

/** Finds the line of `path` (e.g. ['script', 2, 'at']) in TOML text, or null. */
export function locate(text: string, path: (string | number)[]): number | null {
  const lines = text.split('\n');
  let from = 0;
  let to = lines.length;
  let i = 0;
  if (typeof path[0] === 'string' && typeof path[1] === 'number') {
    const header = new RegExp(`^\\s*\\[\\[\\s*${path[0]}\\s*\\]\\]`);
    let seen = -1;
    for (let n = 0; n < lines.length; n++) {
      if (header.test(lines[n])) {
        seen++;
        if (seen === path[1]) {
          from = n;
          to = lines.length;
          for (let m = n + 1; m < lines.length; m++) if (/^\s*\[/.test(lines[m])) {
            to = m;
            break;
          }
          break;
        }
      }
    }
    if (seen < path[1]) return null;
    i = 2;
  }
  const key = path[i];
  if (typeof key !== 'string') return from + 1;
  const keyRe = new RegExp(`^\\s*${key}\\s*=`);
  for (let n = from; n < to; n++) if (keyRe.test(lines[n])) return n + 1;
  return from > 0 || i > 0 ? from + 1 : null;
}

export function parseScenario(text: string, file: string): Scenario {
  let raw: unknown;
  try {
    raw = TOML.parse(text);
  } catch (err) {
    const e = err as Error & { line?: number };
    throw new ScenarioError(file, [{ line: e.line !== undefined ? e.line + 1 : null, message: `TOML syntax: ${e.message.split('\n')[0]}` }]);
  }
  const result = scenarioSchema.safeParse(raw);
  if (!result.success) {
    throw new ScenarioError(
      file,
      result.error.issues.map((iss) => ({ line: locate(text, iss.path as (string | number)[]), message: `${iss.path.join('.') || '(file)'}: ${iss.message}` })),
    );
  }
  const s = result.data;
  // Cross-references the schema cannot see.
  const problems: { line: number | null; message: string }[] = [];
  const workers = new Set(s.workers.map((w) => w.id));
  const devices = new Set<string>();
  s.workers.forEach((w, i) => {
    if (devices.has(w.device)) problems.push({ line: locate(text, ['workers', i, 'device']), message: `workers.${i}.device: "${w.device}" is used twice` });
    devices.add(w.device);
    if (w.track !== undefined) {
      const at = locate(text, ['workers', i, 'track']);
      if (w.fob !== 'rak5010') problems.push({ line: at, message: `workers.${i}.track: only a rak5010 has a GNSS receiver (this worker's fob is a ${w.fob})` });
      else {
        try {
          parseTrack(w.track);
        } catch (err) {
          problems.push({ line: at, message: `workers.${i}.track: ${(err as Error).message}` });
        }
      }
    }
  });
  const total = parseDuration(s.duration)!;
  s.visits.forEach((v, i) => {
    if (!workers.has(v.worker)) problems.push({ line: locate(text, ['visits', i, 'worker']), message: `visits.${i}.worker: no worker "${v.worker}"` });
    if (parseDuration(v.end)! <= parseDuration(v.start)!) problems.push({ line: locate(text, ['visits', i, 'end']), message: `visits.${i}.end: must be after start` });
  });
  s.script.forEach((step, i) => {
    if ('worker' in step && !workers.has(step.worker)) problems.push({ line: locate(text, ['script', i, 'worker']), message: `script.${i}.worker: no worker "${step.worker}"` });
    if (parseDuration(step.at)! > total) problems.push({ line: locate(text, ['script', i, 'at']), message: `script.${i}.at: ${step.at} is after the end of the scenario (${s.duration})` });
  });
  s.expect.forEach((e, i) => {
    if (e.worker && !workers.has(e.worker)) problems.push({ line: locate(text, ['expect', i, 'worker']), message: `expect.${i}.worker: no worker "${e.worker}"` });
    const says = [e.alarm, e.nothing_raised, e.fob_silent, e.delivered_once, e.police_advised].some((x) => x !== undefined);
    if (!says) problems.push({ line: locate(text, ['expect', i]), message: `expect.${i}: says nothing to check (alarm, nothing_raised, fob_silent, delivered_once or police_advised)` });
    if ((e.level !== undefined || e.state !== undefined || e.within !== undefined) && !e.alarm) {
      problems.push({ line: locate(text, ['expect', i]), message: `expect.${i}: level, state and within need an alarm kind` });
    }
  });
  if (problems.length > 0) throw new ScenarioError(file, problems);
  return s;
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ScenarioError(file, [{ line: null, message: 'cannot read the file' }]);
  }
  return parseScenario(text, file);
}
