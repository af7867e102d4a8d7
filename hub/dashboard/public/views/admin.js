// Administration (preact): fobs, workers, policies, the visit import, users, API tokens, the audit log.
// The lists follow every change at once (live-feed.js re-reads them on `admin`, `worker`, `device`
// and `visit` events) and preact diffs the page: a form being filled in keeps what was typed and
// its focus, and a secret shown once (a new fob's, a new token's) stays, as component state.
import { html, useState } from '/vendor/preact.js';
import { canSee, state } from '../lib/state.js';
import { fmtDateTime } from '../lib/time.js';
import { Ago } from '../lib/live.js';
import { act, api, get, post } from '../lib/api.js';
import { route } from '../lib/nav.js';
import { WorkerForm } from './worker-form.js';

const refresh = () => route();
const roleWords = (r) => r.replace('_', ' ');

/** A person by name, not internal id (issue 15 item 15): a worker or an office contact. */
function personName(id, workers, contacts) {
  if (!id) return '–';
  const w = workers.workers.find((x) => x.id === id);
  if (w) return w.name;
  const c = contacts.contacts.find((x) => x.id === id);
  return c ? c.name : `${id} (not on record)`;
}

function DeviceForm({ workers }) {
  const [out, setOut] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = form.elements;
    try {
      const r = await post('/api/admin/devices', { deviceId: f.deviceId.value.trim(), workerId: f.workerId.value || null, board: f.board.value || null });
      setOut({ r });
      f.deviceId.value = '';
    } catch (err) {
      setOut({ error: err.message });
    }
  };
  return html`
    <form class="row" id="device-form" onSubmit=${submit}>
      <label>Device id<input name="deviceId" required placeholder="fob-012" /></label>
      <label>Worker<select name="workerId"><option value="">(none)</option>${workers.workers.map((w) => html`<option key=${w.id} value=${w.id}>${w.name}</option>`)}</select></label>
      <label>Board<select name="board"><option value="">(unknown)</option><option value="puck">Puck.js (BLE)</option><option value="rak5010">RAK5010 (LTE-M)</option></select></label>
      <button type="submit" class="primary">Register fob</button>
    </form>
    <div id="device-secret">
      ${out && out.r ? html`<div class="warning"><p>${`Registered ${out.r.deviceId}. Its secret, shown this once (write it to the fob now with \`lonewatch flash\`):`}</p><div class="secret" id="secret-value">${out.r.secret}</div></div>` : null}
      ${out && out.error ? html`<p class="error">${out.error}</p>` : null}
    </div>`;
}

