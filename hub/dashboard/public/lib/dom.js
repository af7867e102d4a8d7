

// The two DOM helpers outside the preact views: a query shorthand, and the toast every view uses.
export const $ = (sel, root = document) => root.querySelector(sel);


export function toast(message, bad = false) {
  const t = $('#toast');
  t.textContent = message;
  t.className = bad ? 'toast bad' : 'toast';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), bad ? 8000 : 3500);
}
