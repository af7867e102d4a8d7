/**
 * One fuzz run (issue 17): a hub process on loopback with a temporary store takes the MQTT fuzzing
 * and the API fuzzing at once while a probe fob presses SOS, its memory sampled; then a second hub
 * goes through the kill -9 loop under SOS load. Everything is seeded from one number.
 */
import { Prng } from './prng.js';
import { Tally } from './tally.js';
import { createFuzzHub, hubMetrics, type FuzzHub } from './fuzz-hub.js';
import { runMqttFuzz } from './mqtt-fuzz.js';
import { runApiFuzz } from './api-driver.js';
import { LivenessProbe, type ProbeResult } from './liveness-probe.js';
import { runKillRestart, type KillRestartResult } from './kill-restart.js';
import { connectFob } from '../../test/helpers/mqtt-fob.js';

export interface FuzzOptions {
  seed: number;
  packets: number;
  apiRequests: number;
  killRounds: number;
  /** Wall-clock bound of the fuzzing phase (MQTT and API together, from its first packet), seconds; the report says if it stopped there. */
  maxSeconds: number;
  sessionStreams: number;
  byteStreams: number;
  apiConcurrency: number;
  probeIntervalMs: number;
  /** Runs the kill -9 loop (its own hub) at the same time as the fuzzing instead of after it: the short run, to stay short. */
  killLoopAlongside: boolean;
  progress: (s: string) => void;
}

export const FULL: Omit<FuzzOptions, 'seed' | 'progress'> = { packets: 1_000_000, apiRequests: 100_000, killRounds: 100, maxSeconds: 1200, sessionStreams: 24, byteStreams: 24, apiConcurrency: 4, probeIntervalMs: 2000, killLoopAlongside: true };
export const SHORT: Omit<FuzzOptions, 'seed' | 'progress'> = { packets: 5000, apiRequests: 500, killRounds: 3, maxSeconds: 30, sessionStreams: 4, byteStreams: 4, apiConcurrency: 2, probeIntervalMs: 500, killLoopAlongside: true };

export interface FuzzReport {
  date: string;
  seed: number;
  asked: { packets: number; apiRequests: number; killRounds: number };
  seconds: { fuzz: number; killLoop: number };
  stoppedAtTimeBound: boolean;
  tally: Tally['groups'];
  /** The hub's own counters at the end (GET /metrics): its refusals by reason. */
  hubCounters: { broker: unknown; ingest: unknown } | null;
  apiFailures: { request: string; outcome: string }[];
  crashes: string[];
  probe: ProbeResult;
  rssMb: { start: number; max: number; end: number; samples: number };
  killLoop: KillRestartResult | null;
}

const HANG_MS = 10_000;

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const rng = new Prng(o.seed);
  const fuzzRng = rng.fork();
  const killRng = rng.fork();
  const started = Date.now();
  const kill = async (): Promise<{ result: KillRestartResult | null; seconds: number }> => {
    const k0 = Date.now();
    if (o.killRounds === 0) return { result: null, seconds: 0 };
    o.progress(`kill -9 loop: ${o.killRounds} rounds under SOS load`);
    const khub = await createFuzzHub({ devices: { kr: 8 } });
    try {
      return { result: await runKillRestart(khub, khub.devices.kr, o.killRounds, killRng, o.progress), seconds: Math.round((Date.now() - k0) / 1000) };
    } finally {
      await khub.stop();
      khub.remove();
    }
  };
  const alongside = o.killLoopAlongside ? kill() : null;
  const fuzz = await fuzzPhase(o, fuzzRng);
  const k = alongside ? await alongside : await kill();
  const killLoop = k.result;
  if (killLoop) fuzz.crashes.push(...killLoop.crashes);
  return {
    date: new Date(started).toISOString(),
    seed: o.seed,
    asked: { packets: o.packets, apiRequests: o.apiRequests, killRounds: o.killRounds },
    seconds: { fuzz: fuzz.seconds, killLoop: k.seconds },
    stoppedAtTimeBound: fuzz.stoppedAtTimeBound,
    tally: fuzz.tally.groups,
    hubCounters: fuzz.hubCounters,
    apiFailures: fuzz.apiFailures,
    crashes: fuzz.crashes,
    probe: fuzz.probe,
    rssMb: fuzz.rssMb,
    killLoop,
  };
}

