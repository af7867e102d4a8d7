// `lonewatch sim`: scenario mode (time-warped, against an in-process hub) and load mode (N fobs
// against a running hub).
import { defineCommand, UsageError } from '../bin/command.js';
import { loadConfigOrExit } from '../hub/cli/open-store.js';
import { loadScenario, ScenarioError } from './scenario/load-scenario.js';
import { runScenario } from './scenario/run-scenario.js';
import { runDrill } from './scenario/run-drill.js';
import { runLoad } from './load-mode.js';
import { fobFactory, FOB_KINDS, type FobKind } from './fob-factory.js';

export const simCommand = defineCommand({
  name: 'sim',
  summary: 'run scenarios (time-warped) or a load test of N virtual fobs against a hub',
  usage: 'sim <scenario.toml ...> | sim --devices N --duration S [options]',
  details: [
    'Scenario mode: each file runs against its own in-process hub in drill mode, with time warp;',
    'exits 1 if any expectation is not met, 2 if a file has a mistake. Shipped: simulator/scenarios/*.toml.',
    'Drill mode (--drill): the same files against the live hub of --config, in real time; fobs and',
    'workers are registered as drill-<id> and every alarm they raise is marked as a drill.',
    'Load mode: connects N fobs to the hub named by the config (lonewatch.toml / LONEWATCH_* env),',
    'registered as sim-0..sim-N-1, each running the firmware (--fob wire: bare MQTT clients), and',
    'reports SOS press -> ack latency, msg/s, connection failures and hub memory.',
  ].join('\n'),
  allowPositionals: true,
  options: {
    config: { type: 'string', short: 'c', placeholder: 'file', description: 'load mode: the hub config (default ./lonewatch.toml)' },
    devices: { type: 'string', placeholder: 'N', description: 'load mode: number of fobs' },
    duration: { type: 'string', placeholder: 'S', description: 'load mode: seconds to run after ramp-up (default 60)' },
    heartbeat: { type: 'string', placeholder: 'S', description: 'load mode: heartbeat interval, seconds (default 300)' },
    'sos-rate': { type: 'string', placeholder: 'n/s', description: 'load mode: SOS events per second (default 2)' },
    'checkin-rate': { type: 'string', placeholder: 'n/s', description: 'load mode: check-ins per second (default 5)' },
    processes: { type: 'string', placeholder: 'n', description: 'load mode: generator processes (default: 1 per 2,500 fobs)' },
    fob: { type: 'string', placeholder: 'kind', description: `virtual fob: ${FOB_KINDS.join(' or ')} (default firmware)` },
    drill: { type: 'boolean', description: 'scenario mode against the LIVE hub of --config, in real time (alarms marked as drills)' },
    json: { type: 'boolean', description: 'print the report as JSON' },
  },
  async run(values, positionals) {
    const num = (v: string | undefined, name: string, dflt: number): number => {
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number`);
      return n;
    };
    if (values.devices !== undefined) {
      const config = loadConfigOrExit(values.config);
      const devices = num(values.devices, 'devices', 0);
      if (devices < 1 || !Number.isInteger(devices)) throw new UsageError('--devices must be a whole number of fobs');
      const progress = (line: string): void => {
        if (process.stderr.isTTY) process.stderr.write(`\r${line}`.padEnd(110).slice(0, 110));
        else process.stderr.write(`${line}\n`);
      };
      const result = await runLoad(config, {
        devices,
        durationS: num(values.duration, 'duration', 60),
        hbIntervalS: num(values.heartbeat, 'heartbeat', 300),
        sosPerSecond: num(values['sos-rate'], 'sos-rate', 2),
        checkinsPerSecond: num(values['checkin-rate'], 'checkin-rate', 5),
        processes: Math.max(1, Math.round(num(values.processes, 'processes', Math.ceil(devices / 2500)))),
        fob: values.fob === 'wire' ? 'wire' : 'firmware',
        progress,
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else {
        const l = result.pressToAck;
        process.stdout.write(
          [
            `fobs:                ${result.connected}/${result.devices} connected, ${result.connectFailures} failed`,
            `messages per second: ${result.messagesPerSecond}`,
            `SOS:                 ${result.sosAcked}/${result.sosSent} acked`,
            `press -> ack:        p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms`,
            `press -> PUBACK:     p50 ${result.pressToPuback.p50} ms, p99 ${result.pressToPuback.p99} ms`,
            `hub memory:          ${result.hubMemoryMb ?? '?'} MB`,
            '',
          ].join('\n'),
        );
      }
      return result.connectFailures > 0 || result.sosAcked < result.sosSent ? 1 : 0;
    }

    if (positionals.length === 0) throw new UsageError('name scenario files, or --devices N for load mode');
    const kind = (values.fob ?? 'auto') as FobKind | 'auto';
    if (kind !== 'auto' && !FOB_KINDS.includes(kind)) throw new UsageError(`--fob must be one of ${FOB_KINDS.join(', ')}`);
    const scenarios = [];
    try {
      for (const file of positionals) scenarios.push({ file, scenario: loadScenario(file) });
    } catch (err) {
      if (err instanceof ScenarioError) {
        process.stderr.write(`${err.message}\n`);
        return 2;
      }
      throw err;
    }
    const fobs = await fobFactory(kind);
    if (values.drill) {
      const config = loadConfigOrExit(values.config);
      let failedDrills = 0;
      for (const { file, scenario } of scenarios) {
        process.stdout.write(`\n== DRILL ${file}\n`);
        const r = await runDrill(scenario, config, fobs.create, (l) => process.stdout.write(`  ${l}\n`));
        if (!r.passed) failedDrills++;
      }
      return failedDrills > 0 ? 1 : 0;
    }
    const reports = [];
    let failed = 0;
    for (const { file, scenario } of scenarios) {
      if (!values.json) process.stdout.write(`\n== ${file}\n`);
      const r = await runScenario(scenario, { fobs: fobs.create, onLog: values.json ? undefined : (l) => process.stdout.write(`  ${l}\n`) });
      reports.push({ file, fob: fobs.kind, ...r });
      if (!r.passed) failed++;
      if (!values.json) process.stdout.write(`  ${r.passed ? 'PASSED' : 'FAILED'} in ${r.realSeconds.toFixed(1)} s (fob: ${fobs.kind})\n`);
    }
    if (values.json) process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
    else process.stdout.write(`\n${scenarios.length - failed} passed, ${failed} failed\n`);
    return failed > 0 ? 1 : 0;
  },
});
