import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError } from '../../simulator/scenario/load-scenario.js';
import { gnssTrackText } from '../../simulator/scenario/run-scenario.js';

const good = `name = "x"
duration = "10m"

[[workers]]
id = "sam"
name = "Sam"
fob = "puck"
device = "fob-sam"

[[script]]
at = "+1m"
worker = "sam"
action = "press"
gesture = "covert_sos"

[[expect]]
alarm = "covert_sos"
`;

function problems(text: string): { line: number | null; message: string }[] {
  try {
    parseScenario(text, 'bad.toml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as ScenarioError).problems;
  }
  throw new Error('expected the scenario to be refused');
}

describe('a scenario with a mistake is refused with the file, the line and what is wrong', () => {
  it('accepts the good one', () => {
    expect(parseScenario(good, 'good.toml').workers[0].device).toBe('fob-sam');
  });

  it('TOML syntax', () => {
    const p = problems(good.replace('fob = "puck"', 'fob = "puck'));
    expect(p[0].line).toBe(7);
    expect(p[0].message).toMatch(/TOML syntax/);
  });

  it('an unknown gesture, on its line', () => {
    const p = problems(good.replace('gesture = "covert_sos"', 'gesture = "triple_wiggle"'));
    expect(p).toHaveLength(1);
    expect(p[0].line).toBe(14);
    expect(p[0].message).toMatch(/script\.0\.gesture/);
  });

  it('a bad duration and an unknown worker, each on its line', () => {
    const p = problems(good.replace('at = "+1m"', 'at = "soon"'));
    expect(p[0]).toMatchObject({ line: 11 });
    expect(p[0].message).toMatch(/duration like/);
    const q = problems(good.replace('worker = "sam"', 'worker = "kim"'));
    expect(q[0]).toMatchObject({ line: 12, message: 'script.0.worker: no worker "kim"' });
  });

  it('an expectation that checks nothing, a step after the end', () => {
    const p = problems(good.replace('alarm = "covert_sos"', 'worker = "sam"').replace('at = "+1m"', 'at = "+2h"'));
    expect(p.map((x) => x.line)).toEqual([11, 16]);
  });
  it('issue 20: one track for both fobs (a RAK5010 plays it through its BG96 GNSS); a wrong point is named with its line', () => {
    const withTrack = (fob: string, points: string): string => good.replace('fob = "puck"', `fob = "${fob}"\ntrack = [\n${points}\n]`);
    const rak = parseScenario(withTrack('rak5010', '{ at = "+0s", lat = 51.50722, lon = -0.1275, accuracy_m = 6 },\n{ at = "+10m", no_fix = true },'), 'good.toml');
    // HDOP = accuracy / 5 (the firmware's estimate inverted), seconds from the start, indoors for no fix.
    expect(gnssTrackText(rak.workers[0].track)).toBe('0 51.50722 -0.1275 1.2\n600 indoors');
    const bad = problems(withTrack('puck', '{ at = "+0s", lat = 95, lon = 0 },'));
    expect(bad[0].message).toMatch(/workers\.0\.track\.0/);
    expect(bad[0].line).toBe(8);
  });
});
