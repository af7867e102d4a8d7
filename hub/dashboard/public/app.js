// Lonewatch duty officer dashboard: the entry module. Plain ES modules, no build step; the CSP allows
// only the hub's own scripts and style.css, so nothing here uses inline handlers or styles, and every
// piece of text from the hub is set as text (never innerHTML). One module per view (views/), small
// shared modules (lib/, sound.js, live-feed.js, router.js); docs/dashboard.md, "How the dashboard is built".
import { initMapView } from './map-view.js';
import { get } from './lib/api.js';
import { now } from './lib/time.js';
import { start, wireSessionControls } from './session.js';
import { wireRouter } from './router.js';

initMapView({ get, now });
wireSessionControls();
wireRouter();
start();
