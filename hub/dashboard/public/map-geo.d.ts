// Types of map-geo.js for the tests that import it (the page itself has no build).
export interface MapPosition {
  lat: number;
  lon: number;
  accuracyM: number;
  fixAt: string | number;
  source: 'gnss' | 'phone' | 'cell' | string;
}
export const SOURCE_LABEL: Record<string, string>;
export function ageWords(ms: number): string;
export function fixSummary(p: MapPosition, nowMs: number): string;
export function coordinates(p: MapPosition): string;
export function geoLink(p: MapPosition): string;
export function osmLink(p: MapPosition): string;
export function gridSpacingMetres(viewWidthM: number): number;
export function gridLines(bounds: { south: number; west: number; north: number; east: number }, spacingM: number, anchor: { lat: number; lon: number }): { lats: number[]; lons: number[] };
export function distanceMetres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number;
export function escapeHtml(text: string): string;
