// postern console: the Leaks page (#leaks). Backend addresses the leak guard found in responses after the outbound
// rules (GET ../api/v1/leaks), per route and where. Plain JavaScript beside console.js; text only, never HTML.

(() => {
  const api = new URL('../api/v1/', location.href);
  const body = () => document.querySelector('#leaks tbody');

  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  async function loadLeaks() {
    const status = document.querySelector('#leaks-mode');
    const tbody = body();
    if (!tbody) return;
    let answer;
    try {
      const response = await fetch(new URL('leaks', api), { credentials: 'same-origin' });
      answer = await response.json();
      if (!response.ok) throw new Error(answer?.error?.message || String(response.status));
    } catch (err) {
      status.textContent = `could not load: ${err.message}`;
      return;
    }
    status.textContent = `postern.rewrite.leak.guard = ${answer.mode}`;
    tbody.replaceChildren();
    if (answer.leaks.length === 0) {
      const tr = document.createElement('tr');
      const td = cell('No backend address seen in a response since the gateway started.', 'muted');
      td.colSpan = 8;
      tr.append(td);
      tbody.append(tr);
      return;
    }
    for (const leak of answer.leaks) {
      const tr = document.createElement('tr');
      tr.append(
        cell(`${leak.topology} / ${leak.service}`),
        cell(leak.route),
        cell(leak.where),
        cell(leak.origin),
        cell(String(leak.count)),
        cell(leak.action),
        cell(new Date(leak.lastSeen).toLocaleString()),
        cell(leak.examplePath),
      );
      tbody.append(tr);
    }
  }

  const show = () => {
    if (location.hash === '#leaks') loadLeaks();
  };
  window.addEventListener('hashchange', show);
  document.querySelector('#refresh')?.addEventListener('click', show);
  show();
})();
