/**
 * The test's side of test/helpers/hub-child.ts: forks a hub into its own process (so a test can
 * kill -9 it) and drives its ManualClock over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface HubChild {
  proc: ChildProcess;
  mqttPort: number;
  /** Advances the child's clock and settles its hub; resolves with the child's new time. */
  advance(ms: number): Promise<number>;
}

const running: ChildProcess[] = [];

export function startHubChild(dataDir: string, clockStart: number, extraConfig?: Record<string, unknown>): Promise<HubChild> {
  const args = [dataDir, String(clockStart), ...(extraConfig ? [JSON.stringify(extraConfig)] : [])];
  const proc = fork(new URL('./hub-child.ts', import.meta.url).pathname, args, {
    execArgv: ['--import', 'tsx'],
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
