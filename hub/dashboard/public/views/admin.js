import { $, h } from '../lib/dom.js';
import { canSee, state } from '../lib/state.js';
import { agoSpan, fmtDateTime } from '../lib/time.js';
import { act, api, get, post } from '../lib/api.js';
import { route } from '../router.js';
import { editWorker, workerForm } from './worker-form.js';

// ---------------------------------------------------------------------------------------------
// Admin

export async function adminView() {
  const isAdmin = canSee('admin');
  const isManager = canSee('manager', 'admin');
  const [devices, policies, contacts, workers, users, tokens, audit] = await Promise.all([
    get('/api/admin/devices'),
    get('/api/admin/policies'),
    get('/api/admin/contacts'),
    get('/api/workers'),
    isManager ? get('/api/admin/users') : null,
    isAdmin ? get('/api/admin/tokens') : null,
    isManager ? get('/api/admin/audit?limit=40') : null,
  ]);
  const refresh = () => route({ keepScroll: true });

  const secretBox = h('div', { id: 'device-secret', 'data-once': 'device-secret' });
  const devForm = h(
    'form',
    { class: 'row', id: 'device-form' },
    h('label', {}, 'Device id', h('input', { name: 'deviceId', required: true, placeholder: 'fob-012' })),
    h('label', {}, 'Worker', h('select', { name: 'workerId' }, h('option', { value: '', text: '(none)' }), workers.workers.map((w) => h('option', { value: w.id, text: w.name })))),
    h('label', {}, 'Board', h('select', { name: 'board' }, h('option', { value: '', text: '(unknown)' }), h('option', { value: 'puck', text: 'Puck.js (BLE)' }), h('option', { value: 'rak5010', text: 'RAK5010 (LTE-M)' }))),
    h('button', { type: 'submit', class: 'primary' }, 'Register fob'),
  );
  devForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = devForm.elements;
    try {
      const r = await post('/api/admin/devices', { deviceId: f.deviceId.value.trim(), workerId: f.workerId.value || null, board: f.board.value || null });
      secretBox.replaceChildren(h('div', { class: 'warning' }, h('p', { text: `Registered ${r.deviceId}. Its secret, shown this once (write it to the fob now with \`lonewatch flash\`):` }), h('div', { class: 'secret', id: 'secret-value', text: r.secret })));
      f.deviceId.value = '';
    } catch (err) {
      secretBox.replaceChildren(h('p', { class: 'error', text: err.message }));
    }
  });

  const sections = [];
  sections.push(
    h(
      'section',
      { class: 'card', id: 'admin-devices' },
      h('h2', { text: 'Fobs' }),
      isAdmin ? [devForm, secretBox] : null,
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ['Fob', 'Worker', 'Board', 'State', 'Battery', 'Last heard', ''].map((t) => h('th', { text: t })))),
        h(
          'tbody',
          {},
          devices.devices.map((d) =>
            h(
              'tr',
              { 'data-device': d.id },
              h('td', { text: d.id }),
              h('td', { text: d.workerId || '–' }),
              h('td', { text: d.board || '–' }),
              h('td', { text: d.revokedAt ? `revoked ${fmtDateTime(d.revokedAt)}` : d.online ? 'online' : 'offline' }),
              h('td', { text: d.battery === null ? '–' : `${d.battery}%` }),
              h('td', {}, d.lastSeenAt ? agoSpan(d.lastSeenAt) : 'never'),
              h('td', {}, isAdmin && !d.revokedAt ? h('button', { class: 'danger', 'data-action': 'revoke', onclick: (e) => confirm(`Revoke ${d.id}? It is refused from now on.`) && act(e.target, () => post(`/api/admin/devices/${encodeURIComponent(d.id)}/revoke`), `${d.id} revoked`).then(refresh) }, 'Revoke') : null),
            ),
          ),
        ),
      ),
    ),
  );

  // Workers: the admin form (workerForm below) starts empty for every new worker (issue 15 item 1).
  const wForm = workerForm(contacts, refresh);
  sections.push(
    h(
      'section',
      { class: 'card', id: 'admin-workers' },
      h('h2', { text: 'Workers' }),
      h('table', {}, h('thead', {}, h('tr', {}, ['Worker', 'Buddy', 'Line manager', 'Training', ''].map((t) => h('th', { text: t })))), h('tbody', {}, workers.workers.map((w) => h('tr', {}, h('td', { text: `${w.name} (${w.id})` }), h('td', { text: personName(w.buddyId, workers, contacts) }), h('td', { text: personName(w.lineManagerId, workers, contacts) }), h('td', { text: `${w.trainingDate || 'never'}${w.newStarter ? ' · new starter' : ''}` }), h('td', {}, isAdmin ? h('button', { 'data-action': 'edit-worker', 'data-worker': w.id, onclick: (e) => act(e.target, () => editWorker(wForm, w)) }, 'Edit') : null))))),
      isAdmin ? [h('h3', { id: 'worker-form-title', text: 'Add a worker' }), wForm] : null,
    ),
  );

  sections.push(
    h(
      'section',
      { class: 'card', id: 'admin-policies' },
      h('h2', { text: 'Escalation policies (from lonewatch.toml)' }),
      h('p', {}, policies.alarmPolicies.map((p) => h('span', { class: 'chip', text: `${p.label} → ${p.policy}` }))),
      policies.policies.map((p) =>
        h(
          'div',
          {},
          h('h3', { text: `${p.name} (${p.mode === 'all_at_once' ? 'everyone at once' : 'one step at a time'}; repeat ${p.repeat}×; re-alert ${p.reAlertAfterAckMin} min after acknowledgement${p.policeAfterSightingMin ? `; 999 advised ${p.policeAfterSightingMin} min after last sighting` : ''})` }),
          h('ol', {}, p.levels.map((l) => h('li', { text: `${l.name}: ${l.targets.join(', ')} by ${l.channels.join(', ')}; next after ${l.delayMin} min` }))),
        ),
      ),
    ),
  );

  if (users) {
    const uForm = h(
      'form',
      { class: 'row', id: 'user-form' },
      h('label', {}, 'Username', h('input', { name: 'username', required: true })),
      h('label', {}, 'Name', h('input', { name: 'name' })),
      h('label', {}, 'Role', h('select', { name: 'role' }, ['duty_officer', 'manager', 'admin', 'worker'].map((r) => h('option', { value: r, text: r.replace('_', ' ') })))),
      h('label', {}, 'Worker (for worker accounts)', h('select', { name: 'workerId' }, h('option', { value: '', text: '(none)' }), workers.workers.map((w) => h('option', { value: w.id, text: w.name })))),
      h('label', {}, 'Password (12+ characters)', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true })),
      h('button', { type: 'submit', class: 'primary' }, 'Add user'),
      h('span', { id: 'user-result' }),
    );
    uForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = uForm.elements;
      const out = $('#user-result');
      try {
        await post('/api/admin/users', { username: f.username.value.trim(), name: f.name.value.trim() || undefined, role: f.role.value, password: f.password.value, workerId: f.workerId.value || null });
        refresh();
      } catch (err) {
        out.className = 'error';
        out.textContent = err.message;
      }
    });
    sections.push(
      h(
        'section',
        { class: 'card', id: 'admin-users' },
        h('h2', { text: 'Users' }),
        isAdmin ? uForm : null,
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ['User', 'Role', 'Worker', 'Sessions', ''].map((t) => h('th', { text: t })))),
          h(
            'tbody',
            {},
            users.users.map((u) =>
              h(
                'tr',
                { 'data-user': u.username },
                h('td', { text: `${u.name} (${u.username})${u.disabled ? ' · disabled' : ''}` }),
                h('td', { text: u.role.replace('_', ' ') }),
                h('td', { text: u.workerId || '–' }),
                h('td', { text: String(u.sessions) }),
                h('td', {}, u.sessions > 0 && (isAdmin || u.role === 'worker') ? h('button', { 'data-action': 'sign-out-user', onclick: (e) => act(e.target, () => api('DELETE', `/api/users/${encodeURIComponent(u.username)}/sessions`), `${u.username} signed out everywhere`).then(refresh) }, 'Sign out everywhere') : null, isAdmin && u.username !== state.me.username ? h('button', { onclick: (e) => act(e.target, () => post(`/api/admin/users/${encodeURIComponent(u.username)}/disable`, { disabled: !u.disabled })).then(refresh) }, u.disabled ? 'Enable' : 'Disable') : null),
              ),
            ),
          ),
        ),
      ),
    );
  }

  if (tokens) {
    const tokenBox = h('div', { id: 'token-secret', 'data-once': 'token-secret' });
    const tForm = h('form', { class: 'row' }, h('label', {}, 'Integration', h('input', { name: 'name', required: true })), h('label', {}, 'Acts as', h('select', { name: 'role' }, ['duty_officer', 'manager', 'admin'].map((r) => h('option', { value: r, text: r.replace('_', ' ') })))), h('button', { type: 'submit', class: 'primary' }, 'Create API token'));
    tForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const r = await post('/api/admin/tokens', { name: tForm.elements.name.value.trim(), role: tForm.elements.role.value });
        tokenBox.replaceChildren(h('div', { class: 'warning' }, h('p', { text: `Token for ${r.name}, shown this once:` }), h('div', { class: 'secret', text: r.token })));
      } catch (err) {
        tokenBox.replaceChildren(h('p', { class: 'error', text: err.message }));
      }
    });
    sections.push(
      h(
        'section',
        { class: 'card', id: 'admin-tokens' },
        h('h2', { text: 'API tokens' }),
        tForm,
        tokenBox,
        h('table', {}, h('tbody', {}, tokens.tokens.map((t) => h('tr', {}, h('td', { text: t.name }), h('td', { text: t.role }), h('td', {}, ...(t.revokedAt ? ['revoked'] : t.lastUsedAt ? ['last used ', agoSpan(t.lastUsedAt)] : ['last used never'])), h('td', {}, t.revokedAt ? null : h('button', { class: 'danger', onclick: (e) => act(e.target, () => post(`/api/admin/tokens/${t.id}/revoke`), 'Token revoked').then(refresh) }, 'Revoke')))))),
      ),
    );
  }

  if (audit) {
    sections.push(
      h(
        'section',
        { class: 'card', id: 'admin-audit' },
        h('h2', { text: 'Audit log (latest 40)' }),
        h('table', {}, h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'About', 'Detail'].map((t) => h('th', { text: t })))), h('tbody', {}, audit.entries.map((e) => h('tr', { 'data-audit': e.action }, h('td', { text: fmtDateTime(e.at) }), h('td', { text: e.actor }), h('td', { text: e.action }), h('td', { text: e.subject }), h('td', { class: 'wrap', text: JSON.stringify(e.detail) }))))),
      ),
    );
  }

  sections.splice(2, 0, visitImportCard(refresh));
  // Lists follow every change at once through the live stream's `admin` events (onAdminEvent); no poll.
  return h('section', { id: 'admin' }, h('h1', { text: 'Administration' }), sections);
}

