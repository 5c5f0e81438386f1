// postern console: plain JavaScript, no build step. It reads the admin API next to it (../api/v1/) and listens to
// the live feed (../api/v1/events/, a WebSocket relaying postern's own events). Data is only ever put into the page
// as text (textContent) or as SVG attributes, never as HTML. Pages are sections shown by the URL's #fragment.

const api = new URL('../api/v1/', location.href);
const $ = (selector) => document.querySelector(selector);
const CSRF = { 'X-XSRF-Header': 'console' };
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

async function call(path, options = {}, base = api) {
  const response = await fetch(new URL(path, base), { credentials: 'same-origin', ...options });
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { text };
  }
  // Every error answer of the gateway has one shape: {"error": {"status", "code", "message", "requestId"}};
  // KNOXTOKEN answers Knox's {"error": "…"}.
  if (!response.ok) {
    const message = typeof body.error === 'string' ? body.error : body.error?.message;
    const err = new Error(message || `${response.status}`);
    err.status = response.status;
    err.body = body;
    throw err;
  }
  return body;
}
const getJson = (path) => call(path);

// ---------------------------------------------------------------------------------------------------------------
// Small formats and an SVG sparkline
// ---------------------------------------------------------------------------------------------------------------

function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
const ms = (v) =>
  v === undefined || v === null ? '—' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
const percent = (v) => `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)} %`;

/** A sparkline of per-second counts (and errors in red), drawn as SVG elements. */
function sparkline(values, errors, width = 180, height = 28) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const max = Math.max(1, ...values);
  svg.setAttribute('aria-label', `requests per second, last ${values.length} s, peak ${max}`);
  const x = (i) => (values.length <= 1 ? 0 : (i / (values.length - 1)) * (width - 2) + 1);
  const y = (v) => height - 1 - (v / max) * (height - 4);
  const line = (series, cls) => {
    const path = document.createElementNS(SVG, 'polyline');
    path.setAttribute('points', series.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '));
    path.setAttribute('class', cls);
    svg.append(path);
  };
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(width));
  base.setAttribute('y1', String(height - 0.5));
  base.setAttribute('y2', String(height - 0.5));
  base.setAttribute('class', 'axis');
  svg.append(base);
  line(values, 'requests');
  if (errors?.some((v) => v > 0)) line(errors, 'errors');
  return svg;
}

/** Status classes as a small stacked bar plus their counts. */
function statusBar(classes) {
  const total = Object.values(classes).reduce((a, b) => a + b, 0);
  const box = el('div', { class: 'statuses' });
  if (total === 0) {
    box.textContent = '—';
    return box;
  }
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', '80');
  svg.setAttribute('height', '8');
  svg.setAttribute('class', 'statusbar');
  let at = 0;
  for (const name of ['2xx', '3xx', '1xx', '4xx', '5xx', 'other']) {
    const n = classes[name] ?? 0;
    if (!n) continue;
    const rect = document.createElementNS(SVG, 'rect');
    const w = (n / total) * 80;
    rect.setAttribute('x', at.toFixed(2));
    rect.setAttribute('width', w.toFixed(2));
    rect.setAttribute('height', '8');
    rect.setAttribute('class', `s${name}`);
    svg.append(rect);
    at += w;
  }
  box.append(svg);
  box.append(
    el(
      'span',
      { class: 'mono' },
      Object.entries(classes)
        .map(([k, v]) => `${k} ${v}`)
        .join(' · '),
    ),
  );
  return box;
}

// ---------------------------------------------------------------------------------------------------------------
// Overview
// ---------------------------------------------------------------------------------------------------------------

let lastTraffic;

function renderTopologies(topologies) {
  const body = $('#topologies tbody');
  body.replaceChildren();
  const rates = new Map((lastTraffic?.topologies ?? []).map((t) => [t.topology, t]));
  for (const t of topologies) {
    const problems = el('td');
    if (t.diagnostics.length > 0) {
      const list = el('ul', { class: 'diagnostics' });
      for (const d of t.diagnostics) {
        list.append(
          el('li', { class: d.severity === 'error' ? 'bad' : 'warn' }, el('code', {}, d.at), ' ', d.message),
        );
      }
      problems.append(list);
    }
    const failed = t.state === 'failed';
    const r = rates.get(t.name);
    body.append(
      el(
        'tr',
        { 'data-topology': t.name },
        el('td', {}, el('code', {}, t.name)),
        el('td', { class: failed ? 'bad' : 'ok' }, t.state),
        el('td', {}, t.serving ? 'yes' : 'no'),
        el('td', {}, t.deployedAt ? new Date(t.deployedAt).toLocaleString() : '—'),
        el('td', {}, t.routes),
        el('td', {}, r ? sparkline(r.perSecond, r.errorsPerSecond, 90, 20) : '', r ? ` ${r.rate}` : '—'),
        el('td', { class: r?.errorRate > 0 ? 'bad' : '' }, r ? percent(r.errorRate) : '—'),
        el(
          'td',
          { class: 'services' },
          ...t.services.flatMap((s, i) => [
            i > 0 ? ', ' : '',
            s.state === 'failed'
              ? el('span', { class: 'bad', title: `did not deploy: ${s.code}` }, `${s.role} (failed)`)
              : s.role,
          ]),
        ),
        problems,
      ),
    );
  }
}

