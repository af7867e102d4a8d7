/**
 * The ES modules the browser apps import from the hub, bundled with esbuild once, when the hub starts
 * (no build step, and the browser gets exactly what the hub was built with):
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

export async function registerBrowserModules(http: FastifyInstance): Promise<void> {
  const modules: [string, string][] = [
    [VOCABULARY_PATH, await bundleVocabulary()],
    [PROTOCOL_CORE_PATH, await bundleProtocolCore()],
    [PREACT_PATH, await bundlePreact()],
  ];
  for (const [path, code] of modules) {
    http.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(code),
    );
  }
}
