/**
 * One vocabulary (issue 18): shared/vocabulary.ts is the table of alarm kinds, timeline steps, notice
 * states and the fob's Storage names. These tests hold the tables to their meaning, check that the
 * browser apps and the hub's alert summary and e-mail take their words from it, check at compile time that each
 * message's TypeScript interface (protocol-core.ts, which the firmware compiles) and its zod schema
 * agree, and fetch /vocabulary.js from a real hub.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import * as vocabulary from '../../shared/vocabulary.js';
import * as protocol from '../../shared/protocol-core.js';
import { ALARM_KIND, ALARM_KINDS, ALARM_OUTCOME, ALARM_OUTCOMES, FLASH_STORAGE, FOB_STORAGE, TIMELINE_STEP, TIMELINE_STEP_TYPES, alarmKindRank, type AlarmKind, type NoticeState, type TimelineStepType } from '../../shared/vocabulary.js';
import { ALARM_EVENT_KINDS, isAlarmKind, type Command, type CommandKind, type EventKind, type FobEvent, type Heartbeat } from '../../shared/protocol-core.js';
import type { AlertMessage, CommandMessage, FobEventMessage, HeartbeatMessage } from '../../shared/protocol-schemas.js';
import type { AlarmRecord, NoticeRecord } from '../../hub/store/store-types.js';
import { CID_CODES } from '../../hub/notifiers/sia-dc09/contact-id.js';
import { emailSubject, emailText } from '../../hub/notifiers/email-notifier.js';
import type { Notice } from '../../hub/notifiers/notifier.js';
import { summarise } from '../../hub/presentation/alarm-presentation.js';
import { FILES } from '../../firmware/flash/wire.js';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { launchChromium } from '../dashboard/browser.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
type KeysOfUnion<T> = T extends unknown ? keyof T : never;

describe('the alarm-kind table', () => {
  it('lists kinds loudest first: no kind is ranked above a more urgent one', () => {
    const priorities = ALARM_KINDS.map((k) => ALARM_KIND[k].priority);
    expect(priorities).toEqual([...priorities].sort((a, b) => a - b));
    expect(ALARM_KINDS.map(alarmKindRank)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gives every kind its own label and its own Contact ID event', () => {
    const labels = ALARM_KINDS.map((k) => ALARM_KIND[k].label);
    const codes = ALARM_KINDS.map((k) => ALARM_KIND[k].contactId.code);
    expect(new Set(labels).size).toBe(ALARM_KINDS.length);
    expect(new Set(codes).size).toBe(ALARM_KINDS.length);
    // A person in danger shouts in the summary (R1, R2); the dashboard sounds the alarm for it.
    for (const k of ['sos', 'covert_sos', 'man_down'] as const) {
      expect(ALARM_KIND[k].summaryLabel).toBe(ALARM_KIND[k].summaryLabel.toUpperCase());
      expect(ALARM_KIND[k].sound).toBe('alarm');
    }
  });

  it('names the fob events that raise an alarm, and only those (protocol-core.ts ALARM_EVENT_KINDS)', () => {
    const raisedByFob = ALARM_KINDS.map((k) => ALARM_KIND[k].fobEvent).filter((e) => e !== null);
    expect(raisedByFob).toEqual(ALARM_EVENT_KINDS);
    for (const e of raisedByFob) expect(isAlarmKind(e)).toBe(true);
  });

  it('is what the ARC notifier sends', () => {
    for (const k of ALARM_KINDS) expect(CID_CODES[k]).toEqual(ALARM_KIND[k].contactId);
  });

  it('types agree at compile time: the store, the alert and the kinds', () => {
    expectTypeOf<AlarmRecord['kind']>().toEqualTypeOf<AlarmKind>();
    expectTypeOf<AlertMessage['kind']>().toEqualTypeOf<AlarmKind>();
    expectTypeOf<NoticeRecord['state']>().toEqualTypeOf<NoticeState>();
    expectTypeOf<keyof typeof ALARM_KIND>().toEqualTypeOf<AlarmKind>();
    expectTypeOf<keyof typeof TIMELINE_STEP>().toEqualTypeOf<TimelineStepType>();
  });
});

/** Every browser module of the dashboard and the companion, by path, with its text. */
function browserModules(): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of ['hub/dashboard/public', 'hub/companion/public']) {
    for (const f of readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })) {
      if (f.endsWith('.js') && !f.startsWith('vendor')) out.push([`${dir}/${f}`, readFileSync(`${ROOT}${dir}/${f}`, 'utf8')]);
    }
  }
  return out;
}

