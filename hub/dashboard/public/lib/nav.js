// What the views need of the router without importing it (the router imports every view, and the
// import graph has no cycles: test/architecture/import-graph.test.ts): the hash's parts, and a way to
// have the view on screen read again after an action. router.js plugs itself in at start.
let routeImpl = () => Promise.resolve();

export function setRouter(fn) {
  routeImpl = fn;
}

/** Reads the view on screen again (a preact view is then diffed, not rebuilt). */
export function route() {
  return routeImpl();
}

export function currentParam() {
  return decodeURIComponent(location.hash.split('/')[2] || '');
}

export function queryParams() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}
