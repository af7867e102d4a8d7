/** Runs the load generator in several processes and adds up what they measure. */
import { fork, type ChildProcess } from 'node:child_process';
import type { LoadDevice, LoadEvent, LoadReport, LoadStart } from './load-protocol.js';

/** The workers' reports added up. */
export type PoolReport = Omit<LoadReport, 'type'>;

export class LoadPool {
  private workers: ChildProcess[] = [];

  /** The load processes' pids (bench/edge-flood-profile.ts reads their CPU time). */
  get pids(): number[] {
    return this.workers.map((w) => w.pid ?? 0);
  }

  private constructor() {}

  /** Starts `processes` workers sharing `devices`, waits until every connection is open. */
  static async start(
    opts: Omit<LoadStart, 'type' | 'devices'> & {
      devices: LoadDevice[];
      processes: number;
      onProgress?: (connected: number) => void;
      /** The generator process to run (default: bare MQTT clients; the simulator passes its firmware fobs). */
      worker?: URL;
    },
  ): Promise<{ pool: LoadPool; connected: number; connectFailures: number; connectRetries: number }> {
    const pool = new LoadPool();
    const n = Math.max(1, Math.min(opts.processes, opts.devices.length));
    const progress = new Array<number>(n).fill(0);
    const ready = await Promise.all(
      Array.from({ length: n }, (_, w) => {
        const child = fork((opts.worker ?? new URL('./load-worker.ts', import.meta.url)).pathname, [], { execArgv: ['--import', import.meta.resolve('tsx'), '--max-old-space-size=8192'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        pool.workers.push(child);
        const devices = opts.devices.filter((_, i) => i % n === w);
        return new Promise<{ connected: number; connectFailures: number; connectRetries?: number }>((resolve, reject) => {
          child.on('message', (e: LoadEvent) => {
            if (e.type === 'progress') {
              progress[w] = e.connected;
              opts.onProgress?.(progress.reduce((a, b) => a + b, 0));
            } else if (e.type === 'ready') resolve(e);
          });
          child.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
          const { processes: _p, onProgress: _o, worker: _w, ...rest } = opts;
          // The SOS rate is shared out; only the first process watches the alerts and the dashboard's stream.
          child.send({ ...rest, sosPerSecond: rest.sosPerSecond / n, checkinsPerSecond: (rest.checkinsPerSecond ?? 0) / n, ...(w === 0 ? {} : { alerts: undefined, dashboard: undefined }), type: 'start', devices } satisfies LoadStart);
        });
      }),
    );
    return { pool, connected: ready.reduce((a, r) => a + r.connected, 0), connectFailures: ready.reduce((a, r) => a + r.connectFailures, 0), connectRetries: ready.reduce((a, r) => a + (r.connectRetries ?? 0), 0) };
  }

  measure(): void {
    for (const w of this.workers) w.send({ type: 'measure' });
  }

  /** Stops the SOS presses (until the next measure), so the window's last acks can come in. */
  pause(): void {
    for (const w of this.workers) w.send({ type: 'pause' });
  }

  async report(): Promise<PoolReport> {
    const reports = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<LoadReport>((resolve) => {
            const on = (e: LoadEvent): void => {
              if (e.type === 'report') {
                w.off('message', on);
                resolve(e);
              }
            };
            w.on('message', on);
            w.send({ type: 'report' });
          }),
      ),
    );
    return {
      connected: reports.reduce((a, r) => a + r.connected, 0),
      connectFailures: reports.reduce((a, r) => a + r.connectFailures, 0),
      acked: reports.reduce((a, r) => a + r.acked, 0),
      pubackMs: reports.flatMap((r) => r.pubackMs),
      ackMs: reports.flatMap((r) => r.ackMs),
      liveMs: reports.flatMap((r) => r.liveMs),
      sseMs: reports.flatMap((r) => r.sseMs ?? []),
      sseUnmatched: reports.reduce((a, r) => a + (r.sseUnmatched ?? 0), 0),
      sosSent: reports.reduce((a, r) => a + r.sosSent, 0),
      published: reports.reduce((a, r) => a + r.published, 0),
      elapsedMs: Math.max(...reports.map((r) => r.elapsedMs)),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null) return resolve();
            const t = setTimeout(() => w.kill('SIGKILL'), 15_000);
            w.removeAllListeners('exit');
            w.once('exit', () => (clearTimeout(t), resolve()));
            w.send({ type: 'stop' });
          }),
      ),
    );
  }
}
