// The map's pure parts (issue 20), apart from Leaflet and the DOM so the tests run them in Node:
// the words of a fix ("fix 40 s old, ±12 m, GNSS"), the plain geo: and OpenStreetMap links, and the
// lines of the offline map's grid. No I/O here.

/** The source of a position in words (the API's `source`: docs/protocol.md, "Positions"). */
export const SOURCE_LABEL = { gnss: 'GNSS', phone: 'phone', cell: 'cell estimate' };

/** "40 s", "3 min 5 s", "2 h 10 min", "3 days": how long ago the fix was taken. */
export function ageWords(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  const d = Math.floor(s / 86400);
  return `${d} day${d === 1 ? '' : 's'}`;
}

/**
 * "fix 40 s old, ±12 m, GNSS". The age is from the fix's own time (fixAt, the fob's or phone's
 * clock as the hub dated it), not from when it arrived: an old fix must read old.
 */
export function fixSummary(p, nowMs) {
  const fixAt = typeof p.fixAt === 'number' ? p.fixAt : Date.parse(p.fixAt);
  return `fix ${ageWords(nowMs - fixAt)} old, ±${Math.round(p.accuracyM)} m, ${SOURCE_LABEL[p.source] || p.source}`;
}

/** "51.50722, -0.12750": five decimals (about a metre), the precision the protocol carries. */
export function coordinates(p) {
  return `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`;
}

/** The plain geo: URI (RFC 5870) with its uncertainty, which phones open in their own map app. */
export function geoLink(p) {
  return `geo:${p.lat.toFixed(5)},${p.lon.toFixed(5)};u=${Math.round(p.accuracyM)}`;
}

/** OpenStreetMap's page with a marker at the fix. */
export function osmLink(p) {
  const lat = p.lat.toFixed(5);
  const lon = p.lon.toFixed(5);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
}

const METRES_PER_DEGREE_LAT = 111_320;
const NICE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000];

/** The grid's spacing for a view this many metres wide: the smallest "nice" one giving at most 8 cells. */
export function gridSpacingMetres(viewWidthM) {
  for (const m of NICE) if (viewWidthM / m <= 8) return m;
  return NICE[NICE.length - 1];
}

/**
 * The offline map's grid: lines every `spacingM` metres through the anchor (the fix), within the
 * bounds ({ south, west, north, east } in degrees). Returns the latitudes of the east-west lines and
 * the longitudes of the north-south ones. Longitude degrees shrink with cos(latitude).
 */
export function gridLines(bounds, spacingM, anchor) {
  const dLat = spacingM / METRES_PER_DEGREE_LAT;
  const dLon = spacingM / (METRES_PER_DEGREE_LAT * Math.max(0.01, Math.cos((anchor.lat * Math.PI) / 180)));
  const lines = (from, to, origin, step) => {
    const out = [];
    const first = Math.ceil((from - origin) / step);
    const last = Math.floor((to - origin) / step);
    // Bounded: a view is never more than a few hundred lines wide whatever the zoom.
    for (let k = first; k <= last && out.length < 400; k++) out.push(origin + k * step);
    return out;
  };
  return { lats: lines(bounds.south, bounds.north, anchor.lat, dLat), lons: lines(bounds.west, bounds.east, anchor.lon, dLon) };
}

/** Metres between two points (haversine): the width of the view for the grid, the track's legs. */
export function distanceMetres(a, b) {
  const R = 6_371_000;
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Plain text for the tile server's credit: Leaflet writes attributions as HTML, the config is text. */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
