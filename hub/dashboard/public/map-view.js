// The position panel of the alarm view and the police hand-over (issue 20): the latest fix with its
// accuracy circle and the track since the alarm on a Leaflet map, the fix's age in words that keeps
// ticking, the plain geo: and OpenStreetMap links, and the visit address to compare with. Updated in
// place on the live `position` event, so the officer's zoom and pan survive.
//
// Offline map: with no tile server configured ([map] tile_url), or when the tile server's tiles fail
// to load, the same map has no tiles: the accuracy circle and the track on a plain grid with a scale,
// and a line saying the map tiles are not available. No position: a plain sentence, never an empty map.
//
// Leaflet is the npm package served by the hub (/vendor/leaflet/); every text from the hub is set with
// textContent, and the tile server's credit is escaped before Leaflet writes it as HTML.
import { coordinates, distanceMetres, escapeHtml, fixSummary, geoLink, gridLines, gridSpacingMetres, osmLink } from './map-geo.js';

const LEAFLET_URL = '/vendor/leaflet/leaflet-src.esm.js';
/** Offline, Leaflet has no tiles to stop at: close enough to see a 5 m accuracy circle. */
const OFFLINE_MAX_ZOOM = 21;

let deps = null;
let settingsPromise = null;
let leafletPromise = null;
/** The one panel on screen (the alarm view or the hand-over shows one alarm). */
let current = null;