function renderErrors(errors) {
  const list = $('#errors');
  list.replaceChildren();
  for (const e of errors.errors) {
    const item = el(
      'li',
      {},
      el('span', { class: 'mono' }, new Date(e.time).toLocaleTimeString()),
      ' ',
      el('strong', {}, e.topology),
      ' ',
      e.message,
    );
    for (const d of e.diagnostics ?? []) item.append(el('div', {}, el('code', {}, d)));
    list.append(item);
  }
  if (errors.errors.length === 0) list.append(el('li', {}, 'none'));
}

let lastStatus;
async function loadStatus() {
  try {
    const status = await getJson('status');
    lastStatus = status;
    const ready = $('#ready');
    ready.textContent = status.gateway.ready ? 'ready' : 'not ready';
    ready.className = `badge ${status.gateway.ready ? 'ok' : 'bad'}`;
    renderTopologies(status.topologies);
    renderErrors(status.errors);
    const c = status.connections;
    $('#connections').textContent =
      `WebSockets open: ${c.websocketsTotal} · channel subscribers: ${c.channelsTotal} · ` +
      `requests in flight: ${c.inflight}`;
    fillTopologySelect(status.topologies);
  } catch (err) {
    $('#ready').textContent = `error: ${err.message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------------------------------------------

function trafficRow(s, total) {
  const name = total
    ? el('td', {}, el('strong', {}, s.topology || '(no topology)'))
    : el('td', { class: 'indent' }, s.service || '(no route)');
  return el(
    'tr',
    { class: total ? 'total' : '', 'data-series': `${s.topology}/${s.service}` },
    name,
    el('td', { class: 'num' }, s.rate),
    el('td', {}, sparkline(s.perSecond, s.errorsPerSecond)),
    el('td', { class: s.errorRate > 0 ? 'bad num' : 'num' }, percent(s.errorRate)),
    el('td', { class: 'num' }, ms(s.p50)),
    el('td', { class: 'num' }, ms(s.p95)),
    el('td', { class: 'num' }, ms(s.p99)),
    el('td', {}, statusBar(s.classes)),
    el('td', { class: 'num' }, `${bytes(s.bytesIn)} / ${bytes(s.bytesOut)}`),
    el('td', { class: 'num' }, s.websockets),
  );
}

async function loadTraffic() {
  try {
    const t = await getJson('traffic?window=60');
    lastTraffic = t;
    $('#traffic-window').textContent = `(last ${t.windowSeconds} s, live)`;
    const total = t.topologies.reduce((a, s) => a + s.requests, 0);
    $('#traffic-summary').textContent =
      `${total} request(s) in the last ${t.windowSeconds} s · in flight: ${t.inflight} · ` +
      `WebSockets open: ${Object.values(t.websockets).reduce((a, b) => a + b, 0)}`;
    const body = $('#traffic tbody');
    body.replaceChildren();
    for (const topo of t.topologies) {
      body.append(trafficRow(topo, true));
      for (const s of t.series.filter((x) => x.topology === topo.topology)) body.append(trafficRow(s, false));
    }
    if (t.topologies.length === 0) body.append(el('tr', {}, el('td', { colspan: '10' }, 'no requests yet')));
    if (lastStatus) renderTopologies(lastStatus.topologies);
  } catch (err) {
    $('#traffic-summary').textContent = `error: ${err.message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Backends and TLS
// ---------------------------------------------------------------------------------------------------------------

function certText(c) {
  return c ? `${c.subject} (expires ${c.validTo.slice(0, 10)}, ${c.daysLeft} d)` : '';
}

async function loadBackends() {
  const body = $('#backends tbody');
  try {
    const { backends } = await getJson('backends');
    body.replaceChildren();
    for (const b of backends) {
      const tls = b.probe?.tls;
      body.append(
        el(
          'tr',
          { 'data-backend': b.url },
          el('td', {}, b.topology),
          el('td', {}, b.service),
          el('td', { class: 'url' }, el('code', {}, b.url)),
          el('td', { class: b.state === 'up' ? 'ok' : 'bad' }, b.state, b.ha ? ' (HA)' : ''),
          el(
            'td',
            { class: 'mono' },
            b.probe ? `${b.probe.ms} ms, ${new Date(b.probe.checkedAt).toLocaleTimeString()}` : '—',
          ),
          el(
            'td',
            { class: tls && !tls.authorized ? 'bad' : '' },
            tls ? certText(tls.certificate) : '—',
            tls && !tls.authorized ? el('div', {}, `not trusted: ${tls.error}`) : null,
          ),
          el(
            'td',
            { class: 'bad' },
            b.probe?.error ?? '',
            b.lastError
              ? el('div', {}, `${new Date(b.lastError.time).toLocaleTimeString()} ${b.lastError.message}`)
              : null,
          ),
        ),
      );
    }
    if (backends.length === 0) body.append(el('tr', {}, el('td', { colspan: '7' }, 'no backends')));
  } catch (err) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '7', class: 'bad' }, `error: ${err.message}`)));
  }
  try {
    const tls = await getJson('tls');
    const rows = $('#tls tbody');
    rows.replaceChildren();
    const row = (what, c, error) =>
      el(
        'tr',
        {},
        el('td', {}, what),
        el('td', {}, c?.subject ?? error ?? ''),
        el('td', {}, c?.issuer ?? ''),
        el('td', {}, c ? c.validTo.slice(0, 10) : ''),
        el('td', { class: c && c.daysLeft < 30 ? 'bad' : 'ok' }, c ? c.daysLeft : ''),
      );
    if (!tls.enabled) rows.append(el('tr', {}, el('td', { colspan: '5' }, 'TLS is off (ssl.enabled=false)')));
    if (tls.listener) rows.append(row('listener certificate', tls.listener.certificate));
    for (const store of tls.truststores) {
      if (store.error) rows.append(row(`${store.setting}: ${store.file}`, undefined, store.error));
      for (const c of store.certificates) rows.append(row(`${store.setting}: ${store.file}`, c));
    }
  } catch (err) {
    $('#tls tbody').replaceChildren(el('tr', {}, el('td', { colspan: '5' }, `error: ${err.message}`)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Routes: filtered on the server, paginated here
// ---------------------------------------------------------------------------------------------------------------

const ROUTES_PER_PAGE = 15;
let routes = [];
let routePage = 0;
let searchTimer;

function renderRoutes() {
  const pages = Math.max(1, Math.ceil(routes.length / ROUTES_PER_PAGE));
  routePage = Math.min(routePage, pages - 1);
  const body = $('#routes tbody');
  body.replaceChildren();
  for (const r of routes.slice(routePage * ROUTES_PER_PAGE, (routePage + 1) * ROUTES_PER_PAGE)) {
    body.append(
      el(
        'tr',
        {},
        el('td', {}, r.topology),
        el('td', {}, r.service),
        el('td', {}, el('code', {}, r.url)),
        el('td', { class: 'mono' }, r.chain.join(' → ')),
        el('td', { class: 'mono' }, r.at),
      ),
    );
  }
  $('#route-count').textContent = `${routes.length} route(s)`;
  $('#route-page').textContent = `page ${routePage + 1} of ${pages}`;
  $('#route-prev').disabled = routePage === 0;
  $('#route-next').disabled = routePage >= pages - 1;
}

async function loadRoutes() {
  const q = $('#route-search').value;
  ({ routes } = await getJson(`routes?q=${encodeURIComponent(q)}`));
  renderRoutes();
}

// ---------------------------------------------------------------------------------------------------------------
// Editing: check, diff, apply, undo
// ---------------------------------------------------------------------------------------------------------------

let editing = { name: '', source: '', checked: undefined };

function fillTopologySelect(topologies) {
  const select = $('#edit-topology');
  const current = select.value;
  const names = topologies.map((t) => t.name);
  if ([...select.options].map((o) => o.value).join('\n') === names.join('\n')) return;
  select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
  if (names.includes(current)) select.value = current;
}

/** A line diff (longest common subsequence), as lines prefixed with ' ', '-' or '+'. */
function lineDiff(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push([' ', a[i++]]);
      j++;
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) out.push(['+', b[j++]]);
    else out.push(['-', a[i++]]);
  }
  return out;
}

function renderDiff(before, after, pre = $('#edit-diff')) {
  pre.replaceChildren();
  const diff = lineDiff(before, after);
  const changed = diff.some(([k]) => k !== ' ');
  if (!changed) {
    pre.append(el('span', { class: 'muted' }, 'no change'));
    return false;
  }
  // Changed lines with two lines of context around them.
  const keep = diff.map(
    ([k], i) => diff.slice(Math.max(0, i - 2), i + 3).some(([x]) => x !== ' ') && k !== undefined,
  );
  let skipped = false;
  diff.forEach(([kind, line], i) => {
    if (!keep[i]) {
      if (!skipped) pre.append(el('span', { class: 'skip' }, '…\n'));
      skipped = true;
      return;
    }
    skipped = false;
    pre.append(
      el('span', { class: kind === '+' ? 'add' : kind === '-' ? 'del' : 'same' }, `${kind} ${line}\n`),
    );
  });
  return true;
}

async function loadSource(name) {
  const s = await getJson(`topologies/${encodeURIComponent(name)}/source`);
  editing = { name, source: s.source, checked: undefined };
  $('#edit-source').value = s.source;
  $('#edit-source').readOnly = !!s.generatedFrom;
  $('#edit-state').textContent = s.generatedFrom
    ? `${s.file} is generated from ${s.generatedFrom}: edit the descriptor`
    : `${s.file} loaded`;
  $('#edit-diagnostics').replaceChildren();
  $('#edit-diff').replaceChildren();
  $('#edit-apply').disabled = true;
  await loadHistory(name);
}

async function loadHistory(name) {
  const { versions } = await getJson(`topologies/${encodeURIComponent(name)}/history`);
  const list = $('#edit-history');
  list.replaceChildren();
  for (const v of versions) {
    const undo = el('button', { type: 'button', 'data-version': v.version }, 'Restore');
    undo.addEventListener('click', async () => {
      const { source } = await getJson(`topologies/${encodeURIComponent(name)}/history/${v.version}`);
      $('#edit-source').value = source;
      $('#edit-state').textContent = `version ${v.version} in the editor: check, then apply to restore it`;
      await checkEdit();
    });
    list.append(
      el('li', {}, el('span', { class: 'mono' }, new Date(v.time).toLocaleString()), ` ${v.bytes} B `, undo),
    );
  }
  if (versions.length === 0) list.append(el('li', { class: 'muted' }, 'none kept yet'));
}

async function checkEdit() {
  const name = editing.name;
  const source = $('#edit-source').value;
  $('#edit-apply').disabled = true;
  const list = $('#edit-diagnostics');
  list.replaceChildren();
  try {
    const result = await call(`topologies/${encodeURIComponent(name)}/check`, {
      method: 'POST',
      headers: { ...CSRF, 'content-type': 'application/xml' },
      body: source,
    });
    for (const d of result.diagnostics) {
      list.append(
        el('li', { class: d.severity === 'error' ? 'bad' : 'warn' }, el('code', {}, d.at), ' ', d.message),
      );
    }
    if (result.diagnostics.length === 0) list.append(el('li', { class: 'ok' }, 'the topology deploys'));
    const changed = renderDiff(editing.source, source);
    editing.checked = result.ok && changed ? source : undefined;
    $('#edit-apply').disabled = editing.checked === undefined;
    $('#edit-state').textContent = result.ok
      ? changed
        ? 'checked: review the diff, then apply'
        : 'checked: nothing to apply'
      : 'the check found errors: nothing can be applied';
  } catch (err) {
    list.append(el('li', { class: 'bad' }, `error: ${err.message}`));
  }
}

async function applyEdit() {
  const source = editing.checked;
  if (source === undefined || source !== $('#edit-source').value) {
    $('#edit-state').textContent = 'the text changed since the check: check again';
    $('#edit-apply').disabled = true;
    return;
  }
  try {
    const result = await call(`topologies/${encodeURIComponent(editing.name)}`, {
      method: 'PUT',
      headers: { ...CSRF, 'content-type': 'application/xml' },
      body: source,
    });
    await loadSource(editing.name);
    $('#edit-state').textContent = `applied: ${result.deployed ? 'deployed' : 'written, not deployed'}${
      result.previousVersion ? ` (previous version kept as ${result.previousVersion})` : ''
    }`;
  } catch (err) {
    $('#edit-state').textContent = `not applied: ${err.message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Descriptors and shared provider configurations: the same check, diff, apply and undo, plus new and delete
// ---------------------------------------------------------------------------------------------------------------

let configEdit = {
  kind: 'descriptors',
  name: '',
  source: '',
  exists: false,
  format: 'json',
  checked: undefined,
};
let configLists = {
  descriptors: [],
  'shared-providers': [],
  deleted: { descriptors: [], 'shared-providers': [] },
};
const configPath = (kind, name, rest = '') => `${kind}/${encodeURIComponent(name)}${rest}`;

function topologyBadge(t) {
  const cls = t.state === 'deployed' && t.serving ? 'ok' : t.state === 'absent' ? 'muted' : 'bad';
  return el(
    'span',
    { class: cls, 'data-topology': t.name },
    `${t.name} (${t.serving ? t.state : 'not serving'})`,
  );
}

async function loadConfigLists() {
  const [d, p] = await Promise.all([getJson('descriptors'), getJson('shared-providers')]);
  configLists = {
    descriptors: d.descriptors,
    'shared-providers': p.providerConfigs,
    deleted: { descriptors: d.deleted, 'shared-providers': p.deleted },
  };
  const body = $('#config-files tbody');
  body.replaceChildren();
  for (const f of d.descriptors) {
    body.append(
      el(
        'tr',
        { 'data-kind': 'descriptors', 'data-name': f.name },
        el('td', {}, 'descriptor'),
        el('td', {}, f.name),
        el('td', {}, el('code', {}, f.file)),
        el('td', {}, f.providerConfig ? `uses ${f.providerConfig}` : ''),
        el('td', {}, topologyBadge(f.topology)),
      ),
    );
  }
  for (const f of p.providerConfigs) {
    const feeds = el('td', {});
    f.topologies.forEach((t, i) => {
      feeds.append(i ? ', ' : '', topologyBadge(t));
    });
    if (f.topologies.length === 0) feeds.append(el('span', { class: 'muted' }, 'none'));
    body.append(
      el(
        'tr',
        { 'data-kind': 'shared-providers', 'data-name': f.name },
        el('td', {}, 'provider configuration'),
        el('td', {}, f.name),
        el('td', {}, el('code', {}, f.file)),
        el('td', {}, f.descriptors.length ? `used by ${f.descriptors.join(', ')}` : 'used by no descriptor'),
        feeds,
      ),
    );
  }
  fillConfigNames();
}

function fillConfigNames() {
  const kind = $('#config-kind').value;
  const select = $('#config-name');
  const current = configEdit.kind === kind ? configEdit.name : '';
  const present = configLists[kind].map((f) => f.name);
  const options = present.map((n) => el('option', { value: n }, n));
  for (const n of configLists.deleted[kind]) options.push(el('option', { value: n }, `${n} (deleted)`));
  if (current && !present.includes(current) && !configLists.deleted[kind].includes(current)) {
    options.push(el('option', { value: current }, `${current} (new)`));
  }
  select.replaceChildren(...options);
  if (current) select.value = current;
}

function configStateText(text) {
  $('#config-state').textContent = text;
}

function resetConfigResults() {
  $('#config-diagnostics').replaceChildren();
  $('#config-diff').replaceChildren();
  $('#config-topologies').replaceChildren();
  $('#config-apply').disabled = true;
  $('#config-confirm').hidden = true;
}

async function loadConfig(kind, name) {
  if (!name) return;
  const s = await getJson(configPath(kind, name, '/source'));
  const format = s.file && /\.ya?ml$/i.test(s.file) ? 'yaml' : 'json';
  configEdit = { kind, name, source: s.source, exists: s.exists, format, checked: undefined };
  $('#config-source').value = s.source;
  resetConfigResults();
  $('#config-delete').disabled = !s.exists;
  configStateText(
    s.exists ? `${s.file} loaded` : `${name} was deleted: restore a previous version to create it again`,
  );
  await loadConfigHistory();
}

async function loadConfigHistory() {
  const { kind, name } = configEdit;
  const list = $('#config-history');
  list.replaceChildren();
  const { versions } =
    configEdit.exists || configLists.deleted[kind].includes(name)
      ? await getJson(configPath(kind, name, '/history'))
      : { versions: [] };
  for (const v of versions) {
    const undo = el('button', { type: 'button', 'data-version': v.version }, 'Restore');
    undo.addEventListener('click', async () => {
      const { source } = await getJson(configPath(kind, name, `/history/${v.version}`));
      $('#config-source').value = source;
      configStateText(`version ${v.version} in the editor: check, then apply to restore it`);
      await checkConfig();
    });
    list.append(
      el('li', {}, el('span', { class: 'mono' }, new Date(v.time).toLocaleString()), ` ${v.bytes} B `, undo),
    );
  }
  if (versions.length === 0) list.append(el('li', { class: 'muted' }, 'none kept yet'));
}

/** The body's Content-Type: the file's format (a new file's from the format chosen). */
const configType = () => (configEdit.format === 'yaml' ? 'application/yaml' : 'application/json');

/** A diagnostic of the text being edited, shown against that text: the line and a caret under the column. */
function diagnosticItem(d, text, file) {
  const item = el(
    'li',
    { class: d.severity === 'error' ? 'bad' : 'warn' },
    el('code', {}, d.at),
    ' ',
    d.message,
  );
  const line = text.split('\n')[d.line - 1];
  if (file && d.file === file && line !== undefined) {
    const number = String(d.line);
    const caret = `${' '.repeat(number.length + 3 + Math.max(0, d.column - 1))}^`;
    item.append(el('pre', { class: 'excerpt' }, `${number} | ${line}\n${caret}`));
  }
  return item;
}

async function checkConfig() {
  const { kind, name } = configEdit;
  const source = $('#config-source').value;
  resetConfigResults();
  const list = $('#config-diagnostics');
  try {
    const result = await call(configPath(kind, name, '/check'), {
      method: 'POST',
      headers: { ...CSRF, 'content-type': configType() },
      body: source,
    });
    const file = configFileName();
    for (const d of result.diagnostics) list.append(diagnosticItem(d, source, file));
    if (result.diagnostics.length === 0) list.append(el('li', { class: 'ok' }, 'deploys'));
    const feeds = $('#config-topologies');
    for (const t of result.topologies) feeds.append(el('li', { 'data-topology': t }, t));
    if (result.topologies.length === 0) feeds.append(el('li', { class: 'muted' }, 'feeds no topology'));
    const changed = renderDiff(configEdit.source, source, $('#config-diff'));
    configEdit.checked = result.ok && changed ? source : undefined;
    $('#config-apply').disabled = configEdit.checked === undefined;
    configStateText(
      result.ok
        ? changed
          ? `checked: review the diff, then apply (regenerates ${result.topologies.join(', ') || 'no topology'})`
          : 'checked: nothing to apply'
        : 'the check found errors: nothing can be applied',
    );
  } catch (err) {
    list.append(el('li', { class: 'bad' }, `error: ${err.message}`));
  }
}

/** The edited file's path as diagnostics name it (a new file's is the one it will get). */
function configFileName() {
  const { kind, name } = configEdit;
  const current = configLists[kind].find((f) => f.name === name);
  if (current) return current.file;
  const dir = kind === 'descriptors' ? 'conf/descriptors' : 'conf/shared-providers';
  return `${dir}/${name}${configEdit.format === 'yaml' ? '.yml' : '.json'}`;
}

async function applyConfig() {
  const source = configEdit.checked;
  if (source === undefined || source !== $('#config-source').value) {
    configStateText('the text changed since the check: check again');
    $('#config-apply').disabled = true;
    return;
  }
  const { kind, name } = configEdit;
  try {
    const result = await call(configPath(kind, name), {
      method: 'PUT',
      headers: { ...CSRF, 'content-type': configType() },
      body: source,
    });
    await loadConfigLists();
    await loadConfig(kind, name);
    const feeds = $('#config-topologies');
    feeds.replaceChildren();
    for (const t of result.topologies) {
      feeds.append(
        el(
          'li',
          { 'data-topology': t.name, class: t.serving && t.state === 'deployed' ? 'ok' : 'bad' },
          `${t.name}: ${t.state}${t.redeployed ? ', redeployed' : t.serving ? ', unchanged' : ''}${
            t.deployedAt ? ` at ${new Date(t.deployedAt).toLocaleTimeString()}` : ''
          }`,
        ),
      );
    }
    const redeployed = result.topologies.filter((t) => t.redeployed).map((t) => t.name);
    configStateText(
      `applied: ${result.created ? 'created' : 'written'} ${result.file}` +
        (redeployed.length ? `; redeployed ${redeployed.join(', ')}` : '; no topology redeployed') +
        (result.previousVersion ? ` (previous version kept as ${result.previousVersion})` : ''),
    );
  } catch (err) {
    configStateText(`not applied: ${err.message}`);
  }
}

function askDeleteConfig() {
  const { kind, name } = configEdit;
  const what =
    kind === 'descriptors'
      ? `descriptor ${name} (its topology is undeployed)`
      : `provider configuration ${name}`;
  $('#config-confirm-text').textContent = `Delete ${what}? Its current version is kept and can be restored.`;
  $('#config-confirm').hidden = false;
}

async function deleteConfig() {
  $('#config-confirm').hidden = true;
  const { kind, name } = configEdit;
  try {
    const result = await call(configPath(kind, name), { method: 'DELETE', headers: CSRF });
    await loadConfigLists();
    await loadConfig(kind, name);
    configStateText(
      `deleted ${result.removed}${result.topology ? `; topology ${result.topology} ${result.serving ? 'still serving' : 'undeployed'}` : ''}`,
    );
  } catch (err) {
    configStateText(`not deleted: ${err.message}`);
  }
}

const CONFIG_TEMPLATES = {
  descriptors: {
    json: '{\n  "provider-config-ref": "",\n  "services": [\n    { "name": "", "urls": [""] }\n  ]\n}\n',
    yaml: 'provider-config-ref: \nservices:\n  - name: \n    urls:\n      - \n',
  },
  'shared-providers': {
    json: '{\n  "providers": [\n    { "role": "authentication", "name": "Anonymous", "enabled": "true" },\n    { "role": "identity-assertion", "name": "Default", "enabled": "true" }\n  ]\n}\n',
    yaml: 'providers:\n  - role: authentication\n    name: Anonymous\n    enabled: true\n  - role: identity-assertion\n    name: Default\n    enabled: true\n',
  },
};

function newConfig() {
  const kind = $('#config-kind').value;
  const name = $('#config-new-name').value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    configStateText('a name is letters, digits, ".", "_" and "-"');
    return;
  }
  if (configLists[kind].some((f) => f.name === name)) {
    configStateText(`${name} exists: it is loaded instead`);
    $('#config-name').value = name;
    loadConfig(kind, name);
    return;
  }
  const format = $('#config-new-format').value;
  configEdit = { kind, name, source: '', exists: false, format, checked: undefined };
  fillConfigNames();
  $('#config-source').value = CONFIG_TEMPLATES[kind][format];
  resetConfigResults();
  $('#config-delete').disabled = true;
  $('#config-history').replaceChildren();
  configStateText(
    `new ${kind === 'descriptors' ? 'descriptor' : 'provider configuration'} ${name}: write it, check, then apply`,
  );
}

async function showConfigPage() {
  await loadConfigLists();
  const kind = $('#config-kind').value;
  if (configEdit.kind !== kind || !configEdit.name) {
    const first = $('#config-name').value;
    if (first) await loadConfig(kind, first);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens, through the KNOXTOKEN API of a topology that has it
// ---------------------------------------------------------------------------------------------------------------

let tokenHosts = [];

async function loadTokenHosts() {
  const { hosts } = await getJson('tokens');
  tokenHosts = hosts;
  const select = $('#token-host');
  const current = select.value;
  select.replaceChildren(...hosts.map((h) => el('option', { value: h.topology }, h.topology)));
  if (hosts.some((h) => h.topology === current)) select.value = current;
  if (hosts.length === 0) {
    $('#token-state').textContent = 'no deployed topology has a KNOXTOKEN service';
    $('#tokens tbody').replaceChildren();
    return;
  }
  await loadTokens();
}

function tokenApi() {
  const host = tokenHosts.find((h) => h.topology === $('#token-host').value);
  return host ? new URL(`${host.api}/`, location.origin) : undefined;
}

async function tokenAction(op, id) {
  const base = tokenApi();
  const method = op === 'revoke' ? 'POST' : 'PUT';
  try {
    await call(op, { method, headers: { ...CSRF, 'content-type': 'text/plain' }, body: id }, base);
    $('#token-state').textContent = `${op}: done`;
  } catch (err) {
    $('#token-state').textContent = `${op} failed: ${err.message}`;
  }
  await loadTokens(false);
}

async function loadTokens(clear = true) {
  const base = tokenApi();
  if (!base) return;
  const host = tokenHosts.find((h) => h.topology === $('#token-host').value);
  const page = $('#token-page');
  page.replaceChildren();
  if (host?.page)
    page.append(
      "Users manage their own tokens on this topology's page: ",
      el('a', { href: host.page }, host.page),
    );
  if (clear) $('#token-state').textContent = '';
  const body = $('#tokens tbody');
  try {
    const all = $('#token-all').checked;
    const { tokens } = await call(`getUserTokens${all ? '?allTokens=true' : ''}`, {}, base);
    body.replaceChildren();
    for (const t of tokens) {
      const md = t.metadata;
      const actions = el('td', { class: 'actions' });
      const button = (op, label) => {
        const b = el('button', { type: 'button', 'data-op': op }, label);
        b.addEventListener('click', () => tokenAction(op, t.tokenId));
        actions.append(b);
      };
      button(md.enabled ? 'disable' : 'enable', md.enabled ? 'Disable' : 'Enable');
      button('revoke', 'Revoke');
      const expired = t.expirationLong > 0 && t.expirationLong < Date.now();
      body.append(
        el(
          'tr',
          { 'data-token': t.tokenId },
          el('td', { class: 'mono' }, t.tokenId),
          el('td', {}, md.userName ?? ''),
          el('td', {}, md.createdBy ?? ''),
          el('td', {}, new Date(t.issueTimeLong).toLocaleString()),
          el(
            'td',
            { class: expired ? 'bad' : '' },
            t.expirationLong < 0 ? 'never' : new Date(t.expirationLong).toLocaleString(),
          ),
          el('td', {}, md.comment ?? ''),
          el(
            'td',
            { class: md.enabled ? 'ok' : 'bad' },
            expired ? 'expired' : md.enabled ? 'enabled' : 'disabled',
          ),
          actions,
        ),
      );
    }
    if (tokens.length === 0) body.append(el('tr', {}, el('td', { colspan: '8' }, 'no tokens')));
  } catch (err) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '8', class: 'bad' }, `error: ${err.message}`)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Explain
// ---------------------------------------------------------------------------------------------------------------

async function runExplain(event) {
  event.preventDefault();
  const params = new URLSearchParams({ method: $('#explain-method').value, url: $('#explain-url').value });
  if ($('#explain-user').value) params.set('user', $('#explain-user').value);
  if ($('#explain-groups').value) params.set('groups', $('#explain-groups').value);
  const result = $('#explain-result');
  result.hidden = false;
  const facts = $('#explain-facts');
  facts.replaceChildren();
  try {
    const e = await getJson(`explain?${params}`);
    $('#explain-summary').textContent =
      `${e.outcome}${e.status ? ` (${e.status})` : ''}${e.reason ? `: ${e.reason}` : ''}`;
    const fact = (name, value) => {
      if (value) facts.append(el('dt', {}, name), el('dd', {}, value));
    };
    fact('topology', e.topology?.name);
    fact('route', e.route ? `${e.route.service} ${e.route.pattern} (${e.route.at})` : undefined);
    fact('chain', e.chain.map((s) => `${s.role}/${s.name}: ${s.effect}`).join(' → '));
    fact('backend', e.backend ? `${e.backend.method} ${e.backend.url}` : undefined);
    $('#explain-json').textContent = JSON.stringify(e, null, 2);
  } catch (err) {
    $('#explain-summary').textContent = `error: ${err.message}`;
    $('#explain-json').textContent = '';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The live feed
// ---------------------------------------------------------------------------------------------------------------

function describeEvent(e) {
  if (e.type === 'topology') {
    return `topology ${e.topology} ${e.event}${e.errors ? ` (${e.errors} error(s))` : ''}`;
  }
  if (e.type === 'backend-health') return `backend ${e.service} ${e.url} of ${e.topology} is ${e.state}`;
  return JSON.stringify(e);
}

let reloadTimer;
function showEvent(e) {
  const time = e.time ? new Date(e.time).toLocaleTimeString() : '';
  const item = el(
    'li',
    { class: 'new', 'data-type': e.type ?? '', 'data-event': e.event ?? e.state ?? '' },
    el('span', { class: 'mono' }, time),
    ' ',
    describeEvent(e),
  );
  $('#feed').prepend(item);
  // A burst of events reloads once.
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    loadStatus();
    if (currentPage() === 'routes') loadRoutes();
    if (currentPage() === 'backends') loadBackends();
    if (currentPage() === 'config') loadConfigLists();
  }, 200);
}

function feedState(text, cls, title = '') {
  const state = $('#feed-state');
  state.textContent = text;
  state.className = `badge ${cls}`;
  state.title = title || 'live feed';
}

function feedNote(text) {
  $('#feed-note').textContent = text ?? '';
  $('#feed-note').hidden = !text;
}

// Where the WebSocket cannot open, the same events are polled from ../api/v1/feed every POLL_MS.
const POLL_MS = 3000;
const RETRY_WEBSOCKET_MS = 30000;
let polling;

async function pollFeed() {
  try {
    const r = await getJson(`feed${polling.next === undefined ? '' : `?after=${polling.next}`}`);
    if (!polling) return;
    if (polling.next !== undefined) for (const e of r.events) showEvent(e);
    polling.next = r.next;
    return r;
  } catch (err) {
    feedState('feed: polling failed', 'bad', err.message);
    return undefined;
  }
}

async function startPolling() {
  if (polling) return;
  polling = { next: undefined };
  const first = await pollFeed();
  if (!polling) return;
  const disabled = first && !first.websocket.enabled;
  const why = disabled
    ? first.websocket.reason
    : 'The live feed’s WebSocket could not be opened (a proxy between the browser and the gateway may not pass WebSockets)';
  feedState('feed: polling', 'warn', why);
  feedNote(
    `${why}. The feed polls every ${POLL_MS / 1000} s instead${disabled ? '' : ' and retries the WebSocket'}.`,
  );
  polling.timer = setInterval(pollFeed, POLL_MS);
  // With WebSockets on, the WebSocket is tried again now and then; with them off it would never open.
  if (!disabled) setTimeout(connectFeed, RETRY_WEBSOCKET_MS);
}

function stopPolling() {
  if (!polling) return;
  clearInterval(polling.timer);
  polling = undefined;
  feedNote(undefined);
}

function connectFeed() {
  const url = new URL('../api/v1/events/', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    stopPolling();
    feedState('feed: live', 'ok');
  };
  ws.onmessage = (message) => {
    let e;
    try {
      e = JSON.parse(message.data);
    } catch {
      return;
    }
    if (e.accept) return;
    showEvent(e);
  };
  ws.onclose = () => {
    if (opened) {
      // It worked and dropped (a restart, a network blip): reconnect.
      feedState('feed: reconnecting', 'bad');
      setTimeout(connectFeed, 2000);
    } else if (!polling) {
      startPolling();
    } else {
      setTimeout(connectFeed, RETRY_WEBSOCKET_MS);
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------------------------

const PAGES = ['overview', 'traffic', 'backends', 'routes', 'edit', 'config', 'tokens', 'explain', 'leaks'];
const currentPage = () => {
  const page = location.hash.slice(1);
  return PAGES.includes(page) ? page : 'overview';
};

function showPage() {
  const page = currentPage();
  for (const div of document.querySelectorAll('main > .page')) div.hidden = div.dataset.page !== page;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (page === 'routes') loadRoutes();
  if (page === 'backends') loadBackends();
  if (page === 'traffic' || page === 'overview') loadTraffic();
  if (page === 'tokens') loadTokenHosts();
  if (page === 'config') showConfigPage();
  if (page === 'edit' && !editing.name && $('#edit-topology').value) loadSource($('#edit-topology').value);
}

async function loadWhoami() {
  try {
    const me = await getJson('whoami');
    $('#whoami').textContent = me.user ? `signed in as ${me.user}` : '';
  } catch {
    $('#whoami').textContent = '';
  }
}

$('#refresh').addEventListener('click', () => {
  loadStatus();
  showPage();
});
$('#route-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  routePage = 0;
  searchTimer = setTimeout(loadRoutes, 150);
});
$('#route-prev').addEventListener('click', () => {
  routePage--;
  renderRoutes();
});
$('#route-next').addEventListener('click', () => {
  routePage++;
  renderRoutes();
});
$('#explain-form').addEventListener('submit', runExplain);
$('#edit-load').addEventListener('click', () => loadSource($('#edit-topology').value));
$('#edit-topology').addEventListener('change', () => loadSource($('#edit-topology').value));
$('#edit-check').addEventListener('click', checkEdit);
$('#edit-apply').addEventListener('click', applyEdit);
$('#edit-source').addEventListener('input', () => {
  $('#edit-apply').disabled = true;
});
$('#config-kind').addEventListener('change', async () => {
  configEdit = { ...configEdit, kind: $('#config-kind').value, name: '' };
  fillConfigNames();
  await loadConfig($('#config-kind').value, $('#config-name').value);
});
$('#config-name').addEventListener('change', () =>
  loadConfig($('#config-kind').value, $('#config-name').value),
);
$('#config-check').addEventListener('click', checkConfig);
$('#config-apply').addEventListener('click', applyConfig);
$('#config-delete').addEventListener('click', askDeleteConfig);
$('#config-confirm-yes').addEventListener('click', deleteConfig);
$('#config-confirm-no').addEventListener('click', () => {
  $('#config-confirm').hidden = true;
});
$('#config-new').addEventListener('click', newConfig);
$('#config-source').addEventListener('input', () => {
  $('#config-apply').disabled = true;
});
$('#token-host').addEventListener('change', () => loadTokens());
$('#token-all').addEventListener('change', () => loadTokens());
$('#token-reload').addEventListener('click', () => loadTokens());
window.addEventListener('hashchange', showPage);

// Traffic is live: polled every 2 s while its numbers are on screen.
setInterval(() => {
  if (document.visibilityState === 'visible' && ['traffic', 'overview'].includes(currentPage()))
    loadTraffic();
}, 2000);

loadWhoami();
loadStatus().then(showPage);
connectFeed();
