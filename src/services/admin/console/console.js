// postern console: plain JavaScript, no build step. It reads the admin API next to it (../api/v1/) and listens to
// the live feed (../api/v1/events/, a WebSocket relaying postern's own events). Data is only ever put into the page
// as text (textContent), never as HTML.

const api = new URL('../api/v1/', location.href);
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

async function getJson(path) {
  const response = await fetch(new URL(path, api), { credentials: 'same-origin' });
  const body = await response.json().catch(() => ({}));
  // Every error answer has one shape: {"error": {"status", "code", "message", "requestId"}}.
  if (!response.ok) throw new Error(body.error?.message || `${response.status}`);
  return body;
}

function renderTopologies(topologies) {
  const body = $('#topologies tbody');
  body.replaceChildren();
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
    body.append(
      el(
        'tr',
        { 'data-topology': t.name },
        el('td', {}, el('code', {}, t.name)),
        el('td', { class: failed ? 'bad' : 'ok' }, t.state),
        el('td', {}, t.serving ? 'yes' : 'no'),
        el('td', {}, t.deployedAt ? new Date(t.deployedAt).toLocaleString() : '—'),
        el('td', {}, t.routes),
        el(
          'td',
          {},
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

function renderHealth(status) {
  const body = $('#health tbody');
  body.replaceChildren();
  for (const h of status.health) {
    body.append(
      el(
        'tr',
        {},
        el('td', {}, h.topology),
        el('td', {}, h.service),
        el('td', {}, el('code', {}, h.url)),
        el('td', { class: h.state === 'up' ? 'ok' : 'bad' }, h.state),
      ),
    );
  }
  if (status.health.length === 0) body.append(el('tr', {}, el('td', { colspan: '4' }, 'no HA backends')));
  const c = status.connections;
  $('#connections').textContent =
    `WebSockets open: ${c.websocketsTotal} · channel subscribers: ${c.channelsTotal} · ` +
    `requests in flight: ${c.inflight}`;
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

async function loadStatus() {
  try {
    const status = await getJson('status');
    const ready = $('#ready');
    ready.textContent = status.gateway.ready ? 'ready' : 'not ready';
    ready.className = `badge ${status.gateway.ready ? 'ok' : 'bad'}`;
    renderTopologies(status.topologies);
    renderHealth(status);
    renderErrors(status.errors);
  } catch (err) {
    $('#ready').textContent = `error: ${err.message}`;
  }
}

let searchTimer;
async function loadRoutes() {
  const q = $('#route-search').value;
  const { routes } = await getJson(`routes?q=${encodeURIComponent(q)}`);
  const body = $('#routes tbody');
  body.replaceChildren();
  for (const r of routes) {
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
}

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

function describeEvent(e) {
  if (e.type === 'topology') {
    return `topology ${e.topology} ${e.event}${e.errors ? ` (${e.errors} error(s))` : ''}`;
  }
  if (e.type === 'backend-health') return `backend ${e.service} ${e.url} of ${e.topology} is ${e.state}`;
  return JSON.stringify(e);
}

let reloadTimer;
function connectFeed() {
  const url = new URL('../api/v1/events/', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  const state = $('#feed-state');
  ws.onopen = () => {
    state.textContent = 'feed: live';
    state.className = 'badge ok';
  };
  ws.onmessage = (message) => {
    let e;
    try {
      e = JSON.parse(message.data);
    } catch {
      return;
    }
    if (e.accept) return;
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
      loadRoutes();
    }, 200);
  };
  ws.onclose = () => {
    state.textContent = 'feed: reconnecting';
    state.className = 'badge bad';
    setTimeout(connectFeed, 2000);
  };
}

$('#refresh').addEventListener('click', () => {
  loadStatus();
  loadRoutes();
});
$('#route-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadRoutes, 150);
});
$('#explain-form').addEventListener('submit', runExplain);
loadStatus();
loadRoutes();
connectFeed();