/** A person by name, not internal id (issue 15 item 15): a worker or an office contact. */
export function personName(id, workers, contacts) {
  if (!id) return '–';
  const w = workers.workers.find((x) => x.id === id);
  if (w) return w.name;
  const c = contacts.contacts.find((x) => x.id === id);
  return c ? c.name : `${id} (not on record)`;
}

/**
 * Itinerary upload (issue 15 item 13): the file goes to the hub, which checks it with the CLI's own
 * parser and imports it all or nothing; every refused line is listed with its reason.
 */
export function visitImportCard(refresh) {
  const out = h('div', { id: 'import-result', role: 'status' });
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true });
  const form = h(
    'form',
    { class: 'row', id: 'import-form' },
    h('label', {}, 'Itinerary CSV file', file),
    h('button', { type: 'submit', class: 'primary' }, 'Import visits'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files && file.files[0];
    if (!f) return;
    out.replaceChildren();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const r = await post('/api/admin/visits/import', { csv: await f.text(), file: f.name });
      out.append(h('p', { class: 'ok', text: `Imported ${r.imported} visit(s) from ${f.name}.` }), r.warnings.length ? h('ul', {}, r.warnings.map((w) => h('li', { class: 'warning', text: w }))) : null);
      file.value = '';
      void refresh; // the visits are on each worker's page; this page keeps the result on screen
    } catch (err) {
      out.append(h('p', { class: 'error', text: err.message }), err.refused && err.refused.length ? h('ul', { id: 'import-refused' }, err.refused.map((x) => h('li', { text: x }))) : null);
    } finally {
      button.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card', id: 'admin-import' },
    h('h2', { text: 'Import visits' }),
    h('p', { class: 'muted', text: 'The same CSV as “lonewatch visits import”: worker, ref, start, end, and the optional columns (docs/examples/visits.csv). The whole file is checked first; if any line is wrong nothing is imported.' }),
    form,
    out,
  );
}
