import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers on ephemeral ports; files run in parallel processes.
    pool: 'forks',
    // Two files at a time. Vitest's default is one fewer than the cores, so on the 2-core machine the
    // suite runs on (issue 18) it ran one file at a time, while most files spend most of their time
    // waiting: on the real Espruino interpreter's own timers, a browser, a pty, a child hub. Two keeps
    // both cores busy without starving the timing of either file. VITEST_MAX_WORKERS overrides it.
    maxWorkers: 2,
    // One Chromium and the firmware builds, made once for the run (test/helpers/global-setup.ts).
    globalSetup: ['./test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
