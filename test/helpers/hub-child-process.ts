/**
 * The test's side of test/helpers/hub-child.ts: forks a hub into its own process (so a test can
 * kill -9 it) and drives its ManualClock over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { hubChildBundle } from './cli-bundle.js';

export interface HubChild {
  proc: ChildProcess;
  mqttPort: number;
  /** Advances the child's clock and settles its hub; resolves with the child's new time. */
  advance(ms: number): Promise<number>;
}

const running: ChildProcess[] = [];

export function startHubChild(dataDir: string, clockStart: number, extraConfig?: Record<string, unknown>): Promise<HubChild> {
  const args = [dataDir, String(clockStart), ...(extraConfig ? [JSON.stringify(extraConfig)] : [])];
  // The run's bundle of hub-child.ts where the global set-up made one (test/helpers/cli-bundle.ts:
  // about half the CPU of loading the hub through tsx), else the source through tsx.
  const bundled = hubChildBundle(inject('cliBundle'));
  const proc = fork(bundled ?? new URL('./hub-child.ts', import.meta.url).pathname, args, {
    execArgv: bundled ? [] : ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  running.push(proc);
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`hub child exited early (${code})`)));
    proc.once('message', (m: { mqttPort: number }) => {
      resolve({
        proc,
        mqttPort: m.mqttPort,
        advance: (ms) =>
          new Promise((res) => {
            proc.once('message', (r: { now: number }) => res(r.now));
            proc.send({ advance: ms });
          }),
      });
    });
  });
}

/** For afterEach: SIGKILLs every child still running. */
export function killHubChildren(): void {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
}
