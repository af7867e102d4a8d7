/**
 * GET /vocabulary.js: shared/vocabulary.ts as an ES module for the browser apps (issue 18), so the
 * dashboard and the companion can `import { ALARM_KIND } from '/vocabulary.js'` instead of keeping
 * their own copies of the kinds' labels, the timeline's words and the states. Bundled with esbuild once,
 * when the hub starts: the browser gets exactly what the hub was built with.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';

export const VOCABULARY_PATH = '/vocabulary.js';
const SOURCE = fileURLToPath(new URL('../../shared/vocabulary.ts', import.meta.url));

/** The browser module: ES2020, no minification (a duty officer's browser console shows readable names). */
export async function bundleVocabulary(): Promise<string> {
  const out = await build({ entryPoints: [SOURCE], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2020', legalComments: 'none', logLevel: 'silent' });
  return out.outputFiles[0].text;
}

export async function registerVocabulary(http: FastifyInstance): Promise<void> {
  const code = await bundleVocabulary();
  http.get(VOCABULARY_PATH, { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(code),
  );
}
