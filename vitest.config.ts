import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import DurationSequencer from './test/helpers/duration-sequencer.js';

export default defineConfig({
  resolve: {
    // The browser apps import the shared modules the hub serves at /vocabulary.js and /protocol-core.js
    // (hub/http/browser-modules.ts); in Node tests those are the TypeScript sources themselves.
    alias: [
      { find: /^\/vocabulary\.js$/, replacement: fileURLToPath(new URL('./shared/vocabulary.ts', import.meta.url)) },
      { find: /^\/protocol-core\.js$/, replacement: fileURLToPath(new URL('./shared/protocol-core.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers on ephemeral ports; files run in parallel processes.
    // Forks, not threads: the in-process CLI (test/helpers/cli-in-process.ts) does process.chdir()
    // and takes over process.exit and the signal handlers, which a worker thread cannot do (Node
    // throws ERR_WORKER_UNSUPPORTED_OPERATION for chdir in a worker).
    pool: 'forks',
    // Files share a worker process (issue 18): each worker runs file after file and keeps its module
    // cache, so vitest, the hub's modules and their dependencies are loaded once per worker rather
    // than once per file. With a fresh process per file, booting it and importing were about a
    // quarter of the suite's CPU (168 of 611 CPU-s, measured 2026-12-01). Each file still gets its
    // own module instance of the test file itself and of the setup files, but the hub modules it
    // imports are the ones the worker already loaded, so module-level state is shared between files:
    // the hub keeps none that a test can change (a channel registry filled at import, a counter in
    // effect keys, a cached time format). What a file could leave in the process, its environment
    // variables and working directory, ./test/helpers/file-isolation.ts checks after each file: it
    // fails the file that left them changed, naming what, and puts them back for the next one.
    isolate: false,
    setupFiles: ['./test/helpers/file-isolation.ts'],
    // Four files at a time by default (issue 18). Most files spend most of their time waiting (the
    // real Espruino interpreter's own timers, a browser, a pty, a child hub, a NATS cluster), so
    // several at once keep the two cores busy. Measured 2026-12-02 on an idle machine, `npm test`
    // from a fresh cache (the type-check and the lint beside the tests, test/helpers/run-checks.mjs):
    // four at a time 292 s, all passed; five 296 s, with a timing failure since fixed; eight 303 s
    // of vitest alone with two failures (the CPU, about 385 CPU-s for the whole step, is then the
    // limit, and every file slows). Three, the default before, was 306 s of vitest after 32 s of
    // checks. What failed under load was hardened first: waits for an event wait for it, with
    // generous limits (below, and in the tests); admin commands run in-process
    // (test/helpers/cli-in-process.ts); a local NATS node that loses its port to another process
    // is started again on another (hub/cluster/nats-local.ts). LONEWATCH_TEST_WORKERS overrides it.
    maxWorkers: Number(process.env.LONEWATCH_TEST_WORKERS ?? 4),
    // The longest files first, from the committed durations of a full run when vitest's own cache
    // has none (a clean clone, as in CI): ./test/helpers/duration-sequencer.ts.
    sequence: { sequencer: DurationSequencer },
    // One Chromium and the firmware builds, made once for the run (test/helpers/global-setup.ts).
    globalSetup: ['./test/helpers/global-setup.ts'],
    // Guards against a hang, not limits on how fast anything must be (timing rules run on injected
    // clocks): generous, as a file shares two cores with two others and whatever else the machine runs.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
