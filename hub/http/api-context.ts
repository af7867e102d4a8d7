/**
 * The types every API route module is registered with: the typed fastify app and the context (the
 * hub's services, the dashboard's auth and the live-event streams). A module of its own so the routes
 * depend on it rather than on api.ts, which imports them (issue 18: no import cycles).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HubServices } from '../hub-services.js';
import type { Auth } from './auth.js';
import type { LiveEvents } from './live-events.js';

export type ApiApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export interface ApiContext {
  hub: HubServices;
  auth: Auth;
  live: LiveEvents;
}
