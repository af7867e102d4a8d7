/**
 * Issue 16: a policy that names a channel or a contact that does not exist is said at start-up (one
 * warning line, each problem at debug level), `lonewatch hub --check` lists them, `--strict` refuses to start, and the
 * dashboard (in Chromium) shows a standing warning while a policy reaches nobody, and who was told of
 * an alarm per contact and channel, "not configured" included.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { checkPolicyReach } from '../../hub/notifiers/policy-reach.js';
import { DEFAULT_POLICIES } from '../../hub/rules/escalation-policy.js';
import { startTestHub, TEST_CONTACTS, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST, userClient } from '../dashboard/api-client.js';
import { launchChromium, signInPage } from '../dashboard/browser.js';
import { StartRefused } from '../../hub/hub.js';
import { pino } from 'pino';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { Writable } from 'node:stream';
import { lonewatch } from '../helpers/cli-in-process.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const contacts = TEST_CONTACTS.map((c) => ({ ...c, phone: null }));
const usedBy = { sos: ['sos', 'covert_sos', 'man_down'], missed_checkin: ['missed_checkin'], device_health: ['device_silent', 'low_battery'] };

describe('what the policies can reach', () => {
  it('no channel configured: every policy reaches nobody, each named channel is listed', () => {
    const p = checkPolicyReach(DEFAULT_POLICIES, usedBy, [], contacts);
    expect(p.filter((x) => x.kind === 'reaches_nobody').map((x) => x.policy).sort()).toEqual(['device_health', 'missed_checkin', 'sos']);
    expect(p.some((x) => x.kind === 'channel_not_configured' && x.policy === 'sos' && x.level === 0 && /\[notifiers\.arc\] is not configured/.test(x.message))).toBe(true);
  });

  it('e-mail configured, but no director and a duty officer without an address', () => {
    const fewer = contacts.filter((c) => c.role !== 'director').map((c) => (c.role === 'duty_officer' ? { ...c, email: null } : c));
    const p = checkPolicyReach(DEFAULT_POLICIES, usedBy, ['email'], fewer);
    expect(p.some((x) => x.kind === 'no_contact' && /names director, but no contact holds that role/.test(x.message))).toBe(true);
    expect(p.some((x) => x.kind === 'no_address' && /no duty officer has a e-mail address/.test(x.message))).toBe(true);
    // The line manager and head of service still have addresses: sos reaches someone.
    expect(p.some((x) => x.kind === 'reaches_nobody' && x.policy === 'sos')).toBe(false);
  });

  it('a hub with no channel: start-up warns; --strict refuses to start, listing the problems', async () => {
    const t = await startTestHub();
    closers.push(() => t.stop());
    expect((await t.hub.reachProblems()).some((x) => x.kind === 'reaches_nobody')).toBe(true);
    // The start-up log says it in one warning line, naming each policy that reaches nobody; each
    // problem is at debug level (issue 15 item 9: a default install printed dozens of warnings).
    const lines: { msg: string; level: number; policy?: string; problems?: number }[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const { Hub: LoggedHub } = await import('../../hub/hub.js');
    const logged = await LoggedHub.start({ config: { ...t.hub.config, mqtt: { ...t.hub.config.mqtt, port: 0 }, http: { ...t.hub.config.http, port: 0 } }, store: new SqliteStore(':memory:'), log: pino({ level: 'debug' }, sink) });
    await logged.stop().catch(() => undefined);
    const problems = await t.hub.reachProblems();
    const warnings = lines.filter((l) => l.level >= 40 && /escalation policies/.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ problems: problems.length });
    expect(warnings[0]!.msg).toMatch(new RegExp(`^the escalation policies have ${problems.length} problems in 3 policies: policies device_health, missed_checkin, sos can reach nobody beyond the dashboard; levels of .* name a channel that is not configured`));
    expect(warnings[0]!.msg).toMatch(/Run `lonewatch hub --check` for the list/);
    // No per-problem warning; each problem is there at debug level.
    expect(lines.filter((l) => l.level === 40 && l.policy !== undefined)).toEqual([]);
    const debugged = lines.filter((l) => l.level === 20 && /can reach nobody beyond the dashboard/.test(l.msg)).map((l) => l.policy).sort();
    expect(debugged).toEqual(['device_health', 'missed_checkin', 'sos']);
    expect(lines.filter((l) => l.level === 20 && l.policy !== undefined)).toHaveLength(problems.length);
    const { Hub } = await import('../../hub/hub.js');
    const refused = await Hub.start({ config: t.hub.config, strict: true, store: t.hub.store }).catch((e) => e);
    expect(refused).toBeInstanceOf(StartRefused);
    expect(refused.message).toMatch(/--strict: refusing to start/);
    expect(refused.message).toMatch(/policy sos \(used by sos, covert_sos, man_down\) can reach nobody/);
  });

  it('lonewatch hub --check lists the problems and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lonewatch-check-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ...process.env, LONEWATCH_DATA_DIR: join(dir, 'data') };
    // The real command, in this process (test/helpers/cli-in-process.ts; test/cli.test.ts spawns the CLI).
    const failed = await lonewatch(['hub', '--check'], { cwd: dir, env });
    expect(failed.code).toBe(1);
    expect(failed?.stdout).toMatch(/the escalation policies have \d+ problem/);
    expect(failed?.stdout).toMatch(/policy sos level 1 \(alert the duty officer\) names the e-mail channel, but \[notifiers\.email\] is not configured/);
    expect(failed?.stdout).toMatch(/can reach nobody beyond the dashboard/);
  });
});

describe('the dashboard says who was told', () => {
  let t: TestHub;
  it('standing warning while a policy reaches nobody; the SOS card and alarm view name each person with "not configured"', { timeout: 120_000 }, async () => {
    t = await startTestHub({ manualClock: true });
    closers.push(() => t.stop());
    await t.addWorker('sam', { name: 'Sam Carter' });
    await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana' }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    const api = await userClient(t, 'dana2', 'duty_officer');
    const status = await api.get<{ reachesNobody: { policy: string }[] }>('/api/forwarding');
    expect(status.body.reachesNobody.map((r) => r.policy).sort()).toEqual(['device_health', 'missed_checkin', 'sos']);

    const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
    const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    closers.push(() => fob.close());
    const page = await signInPage(browser, t.httpUrl, 'dana');
    closers.push(() => page.close());
    await page.waitForSelector('#forwarding-warning:not([hidden]) [data-policy=sos]');
    expect(await page.textContent('#forwarding-warning')).toMatch(/policy sos \(used by sos, covert_sos, man_down\) can reach nobody/);

    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await t.settle();
    await page.waitForSelector('#open-alarms .told [data-delivery=not_configured]');
    const chips = await page.$$eval('#open-alarms .told .chip', (els) => els.map((e) => e.textContent));
    expect(chips).toContain('Dana Duty (duty officer) · e-mail · NOT SENT: the hub has no e-mail set up');
    expect(chips).toContain('the alarm receiving centre (ARC) · ARC · NOT SENT: the hub has no ARC link set up');
    expect(chips.some((c) => /sent|delivered/.test(c ?? ''))).toBe(false);
    await page.click('#open-alarms a.button');
    await page.waitForSelector('#told-table');
    const rows = await page.$$eval('#told-table tbody tr', (els) => els.map((e) => e.textContent));
    expect(rows.some((r) => /Lee Manager \(line manager\)e-maill\*\*\*@example\.orgNOT SENT: the hub has no e-mail set up\[notifiers\.email\] is not configured/.test(r ?? ''))).toBe(true);
    const timeline = await page.textContent('#timeline');
    expect(timeline).toContain('to tell line manager, head of service, director (policy channels: email, webhook)');
    expect(timeline).not.toMatch(/ by email, webhook/);
  });
});
