/**
 * A vitest setup file (vitest.config.ts `setupFiles`): runs before each test file, in the worker
 * process that runs it.
 *
 * The files run with `isolate: false` (issue 18: a fresh process per file spent about a quarter of
 * the suite's CPU booting vitest and re-importing the hub), so several files share one worker
 * process one after the other, and whatever one file leaves in the process the next one finds. The
 * shared state a test could leave here is the environment and the working directory: `lonewatch`
 * reads its secrets from named environment variables (hub/config/secrets), and a variable one file
 * set would make another file's "secret missing" test find it. This file fails the test file that
 * leaves either one changed, naming what it left, so the leak is fixed where it is made (an
 * `afterAll` in that file), and puts both back so that the next file starts as if alone.
 */
import { afterAll } from 'vitest';

const envBefore: Record<string, string | undefined> = { ...process.env };
const cwdBefore = process.cwd();

/** What `after` changed from `before`: a variable set, changed or removed. */
export function envChanges(before: Record<string, string | undefined>, after: Record<string, string | undefined>): string[] {
  const changed: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[k] === after[k]) continue;
    if (!(k in before)) changed.push(`${k} (set, was unset)`);
    else if (!(k in after)) changed.push(`${k} (removed)`);
    else changed.push(`${k} (changed)`);
  }
  return changed.sort();
}

afterAll(() => {
  const leaks: string[] = [];
  const env = envChanges(envBefore, process.env);
  if (env.length > 0) leaks.push(`process.env ${env.join(', ')}`);
  const cwd = process.cwd();
  if (cwd !== cwdBefore) leaks.push(`the working directory (${cwd}, was ${cwdBefore})`);
  // Put everything back first, so that the next file in this worker starts clean whatever happens.
  for (const k of Object.keys(process.env)) if (!(k in envBefore)) delete process.env[k];
  for (const [k, v] of Object.entries(envBefore)) if (v !== undefined && process.env[k] !== v) process.env[k] = v;
  if (cwd !== cwdBefore) process.chdir(cwdBefore);
  if (leaks.length > 0) {
    throw new Error(
      `this test file left ${leaks.join(' and ')} changed after its last test; files share a worker process ` +
        `(vitest.config.ts isolate: false), so restore it in the file's afterAll/afterEach (docs/testing.md "Files share worker processes")`,
    );
  }
});