describe('the browser apps take the vocabulary from the hub (/vocabulary.js), not a copy', () => {
  const modules = browserModules();

  it('no browser module spells out a timeline step, a kind list or an outcome of its own', () => {
    // A copy is a table entry: the key, then its words (`callback_done: 'Called back'`).
    const entries: [string, string][] = [...TIMELINE_STEP_TYPES.map((t): [string, string] => [t, TIMELINE_STEP[t].label]), ...ALARM_OUTCOMES.map((o): [string, string] => [o, ALARM_OUTCOME[o].label])];
    expect(modules.length).toBeGreaterThan(10);
    for (const [path, text] of modules) {
      for (const [key, words] of entries) expect(new RegExp(`\\b${key}\\s*:\\s*'${words.replace(/[()]/g, '\\$&')}'`).test(text), `${path} spells out ${key}: '${words}'`).toBe(false);
      // A list of the kinds (two kind names next to each other as strings) is a copy of ALARM_KINDS.
      expect(/'(sos|covert_sos|man_down|missed_checkin|device_silent|low_battery)',\s*'(sos|covert_sos|man_down|missed_checkin|device_silent|low_battery)'/.test(text), `${path} lists alarm kinds`).toBe(false);
    }
  });

  it("the dashboard's words module imports the tables from /vocabulary.js", () => {
    const words = readFileSync(`${ROOT}hub/dashboard/public/lib/words.js`, 'utf8');
    expect(words).toMatch(/from '\/vocabulary\.js'/);
    // The loud sound follows the table's `sound` (the kinds whose sound is 'alarm' are priority 1-2).
    expect(readFileSync(`${ROOT}hub/dashboard/public/open-alarms.js`, 'utf8')).toContain("kindSound(a.kind) === 'alarm'");
    for (const k of ALARM_KINDS) expect(ALARM_KIND[k].sound === 'alarm', k).toBe(ALARM_KIND[k].priority <= 2);
  });
});

describe('the hub keeps no copy of the vocabulary', () => {
  it("the alert summary (hub/presentation/alarm-presentation.ts summarise) opens with the kind's summaryLabel", () => {
    for (const kind of ALARM_KINDS) {
      const alarm = { kind, workerId: 'sam', deviceId: 'fob-1', visitRef: null, drill: false, reason: 'test' } as AlarmRecord;
      expect(summarise(alarm, 'Sam Carter')).toBe(`${ALARM_KIND[kind].summaryLabel} from Sam Carter: test`);
    }
  });

  it("the e-mail (email-notifier.ts) uses the kind's noticeText, its subject the words before ' ('", () => {
    for (const kind of ALARM_KINDS) {
      const alert: AlertMessage = {
        v: 1, alarmId: 'a1', kind, state: 'notifying', priority: ALARM_KIND[kind].priority, deviceId: 'fob-1', workerId: 'sam', workerName: 'Sam Carter',
        visitRef: null, level: 0, targets: [], raisedAt: '2026-12-01T09:00:00.000Z', at: '2026-12-01T09:00:00.000Z', drill: false, summary: 's',
      };
      const notice: Notice = { noticeId: 'n1', alert, recipient: null, link: 'http://hub/alarms/a1', attempt: 1 };
      expect(emailSubject(notice)).toBe(`${ALARM_KIND[kind].noticeText.split(' (')[0]}: Sam Carter`);
      expect(emailText(notice, 'Hub')).toContain(ALARM_KIND[kind].noticeText);
    }
  });
});

describe('message interfaces and zod schemas agree (compile time)', () => {
  it('heartbeat, fob event and command', () => {
    expectTypeOf<HeartbeatMessage>().toEqualTypeOf<Heartbeat>();
    // Every event the hub accepts is a FobEvent the firmware can build, with no field the interface lacks...
    expectTypeOf<FobEventMessage>().toExtend<FobEvent>();
    expectTypeOf<KeysOfUnion<FobEventMessage>>().toEqualTypeOf<keyof FobEvent>();
    // ...and every event kind has a schema.
    expectTypeOf<FobEventMessage['k']>().toEqualTypeOf<EventKind>();
    expectTypeOf<CommandMessage>().toExtend<Command>();
    expectTypeOf<KeysOfUnion<CommandMessage>>().toEqualTypeOf<keyof Command>();
    expectTypeOf<CommandMessage['k']>().toEqualTypeOf<CommandKind>();
  });
});

