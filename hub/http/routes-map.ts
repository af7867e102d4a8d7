// The dashboard's map settings (issue 20): which tile server to draw on, from [map] of lonewatch.toml.
// With none configured the page draws the offline map (a grid, the coordinates and the links).
import { z } from 'zod';
import type { ApiApp, ApiContext } from './api-context.js';
import { ANY_ROLE } from './auth.js';

/** Where the hub serves Leaflet's own files (node_modules/leaflet/dist). */
export const LEAFLET_PREFIX = '/vendor/leaflet/';

const mapSettings = z.object({
  tileUrl: z.string().nullable(),
  attribution: z.string(),
  maxZoom: z.int(),
});

export function registerMapRoutes(app: ApiApp, { hub }: ApiContext): void {
  app.get(
    '/map',
    {
      schema: { tags: ['alarms'], summary: 'The map settings: the tile server URL template (null: none, the offline map), its attribution and maximum zoom', response: { 200: mapSettings } },
      preHandler: ANY_ROLE,
    },
    async () => ({ tileUrl: hub.config.map.tile_url ?? null, attribution: hub.config.map.attribution, maxZoom: hub.config.map.max_zoom }),
  );
}
