/**
 * `[map]` of lonewatch.toml (issue 20): the tile server the dashboard's map draws on. None configured
 * (the default) is the offline map: the position, its accuracy circle on a plain grid and the links,
 * with no request leaving the hub's origin. The tile server's origin is added to the dashboard's CSP
 * (img-src), so a URL is accepted only when it is a plain http(s) template with {z}, {x} and {y}.
 */
import { z } from 'zod';

const PLACEHOLDERS = ['{z}', '{x}', '{y}'] as const;

/** The URL with its placeholders filled, so the URL parser can judge the rest of it. */
function sample(template: string): string {
  return template.replace('{z}', '1').replace('{x}', '0').replace('{y}', '0');
}

export const tileUrl = z
  .string()
  .max(512)
  .refine((t) => PLACEHOLDERS.every((p) => t.includes(p)), { error: 'must contain {z}, {x} and {y}, e.g. "https://tiles.example.org/{z}/{x}/{y}.png"' })
  .refine((t) => !/\{(?![zxy]\})[^}]*\}/.test(t), { error: 'only {z}, {x} and {y} are filled in (no {s} or {r}): name one host' })
  .refine(
    (t) => {
      try {
        const u = new URL(sample(t));
        return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
      } catch {
        return false;
      }
    },
    { error: 'must be an http:// or https:// URL with no user name or password in it' },
  );

export const mapSchema = z
  .strictObject({
    /** The tile URL template; absent: no tile server, the offline map. */
    tile_url: tileUrl.optional(),
    /** Shown in the map's corner as plain text (the tile server's licence usually requires it). */
    attribution: z.string().max(256).default(''),
    /** The closest zoom the tile server has tiles for. */
    max_zoom: z.int().min(1).max(22).default(19),
  })
  .prefault({});

export type MapConfig = z.output<typeof mapSchema>;

/** The tile server's origin for the CSP's img-src, or null with no tile server. */
export function tileOrigin(map: MapConfig): string | null {
  return map.tile_url ? new URL(sample(map.tile_url)).origin : null;
}