function DevicesCard({ devices, workers, isAdmin }) {
  const revoke = (d) => (e) => confirm(`Revoke ${d.id}? It is refused from now on.`) && act(e.currentTarget, () => post(`/api/admin/devices/${encodeURIComponent(d.id)}/revoke`), `${d.id} revoked`).then(refresh);
  return html`
    <section class="card" id="admin-devices">
      <h2>Fobs</h2>
      ${isAdmin ? html`<${DeviceForm} workers=${workers} />` : null}
      <table>
        <thead><tr>${['Fob', 'Worker', 'Board', 'State', 'Battery', 'Last heard', ''].map((t) => html`<th>${t}</th>`)}</tr></thead>
        <tbody>
          ${devices.devices.map(
            (d) => html`<tr key=${d.id} data-device=${d.id}><td>${d.id}</td><td>${d.workerId || '–'}</td><td>${d.board || '–'}</td><td>${d.revokedAt ? `revoked ${fmtDateTime(d.revokedAt)}` : d.online ? 'online' : 'offline'}</td><td>${d.battery === null ? '–' : `${d.battery}%`}</td><td>${d.lastSeenAt ? html`<${Ago} at=${d.lastSeenAt} />` : 'never'}</td><td>${isAdmin && !d.revokedAt ? html`<button class="danger" data-action="revoke" onClick=${revoke(d)}>Revoke</button>` : null}</td></tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

/** Workers, and the admin form (worker-form.js), which starts empty for every new worker (issue 15 item 1). */
function WorkersCard({ workers, contacts, isAdmin }) {
  const [editing, setEditing] = useState({ n: 0, worker: null, details: null });
  const edit = (w) => async (e) => {
    const r = await act(e.currentTarget, () => get(`/api/workers/${encodeURIComponent(w.id)}/private`));
    if (r) setEditing({ n: editing.n + 1, worker: w, details: r.details || {} });
  };
  const fresh = () => setEditing({ n: editing.n + 1, worker: null, details: null });
  return html`
    <section class="card" id="admin-workers">
      <h2>Workers</h2>
      <table>
        <thead><tr>${['Worker', 'Buddy', 'Line manager', 'Training', ''].map((t) => html`<th>${t}</th>`)}</tr></thead>
        <tbody>
          ${workers.workers.map(
            (w) => html`<tr key=${w.id}><td>${`${w.name} (${w.id})`}</td><td>${personName(w.buddyId, workers, contacts)}</td><td>${personName(w.lineManagerId, workers, contacts)}</td><td>${`${w.trainingDate || 'never'}${w.newStarter ? ' · new starter' : ''}`}</td><td>${isAdmin ? html`<button data-action="edit-worker" data-worker=${w.id} onClick=${edit(w)}>Edit</button>` : null}</td></tr>`,
          )}
        </tbody>
      </table>
      ${isAdmin
        ? html`<h3 id="worker-form-title">${editing.worker ? `Edit ${editing.worker.name} (${editing.worker.id})` : 'Add a worker'}</h3>
            <${WorkerForm} key=${editing.n} contacts=${contacts} worker=${editing.worker} details=${editing.details} onSaved=${fresh} onNew=${fresh} />`
        : null}
    </section>`;
}

function PoliciesCard({ policies }) {
  const head = (p) => `${p.name} (${p.mode === 'all_at_once' ? 'everyone at once' : 'one step at a time'}; repeat ${p.repeat}×; re-alert ${p.reAlertAfterAckMin} min after acknowledgement${p.policeAfterSightingMin ? `; 999 advised ${p.policeAfterSightingMin} min after last sighting` : ''})`;
  return html`
    <section class="card" id="admin-policies">
      <h2>Escalation policies (from lonewatch.toml)</h2>
      <p>${policies.alarmPolicies.map((p) => html`<span class="chip">${`${p.label} → ${p.policy}`}</span>`)}</p>
      ${policies.policies.map((p) => html`<div><h3>${head(p)}</h3><ol>${p.levels.map((l) => html`<li>${`${l.name}: ${l.targets.join(', ')} by ${l.channels.join(', ')}; next after ${l.delayMin} min`}</li>`)}</ol></div>`)}
    </section>`;
}

/**
 * Itinerary upload (issue 15 item 13): the file goes to the hub, which checks it with the CLI's own
 * parser and imports it all or nothing; every refused line is listed with its reason.
 */
function VisitImportCard() {
  const [out, setOut] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const input = e.currentTarget.elements.csv;
    const f = input.files && input.files[0];
    if (!f) return;
    setOut(null);
    setBusy(true);
    try {
      const r = await post('/api/admin/visits/import', { csv: await f.text(), file: f.name });
      setOut({ ok: `Imported ${r.imported} visit(s) from ${f.name}.`, warnings: r.warnings });
      input.value = '';
    } catch (err) {
      setOut({ error: err.message, refused: err.refused || [] });
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section class="card" id="admin-import">
      <h2>Import visits</h2>
      <p class="muted">The same CSV as “lonewatch visits import”: worker, ref, start, end, and the optional columns (docs/examples/visits.csv). The whole file is checked first; if any line is wrong nothing is imported.</p>
      <form class="row" id="import-form" onSubmit=${submit}>
        <label>Itinerary CSV file<input type="file" name="csv" accept=".csv,text/csv" required /></label>
        <button type="submit" class="primary" disabled=${busy}>Import visits</button>
      </form>
      <div id="import-result" role="status">
        ${out && out.ok ? html`<p class="ok">${out.ok}</p>${out.warnings.length ? html`<ul>${out.warnings.map((w) => html`<li class="warning">${w}</li>`)}</ul>` : null}` : null}
        ${out && out.error ? html`<p class="error">${out.error}</p>${out.refused.length ? html`<ul id="import-refused">${out.refused.map((x) => html`<li>${x}</li>`)}</ul>` : null}` : null}
      </div>
    </section>`;
}

function UsersCard({ users, workers, isAdmin }) {
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = form.elements;
    try {
      await post('/api/admin/users', { username: f.username.value.trim(), name: f.name.value.trim() || undefined, role: f.role.value, password: f.password.value, workerId: f.workerId.value || null });
      setError('');
      form.reset();
      refresh();
    } catch (err) {
      setError(err.message);
    }
  };
  const signOut = (u) => (e) => act(e.currentTarget, () => api('DELETE', `/api/users/${encodeURIComponent(u.username)}/sessions`), `${u.username} signed out everywhere`).then(refresh);
  const toggle = (u) => (e) => act(e.currentTarget, () => post(`/api/admin/users/${encodeURIComponent(u.username)}/disable`, { disabled: !u.disabled })).then(refresh);
  return html`
    <section class="card" id="admin-users">
      <h2>Users</h2>
      ${isAdmin
        ? html`<form class="row" id="user-form" onSubmit=${submit}>
            <label>Username<input name="username" required /></label>
            <label>Name<input name="name" /></label>
            <label>Role<select name="role">${['duty_officer', 'manager', 'admin', 'worker'].map((r) => html`<option value=${r}>${roleWords(r)}</option>`)}</select></label>
            <label>Worker (for worker accounts)<select name="workerId"><option value="">(none)</option>${workers.workers.map((w) => html`<option key=${w.id} value=${w.id}>${w.name}</option>`)}</select></label>
            <label>Password (12+ characters)<input name="password" type="password" autocomplete="new-password" required /></label>
            <button type="submit" class="primary">Add user</button>
            <span id="user-result" class=${error ? 'error' : undefined}>${error}</span>
          </form>`
        : null}
      <table>
        <thead><tr>${['User', 'Role', 'Worker', 'Sessions', ''].map((t) => html`<th>${t}</th>`)}</tr></thead>
        <tbody>
          ${users.users.map(
            (u) => html`<tr key=${u.username} data-user=${u.username}><td>${`${u.name} (${u.username})${u.disabled ? ' · disabled' : ''}`}</td><td>${roleWords(u.role)}</td><td>${u.workerId || '–'}</td><td>${String(u.sessions)}</td><td>${u.sessions > 0 && (isAdmin || u.role === 'worker') ? html`<button data-action="sign-out-user" onClick=${signOut(u)}>Sign out everywhere</button>` : null}${isAdmin && u.username !== state.me.username ? html`<button onClick=${toggle(u)}>${u.disabled ? 'Enable' : 'Disable'}</button>` : null}</td></tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

function TokensCard({ tokens }) {
  const [out, setOut] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const f = e.currentTarget.elements;
    try {
      setOut({ r: await post('/api/admin/tokens', { name: f.name.value.trim(), role: f.role.value }) });
    } catch (err) {
      setOut({ error: err.message });
    }
  };
  const revoke = (t) => (e) => act(e.currentTarget, () => post(`/api/admin/tokens/${t.id}/revoke`), 'Token revoked').then(refresh);
  return html`
    <section class="card" id="admin-tokens">
      <h2>API tokens</h2>
      <form class="row" onSubmit=${submit}>
        <label>Integration<input name="name" required /></label>
        <label>Acts as<select name="role">${['duty_officer', 'manager', 'admin'].map((r) => html`<option value=${r}>${roleWords(r)}</option>`)}</select></label>
        <button type="submit" class="primary">Create API token</button>
      </form>
      <div id="token-secret">
        ${out && out.r ? html`<div class="warning"><p>${`Token for ${out.r.name}, shown this once:`}</p><div class="secret">${out.r.token}</div></div>` : null}
        ${out && out.error ? html`<p class="error">${out.error}</p>` : null}
      </div>
      <table>
        <tbody>
          ${tokens.tokens.map(
            (t) => html`<tr key=${t.id}><td>${t.name}</td><td>${t.role}</td><td>${t.revokedAt ? 'revoked' : t.lastUsedAt ? html`last used <${Ago} at=${t.lastUsedAt} />` : 'last used never'}</td><td>${t.revokedAt ? null : html`<button class="danger" onClick=${revoke(t)}>Revoke</button>`}</td></tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

function AuditCard({ audit }) {
  return html`
    <section class="card" id="admin-audit">
      <h2>Audit log (latest 40)</h2>
      <table>
        <thead><tr>${['When', 'Who', 'What', 'About', 'Detail'].map((t) => html`<th>${t}</th>`)}</tr></thead>
        <tbody>${audit.entries.map((e) => html`<tr data-audit=${e.action}><td>${fmtDateTime(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.subject}</td><td class="wrap">${JSON.stringify(e.detail)}</td></tr>`)}</tbody>
      </table>
    </section>`;
}

function AdminPage({ d, isAdmin }) {
  return html`
    <section id="admin">
      <h1>Administration</h1>
      <${DevicesCard} devices=${d.devices} workers=${d.workers} isAdmin=${isAdmin} />
      <${WorkersCard} workers=${d.workers} contacts=${d.contacts} isAdmin=${isAdmin} />
      <${VisitImportCard} />
      <${PoliciesCard} policies=${d.policies} />
      ${d.users ? html`<${UsersCard} users=${d.users} workers=${d.workers} isAdmin=${isAdmin} />` : null}
      ${d.tokens ? html`<${TokensCard} tokens=${d.tokens} />` : null}
      ${d.audit ? html`<${AuditCard} audit=${d.audit} />` : null}
    </section>`;
}

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
  return html`<${AdminPage} d=${{ devices, policies, contacts, workers, users, tokens, audit }} isAdmin=${isAdmin} />`;
}
