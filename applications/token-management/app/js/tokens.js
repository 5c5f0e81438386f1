/*
 * postern's token management page script (written for postern). Licensed under the Apache License, Version 2.0.
 *
 * The page is {gateway}/{topology}/token-management/ and calls the topology's KNOXTOKEN API as the signed-in user:
 * getUserTokens (their own tokens), disable / enable, and revoke. Every value is shown as text, never as markup;
 * the writes carry X-XSRF-Header, which the topology's CSRF protection asks of them.
 */

const topology = window.location.pathname.replace(/\/token-management(\/.*)?$/, '');
const API = `${topology}/knoxtoken/api/v1/token`;
const HEADERS = { 'X-XSRF-Header': 'token-management', 'X-Requested-With': 'XMLHttpRequest' };

function say(text) {
  const box = document.getElementById('message');
  box.textContent = text;
  box.hidden = !text;
}

async function call(method, op, body) {
  const res = await fetch(`${API}/${op}`, {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { ...HEADERS, Accept: 'application/json', ...(body ? { 'Content-Type': 'text/plain' } : {}) },
    body,
  });
  let json = {};
  try {
    json = await res.json();
  } catch {
    // an answer without JSON: the status says enough
  }
  if (!res.ok) throw new Error(json.error?.message ?? json.error ?? `${res.status} ${res.statusText}`);
  return json;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(td, label, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', async () => {
    try {
      await action();
      say('');
    } catch (err) {
      say(err.message);
    }
    await load();
  });
  td.append(b);
}

async function load() {
  let tokens;
  try {
    tokens = (await call('GET', 'getUserTokens')).tokens ?? [];
  } catch (err) {
    say(`Your tokens could not be listed: ${err.message}`);
    return;
  }
  const body = document.querySelector('#tokens tbody');
  body.replaceChildren();
  for (const t of tokens) {
    const row = body.insertRow();
    row.dataset.tokenId = t.tokenId;
    const enabled = t.metadata?.enabled !== false;
    row.dataset.state = enabled ? 'enabled' : 'disabled';
    cell(row, t.tokenId, 'id');
    cell(row, t.metadata?.comment ?? '');
    cell(row, t.issueTime ?? '');
    cell(row, t.expiration ?? '');
    cell(row, enabled ? 'enabled' : 'disabled');
    const actions = cell(row, '');
    button(actions, enabled ? 'Disable' : 'Enable', () =>
      call('PUT', enabled ? 'disable' : 'enable', t.tokenId),
    );
    button(actions, 'Revoke', () => call('POST', 'revoke', t.tokenId));
  }
  document.getElementById('empty').hidden = tokens.length > 0;
}

document.addEventListener('DOMContentLoaded', load);