async function fuzzPhase(o: FuzzOptions, rng: Prng) {
  const tally = new Tally();
  const crashes: string[] = [];
  o.progress(`fuzz: seed ${o.seed}; starting a hub on loopback with a temporary store`);
  const hub = await createFuzzHub({ devices: { fz: o.sessionStreams, fb: o.byteStreams, fa: 5, probe: 1 } });
  let stoppedAtTimeBound = false;
  // The bound runs from the first fuzzed packet: a hub slow to start (a busy machine) takes nothing from it.
  let fuzzStarted = Infinity;
  const stop = (): boolean => {
    if (hub.crashed) return true;
    if (Date.now() - fuzzStarted > o.maxSeconds * 1000) return (stoppedAtTimeBound = true);
    return false;
  };
  const rss = { start: hub.rss(), max: 0, end: 0, samples: 0 };
  const sampler = setInterval(() => {
    if (hub.crashed) return;
    const r = hub.rss();
    rss.max = Math.max(rss.max, r);
    rss.samples++;
  }, 1000);
  const apiFailures: FuzzReport['apiFailures'] = [];
  let probe: ProbeResult = { presses: 0, acked: 0, hangs: [], ackMs: [] };
  let fuzzSeconds = 0;
  let hubCounters: FuzzReport['hubCounters'] = null;
  try {
    const pools = await idPools(hub);
    const liveness = new LivenessProbe(`mqtt://127.0.0.1:${hub.mqttPort}`, hub.devices.probe[0], hub.secret, o.probeIntervalMs, HANG_MS);
    liveness.start();
    fuzzStarted = Date.now();
    const ticker = setInterval(() => o.progress(`fuzz: ${tally.total('mqtt sent')} MQTT packets, ${tally.total('api sent')} API requests, hub RSS ${Math.round(rss.max / 2 ** 20)} MB max`), 10_000);
    try {
      await Promise.all([
        runMqttFuzz({ port: hub.mqttPort, deviceIds: hub.devices.fz, byteDeviceIds: hub.devices.fb, secret: hub.secret, packets: o.packets, byteShare: 0.3, sessionStreams: o.sessionStreams, byteStreams: o.byteStreams, rng: rng.fork(), tally, stop }),
        runApiFuzz({ baseUrl: hub.httpUrl, requests: o.apiRequests, concurrency: o.apiConcurrency, tokens: hub.tokens, pools, rng: rng.fork(), tally, stop, failures: apiFailures }),
      ]);
    } finally {
      clearInterval(ticker);
      probe = await liveness.stop();
    }
    fuzzSeconds = Math.round((Date.now() - fuzzStarted) / 1000);
    if (hub.crashed) crashes.push(`the fuzzed hub exited by itself (${JSON.stringify(hub.crashed)}); its log ends:\n${hub.logTail(30)}`);
    rss.end = hub.crashed ? 0 : hub.rss();
    const m = hub.crashed ? null : await hubMetrics(hub);
    hubCounters = m ? { broker: m.broker, ingest: m.ingest } : null;
  } finally {
    clearInterval(sampler);
    await hub.stop();
    if (!hub.crashed) hub.remove();
  }

  const mb = (b: number): number => Math.round(b / 2 ** 20);
  return { tally, crashes, seconds: fuzzSeconds, stoppedAtTimeBound, hubCounters, apiFailures, probe, rssMb: { start: mb(rss.start), max: mb(rss.max), end: mb(rss.end), samples: rss.samples } };
}

/** Ids the API fuzz uses in paths, so some requests reach real records: an alarm raised for it, its own fobs and workers. */
async function idPools(hub: FuzzHub): Promise<Record<string, string[]>> {
  const fob = await connectFob(`mqtt://127.0.0.1:${hub.mqttPort}`, hub.devices.fa[0], hub.secret);
  for (let i = 1; i <= 3; i++) {
    const id = `1-${i}`;
    const acked = fob.waitFor((c) => c.k === 'ack' && c.i === id, 10_000);
    acked.catch(() => undefined); // awaited below; not unhandled if the send throws first
    await fob.send({ i: id, k: 'sos', ag: 0 });
    await acked;
  }
  await fob.close();
  const r = await fetch(`${hub.httpUrl}/api/alarms`, { headers: { authorization: `Bearer ${hub.tokens.admin}` } });
  const body = (await r.json()) as { alarms?: { id: string }[] } | { id: string }[];
  const alarms = (Array.isArray(body) ? body : (body.alarms ?? [])).map((a) => a.id);
  const devices = hub.devices.fa;
  return { id: [...alarms, ...devices, ...devices.map((d) => `w-${d}`)], username: ['fuzz-user', 'admin', 'nobody'] };
}