describe("the fob's Storage names", () => {
  // firmware/src/hal.ts re-exports FOB_STORAGE as STORAGE; it is fob code (bundler resolution), so
  // the bundle below is what shows the firmware has the names.
  it('are the same for the firmware and the flashing tool', () => {
    expect(FILES).toEqual({ ...FLASH_STORAGE, ...FOB_STORAGE });
    const names = Object.values(FILES);
    expect(new Set(names).size).toBe(names.length);
  });

  it("reach the firmware bundle only as far as it uses them (the flashing tool's own names stay out)", async () => {
    // Each name is used by at least one board (the CA file only by the RAK5010's TLS): the minifier
    // drops what a board does not use, so the check is over both bundles.
    const both = [(await cachedFirmwareBuild('puck')).code, (await cachedFirmwareBuild('rak5010')).code];
    for (const name of Object.values(FOB_STORAGE)) expect(both.some((code) => code.includes(`"${name}"`)), name).toBe(true);
    for (const code of both) {
      for (const name of Object.values(FLASH_STORAGE)) expect(code).not.toContain(`"${name}"`);
      expect(code).not.toContain(ALARM_KIND.covert_sos.noticeText);
    }
  });
});

describe('/vocabulary.js on a running hub', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('is an ES module with exactly the vocabulary of shared/vocabulary.ts', async () => {
    const res = await fetch(`${t.httpUrl}/vocabulary.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const served = (await import(`data:text/javascript;base64,${Buffer.from(await res.text()).toString('base64')}`)) as typeof vocabulary;
    expect(Object.keys(served).sort()).toEqual(Object.keys(vocabulary).sort());
    for (const key of Object.keys(vocabulary) as (keyof typeof vocabulary)[]) {
      if (typeof vocabulary[key] === 'function') continue;
      expect(served[key], key).toEqual(vocabulary[key]);
    }
    expect(served.alarmKindRank('missed_checkin')).toBe(3);
  });

  it('serves shared/protocol-core.ts as /protocol-core.js, the same names and values and the same framing', async () => {
    const res = await fetch(`${t.httpUrl}/protocol-core.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const served = (await import(`data:text/javascript;base64,${Buffer.from(await res.text()).toString('base64')}`)) as typeof protocol;
    expect(Object.keys(served).sort()).toEqual(Object.keys(protocol).sort());
    for (const key of Object.keys(protocol) as (keyof typeof protocol)[]) {
      if (typeof protocol[key] !== 'function') expect(served[key], key).toEqual(protocol[key]);
    }
    expect(served.statusTopic('fob-1')).toBe('lw/fob-1/st');
    expect(served.decodeUartLine(served.encodeUartLine('ev', '{"k":"cov"}'))).toEqual({ leaf: 'ev', json: '{"k":"cov"}' });
    expect(served.decodeUartLine('xx {}')).toBeNull();
  });

  it("imports in Chromium on the dashboard's page, under its Content-Security-Policy", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(`${t.httpUrl}/`);
      // A string, not a function: vitest would rewrite an import() in a function's body for Node.
      const got = await page.evaluate(
        "import('/vocabulary.js').then((v) => ({ label: v.ALARM_KIND.covert_sos.label, step: v.TIMELINE_STEP.police_advised.label, kinds: v.ALARM_KINDS }))",
      );
      expect(got).toEqual({ label: ALARM_KIND.covert_sos.label, step: TIMELINE_STEP.police_advised.label, kinds: [...ALARM_KINDS] });
      // preact and htm (/vendor/preact.js) render under the same CSP: the dashboard's views use them.
      const rendered = await page.evaluate(
        "import('/vendor/preact.js').then((p) => { const el = document.createElement('div'); p.render(p.html`<p class=${'x'}>${'<b>text</b>'}</p>`, el); return el.innerHTML; })",
      );
      expect(rendered).toBe('<p class="x">&lt;b&gt;text&lt;/b&gt;</p>');
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
