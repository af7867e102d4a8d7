/**
 * The ES modules the browser apps import from the hub, bundled with esbuild once per process, when
 * the first hub in it starts (no build step, and the browser gets exactly what the hub was built
 * with):
 *
 * - GET /vocabulary.js: shared/vocabulary.ts (issue 18), so the dashboard and the companion import the
 *   kinds' labels, priorities, the timeline's words and the states instead of keeping their own copies.
 * - GET /protocol-core.js: shared/protocol-core.ts, the wire protocol the firmware compiles (topics,
 *   event and command kinds, the BLE UART framing), so the companion's relay is not a re-typed copy.
 * - GET /vendor/preact.js: preact, preact/hooks and htm (npm) as one module, for the dashboard's views.
 *   One module because preact/hooks imports the bare specifier "preact", which a browser resolves
 *   only through an import map, and an inline import map is an inline script the CSP ('self') refuses.
 *
 * None of them needs a sign-in: they hold no data.
 */
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import type { FastifyInstance } from 'fastify';

export const VOCABULARY_PATH = '/vocabulary.js';
export const PROTOCOL_CORE_PATH = '/protocol-core.js';
export const PREACT_PATH = '/vendor/preact.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const source = (rel: string) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));

/** ES2020, no minification: a duty officer's browser console (and IT) read readable names. */
const COMMON: BuildOptions = { bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2020', legalComments: 'none', logLevel: 'silent' };

async function bundle(options: BuildOptions): Promise<string> {
  const out = await build({ ...COMMON, ...options });
  return out.outputFiles![0].text;
}

export function bundleVocabulary(): Promise<string> {
  return bundle({ entryPoints: [source('shared/vocabulary.ts')] });
}

export function bundleProtocolCore(): Promise<string> {
  return bundle({ entryPoints: [source('shared/protocol-core.ts')] });
}

/** What the dashboard's views use of preact: components, hooks, and `html` (htm bound to preact's h). */
const PREACT_ENTRY = `
import { h } from 'preact';
import htm from 'htm';
export { h, render, Fragment, Component, createRef } from 'preact';
export { useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer } from 'preact/hooks';
export const html = htm.bind(h);
`;

export function bundlePreact(): Promise<string> {
  return bundle({ stdin: { contents: PREACT_ENTRY, resolveDir: ROOT, sourcefile: 'preact-entry.js', loader: 'js' } });
}

type Modules = [path: string, code: string][];

/**
 * The three bundles, made once per process: the sources are the process's own and do not change
 * while it runs. A hub process starts one HTTP server, but a test process starts hundreds of hubs,
 * and the three bundles cost esbuild about 16 ms of CPU and the hub 13 ms of wall time at each start
 * (issue 18, measured 2026-12-03). A failed build is not kept: the next start tries again.
 */
let modules: Promise<Modules> | null = null;

function browserModules(): Promise<Modules> {
  modules ??= Promise.all([bundleVocabulary(), bundleProtocolCore(), bundlePreact()]).then(
    ([vocabulary, protocolCore, preact]): Modules => [
      [VOCABULARY_PATH, vocabulary],
      [PROTOCOL_CORE_PATH, protocolCore],
      [PREACT_PATH, preact],
    ],
    (err: unknown) => {
      modules = null;
      throw err;
    },
  );
  return modules;
}

export async function registerBrowserModules(http: FastifyInstance): Promise<void> {
  for (const [path, code] of await browserModules()) {
    http.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(code),
    );
  }
}