/** get: the dashboard's API GET (throws an error with .status and .message); now: the hub's time. */
export function initMapView(options) {
  deps = options;
  // The fix's age keeps ticking on screen ("fix 40 s old" becomes "fix 41 s old").
  setInterval(tickFixAges, 1000);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function loadSettings() {
  if (!settingsPromise) settingsPromise = deps.get('/api/map').catch((err) => {
    settingsPromise = null;
    throw err;
  });
  return settingsPromise;
}

function loadLeaflet() {
  if (!leafletPromise) leafletPromise = import(LEAFLET_URL).catch((err) => {
    leafletPromise = null;
    throw err;
  });
  return leafletPromise;
}

/**
 * The panel for one alarm. A re-render of the same view (a live alarm event redraws the page) gets
 * the same element back, map and all, so nothing is fetched again and the map keeps its view.
 */
export function positionPanel(alarmId, mode, open = true) {
  const key = `${mode}:${alarmId}`;
  if (current && current.key === key) {
    // Asked again when the alarm closed (or reopened) since, as what this role may see has changed
    // (R22), or when the officer comes back to this view from another (the card was off screen and
    // missed the live events). A live re-render of the view on screen reuses it as it is.
    if (current.open !== open || !current.el.isConnected) {
      current.open = open;
      void load(current);
    }
    return current.el;
  }
  if (current) dispose(current);
  const body = el('div', { id: 'position-body' }, el('p', { class: 'muted', text: 'Loading the position…' }));
  const mapBox = el('div', { id: 'map', class: 'map-box no-print', role: 'img', 'aria-label': 'map of the latest position, its accuracy circle and the track since the alarm' });
  const section = el('section', { class: 'card position', id: 'position', 'data-alarm': alarmId }, el('h2', { text: 'Position' }), body);
  current = { key, alarmId, mode, open, el: section, body, mapBox, map: null, layers: null, data: null, tiles: { loaded: 0, failed: 0 }, offline: null, fitted: false, loading: null, again: false };
  void load(current);
  return section;
}

/** The live `position` event ({ alarmId, deviceId }), or a reconnection ({}): fetch and redraw in place. */
export function onPositionEvent(data) {
  // Only for the card on screen: every fetch is a view of the worker's position in the audit log (R22).
  if (!current || !current.el.isConnected || (data && data.alarmId && data.alarmId !== current.alarmId)) return;
  void load(current);
}

function dispose(panel) {
  if (panel.map) panel.map.remove();
  panel.map = null;
}

async function load(panel) {
  if (panel.loading) {
    panel.again = true;
    return panel.loading;
  }
  panel.loading = (async () => {
    do {
      panel.again = false;
      let data;
      try {
        data = await deps.get(`/api/alarms/${encodeURIComponent(panel.alarmId)}/positions`);
      } catch (err) {
        // R22: a role that may not see the position is told so, in the hub's words.
        data = { error: err.status === 403 ? `The position is ${err.message}` : `The position could not be loaded: ${err.message}` };
      }
      if (current !== panel) return;
      panel.data = data;
      await render(panel);
    } while (panel.again && current === panel);
  })();
  try {
    await panel.loading;
  } finally {
    panel.loading = null;
  }
}

function visitLine(visit) {
  if (!visit) return 'no visit on record';
  return visit.address ? `${visit.address} (visit ${visit.ref})` : `no address on record for visit ${visit.ref}: look it up in the case system`;
}

function fmtClock(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  const zone = new Intl.DateTimeFormat([], { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone ? ` ${zone.value}` : ''}`;
}

async function render(panel) {
  const d = panel.data;
  if (d.error) {
    panel.body.replaceChildren(el('p', { class: 'warning', id: 'position-error', text: d.error }));
    return;
  }
  const visit = el('p', { id: 'visit-address' }, el('strong', { text: 'Visit address, to compare: ' }), visitLine(d.visit));
  const p = d.latest;
  if (!p) {
    panel.body.replaceChildren(el('p', { id: 'position-none', class: 'big-fact', text: 'No position received from this fob (nor from the worker’s phone) for this alarm: use the visit and the last sighting.' }), visit);
    return;
  }
  const fixAt = Date.parse(p.fixAt);
  const summary = el('p', { id: 'position-summary', class: 'big-fact', 'data-fix-at': String(fixAt), 'data-accuracy': String(p.accuracyM), 'data-source': p.source, text: fixSummary(p, deps.now()) });
  const handover = panel.mode === 'handover';
  const links = el(
    'p',
    { id: 'position-links' },
    el('a', { href: geoLink(p), 'data-link': 'geo', text: handover ? geoLink(p) : 'Open in the phone’s map (geo:)' }),
    ' · ',
    el('a', { href: osmLink(p), 'data-link': 'osm', target: '_blank', rel: 'noopener noreferrer', text: handover ? osmLink(p) : 'OpenStreetMap' }),
  );
  const facts = el(
    'dl',
    { class: 'facts' },
    el('dt', { text: 'Coordinates' }),
    el('dd', { id: 'position-coords', text: `${coordinates(p)} (WGS84)` }),
    el('dt', { text: 'Fix taken' }),
    el('dd', { id: 'position-fix-at', text: fmtClock(fixAt) }),
    el('dt', { text: 'Received' }),
    el('dd', { text: fmtClock(Date.parse(p.receivedAt)) }),
    el('dt', { text: 'Track' }),
    el('dd', { id: 'position-track', text: `${d.positions.length} position${d.positions.length === 1 ? '' : 's'}: the last one before the alarm and every one since` }),
  );
  const note = el('p', { id: 'map-tiles-note', class: 'warning', hidden: true });
  panel.note = note;
  panel.body.replaceChildren(summary, facts, links, visit, note, panel.mapBox);
  try {
    await drawMap(panel);
  } catch (err) {
    // The text above is the position; a map that cannot be drawn takes nothing away from it.
    panel.mapBox.hidden = true;
    note.hidden = false;
    note.textContent = `The map could not be drawn (${err.message}): the coordinates and links above are exact.`;
  }
}

/** Resolves once the element is in the page (Leaflet measures its container). */
function whenConnected(node) {
  return new Promise((resolve) => {
    const check = () => (node.isConnected ? resolve() : window.requestAnimationFrame(check));
    check();
  });
}

async function drawMap(panel) {
  const [L, settings] = await Promise.all([loadLeaflet(), loadSettings()]);
  if (current !== panel) return;
  await whenConnected(panel.mapBox);
  if (!panel.map) createMap(panel, L, settings);
  else panel.map.invalidateSize();
  showTilesState(panel);
  updateLayers(panel);
}

function createMap(panel, L, settings) {
  const map = L.map(panel.mapBox, { maxZoom: settings.tileUrl ? settings.maxZoom : OFFLINE_MAX_ZOOM });
  map.attributionControl.setPrefix('Leaflet');
  L.control.scale({ imperial: false }).addTo(map);
  panel.map = map;
  panel.L = L;
  panel.layers = {
    grid: L.layerGroup().addTo(map),
    track: L.polyline([], { color: '#1f6feb', weight: 3, opacity: 0.8, interactive: false }).addTo(map),
    circle: L.circle([0, 0], { radius: 1, color: '#d12f2f', weight: 2, fillOpacity: 0.15, interactive: false }).addTo(map),
    marker: L.circleMarker([0, 0], { radius: 7, color: '#ffffff', weight: 2, fillColor: '#d12f2f', fillOpacity: 1 }).addTo(map),
  };
  panel.gridLabel = el('div', { class: 'map-grid-label', id: 'map-grid-label' });
  const GridLabel = L.Control.extend({ onAdd: () => panel.gridLabel });
  new GridLabel({ position: 'topright' }).addTo(map);
  if (settings.tileUrl) {
    const tiles = L.tileLayer(settings.tileUrl, { maxZoom: settings.maxZoom, attribution: escapeHtml(settings.attribution) });
    tiles.on('tileload', () => {
      panel.tiles.loaded++;
      panel.mapBox.dataset.tilesLoaded = String(panel.tiles.loaded);
      showTilesState(panel);
    });
    tiles.on('tileerror', () => {
      panel.tiles.failed++;
      panel.mapBox.dataset.tilesFailed = String(panel.tiles.failed);
      showTilesState(panel);
    });
    tiles.addTo(map);
    panel.tileServer = true;
  } else panel.tileServer = false;
  map.on('moveend', () => drawGrid(panel));
}

/** Offline when there is no tile server, or when tiles fail and none has loaded. */
function showTilesState(panel) {
  let reason = null;
  if (!panel.tileServer) reason = 'no tile server is configured for this hub';
  else if (panel.tiles.failed > 0 && panel.tiles.loaded === 0) reason = 'the tile server did not answer';
  panel.offline = reason;
  panel.mapBox.dataset.mode = reason ? 'offline' : 'tiles';
  panel.mapBox.classList.toggle('offline', Boolean(reason));
  if (panel.note) {
    panel.note.hidden = !reason;
    panel.note.textContent = reason ? `Map tiles are not available (${reason}). The grid shows the position and its accuracy circle; the coordinates and links above are exact.` : '';
  }
  drawGrid(panel);
}

/** The offline map's grid: lines through the fix at a spacing that suits the view, and its size in words. */
function drawGrid(panel) {
  // No view yet (the first fix is drawn right after): nothing to measure the grid by.
  if (!panel.map || !panel.layers || !panel.fitted) return;
  const { L, map } = panel;
  panel.layers.grid.clearLayers();
  const latest = panel.data && panel.data.latest;
  if (!panel.offline || !latest) {
    panel.gridLabel.textContent = '';
    panel.gridLabel.hidden = true;
    return;
  }
  const b = map.getBounds();
  const centre = map.getCenter();
  const width = distanceMetres({ lat: centre.lat, lon: b.getWest() }, { lat: centre.lat, lon: b.getEast() });
  const spacing = gridSpacingMetres(width);
  const lines = gridLines({ south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast() }, spacing, { lat: latest.lat, lon: latest.lon });
  const style = { color: '#7a8696', weight: 1, opacity: 0.7, interactive: false };
  for (const lat of lines.lats) panel.layers.grid.addLayer(L.polyline([[lat, b.getWest()], [lat, b.getEast()]], style));
  for (const lon of lines.lons) panel.layers.grid.addLayer(L.polyline([[b.getSouth(), lon], [b.getNorth(), lon]], style));
  panel.gridLabel.hidden = false;
  panel.gridLabel.textContent = `grid: ${spacing >= 1000 ? `${spacing / 1000} km` : `${spacing} m`} squares`;
  panel.mapBox.dataset.gridSpacing = String(spacing);
}

function updateLayers(panel) {
  const { map, layers } = panel;
  const d = panel.data;
  const p = d.latest;
  const at = [p.lat, p.lon];
  layers.marker.setLatLng(at);
  layers.circle.setLatLng(at).setRadius(Math.max(1, p.accuracyM));
  layers.track.setLatLngs(d.positions.map((x) => [x.lat, x.lon]));
  layers.marker.bindTooltip(`${coordinates(p)}, ±${Math.round(p.accuracyM)} m`);
  if (!panel.fitted) {
    // First draw: the accuracy circle and the whole track in view.
    // (Computed from the fix, not the circle: layers have no bounds before the map has a view.)
    const bounds = panel.L.latLng(at).toBounds(2 * Math.max(1, p.accuracyM));
    for (const x of d.positions) bounds.extend([x.lat, x.lon]);
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
    panel.fitted = true;
  } else if (!map.getBounds().contains(at)) {
    // A new fix outside the view: follow it, keeping the officer's zoom.
    map.panTo(at);
  }
  // What the map really shows, for the tests and for anyone reading the page's markup.
  const m = layers.marker.getLatLng();
  panel.mapBox.dataset.markerLat = m.lat.toFixed(5);
  panel.mapBox.dataset.markerLon = m.lng.toFixed(5);
  panel.mapBox.dataset.circleRadius = String(Math.round(layers.circle.getRadius()));
  panel.mapBox.dataset.trackPoints = String(layers.track.getLatLngs().length);
  drawGrid(panel);
}

function tickFixAges() {
  if (!deps) return;
  for (const node of document.querySelectorAll('[data-fix-at]')) {
    node.textContent = fixSummary({ fixAt: Number(node.dataset.fixAt), accuracyM: Number(node.dataset.accuracy), source: node.dataset.source }, deps.now());
  }
}
