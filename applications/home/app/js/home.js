/*
 * postern's home page script (written for postern). Licensed under the Apache License, Version 2.0.
 *
 * The page is {gateway}/{topology}/home/ and reads the topology's KNOX-SESSION (who is signed in),
 * KNOX-METADATA (the gateway's version and the topologies with their services) and KNOXSSOUT (sign out), as
 * Knox's home page does. Everything shown is set as text, never as markup.
 */

const topology = window.location.pathname.replace(/\/home\/.*$/, '').replace(/\/home$/, '');
const HEADERS = {
  Accept: 'application/json',
  'X-XSRF-Header': 'homepage',
  'X-Requested-With': 'XMLHttpRequest',
};

async function getJson(path) {
  const res = await fetch(`${topology}/${path}`, {
    headers: HEADERS,
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function cell(row, text, tag = 'td') {
  const el = document.createElement(tag);
  el.textContent = text;
  row.append(el);
  return el;
}

function serviceTable(title, services) {
  const box = document.createElement('div');
  const heading = document.createElement('h4');
  heading.textContent = title;
  box.append(heading);
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const name of ['Service', 'Version', 'Description', 'URL']) cell(head, name, 'th');
  const body = table.createTBody();
  for (const service of services) {
    const row = body.insertRow();
    row.dataset.service = service.serviceName;
    cell(row, service.shortDesc || service.serviceName);
    cell(row, service.version || '');
    cell(row, service.description || '');
    const urls = cell(row, '');
    for (const url of service.serviceUrls || []) {
      const line = document.createElement('div');
      if (/^https?:\/\//.test(url)) {
        const link = document.createElement('a');
        link.href = url;
        link.textContent = url;
        line.append(link);
      } else line.textContent = url;
      urls.append(line);
    }
  }
  box.append(table);
  return box;
}

function showTopologies(list) {
  const root = document.getElementById('topologies');
  root.replaceChildren();
  for (const t of list) {
    const section = document.createElement('article');
    section.dataset.topology = t.topology;
    const name = document.createElement('h3');
    name.textContent = t.pinned ? `${t.topology} (pinned)` : t.topology;
    section.append(name);
    const ui = t.uiServices?.service ?? [];
    const api = t.apiServices?.service ?? [];
    if (ui.length > 0) section.append(serviceTable('User interfaces', ui));
    if (api.length > 0) section.append(serviceTable('APIs', api));
    root.append(section);
  }
}

function showError(text) {
  const box = document.getElementById('error');
  box.textContent = text;
  box.hidden = false;
}

async function load() {
  try {
    const session = await getJson('session/api/v1/sessioninfo');
    document.getElementById('user').textContent = `Signed in as ${session.sessioninfo?.user ?? '?'}`;
    document.getElementById('logout').hidden = false;
  } catch {
    document.getElementById('user').textContent = '';
  }
  try {
    const info = await getJson('api/v1/metadata/info');
    document.getElementById('version').textContent = info.generalProxyInfo?.version ?? '';
    document.getElementById('hostname').textContent = info.generalProxyInfo?.hostname ?? '';
    const topologies = await getJson('api/v1/metadata/topologies');
    showTopologies(topologies.topologyInformations?.topologyInformation ?? []);
  } catch (err) {
    showError(`The gateway's metadata could not be read (${err.message}).`);
  }
}

async function logout() {
  try {
    await fetch(`${topology}/knoxssout/api/v1/webssout`, {
      method: 'POST',
      headers: HEADERS,
      credentials: 'same-origin',
    });
  } finally {
    window.location.reload();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('logout').addEventListener('click', logout);
  load();
});
