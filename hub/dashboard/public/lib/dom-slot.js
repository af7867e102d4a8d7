// A DOM node made outside preact (the map: Leaflet draws and moves it, map-view.js) inside a preact
// view, kept in place across renders: preact leaves the wrapper's children alone.
import { html, useLayoutEffect, useRef } from '/vendor/preact.js';

export function DomSlot({ node }) {
  const ref = useRef(null);
  useLayoutEffect(() => {
    if (ref.current.firstChild !== node) ref.current.replaceChildren(node);
  });
  return html`<div class="slot" ref=${ref}></div>`;
}
