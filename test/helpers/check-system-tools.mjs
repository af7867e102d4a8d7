#!/usr/bin/env node
// `npm test` runs this first (the "pretest" script): the suite drives Debian's chromium and its
// headless build, chromium-headless-shell (dashboard and companion browser tests), and opens
// pseudo-terminals with socat (the flashing tests). Without
// them (and nats-server, for the cluster tests) every such test would fail on its own, one by one;
// this stops at once with the one line to run instead (issue 15 item 9). `.ci/run` installs the same list (APT_PACKAGES).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// The same defaults as CHROMIUM and CHROMIUM_DESKTOP in test/helpers/chromium.ts (this script runs
// before vitest, under plain node, so it cannot import that TypeScript module): the page tests run in
// Debian's headless build of Chromium, the browser-policy tests in its desktop build.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium-headless-shell';
const chromiumDesktop = process.env.CHROMIUM_DESKTOP_PATH ?? '/usr/bin/chromium';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const onPath = (name) => (process.env.PATH ?? '').split(delimiter).some((dir) => dir && executable(join(dir, name)));

const missing = [];
if (!executable(chromiumDesktop)) missing.push({ pkg: 'chromium', why: `no chromium at ${chromiumDesktop} (set CHROMIUM_DESKTOP_PATH to use another)` });
if (!executable(chromium)) missing.push({ pkg: 'chromium-headless-shell', why: `no chromium-headless-shell at ${chromium} (set CHROMIUM_PATH to use another)` });
if (!onPath('socat')) missing.push({ pkg: 'socat', why: 'no socat on PATH' });
// The cluster's failure tests (test/cluster/) run a real three-node NATS JetStream cluster.
if (!onPath('nats-server')) missing.push({ pkg: 'nats-server', why: 'no nats-server on PATH' });

if (missing.length > 0) {
  process.stderr.write(
    `npm test needs ${missing.map((m) => m.pkg).join(' and ')}: ${missing.map((m) => m.why).join('; ')}.\n` +
      `Install with:\n\n  sudo apt-get install -y --no-install-recommends ${missing.map((m) => m.pkg).join(' ')}\n\nNothing was run.\n`,
  );
  process.exit(1);
}
