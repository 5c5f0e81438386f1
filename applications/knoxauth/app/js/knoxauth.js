/*
 * postern's knoxauth login page script (written for postern; Knox's flow). Licensed under the Apache License,
 * Version 2.0.
 *
 * The page is {gateway}/{topology}/knoxauth/login.html?originalUrl=<where to go back>. Signing in sends the
 * credentials in an Authorization header (never in a URL) to {gateway}/{topology}/api/v1/websso with the same
 * originalUrl; KnoxSSO checks the credentials and the originalUrl against its allow-list, sets its cookie and
 * answers with a redirect, and the page then goes to originalUrl. A cross-site page cannot make this request:
 * it carries an Authorization header and X-XSRF-Header, which need a CORS preflight the gateway does not grant.
 */

const LOGIN_PAGE = '/knoxauth/login.html';

/** Everything after `originalUrl=` (Knox's KNOX-820: the URL may have its own unencoded query), decoded. */
function originalUrl() {
  const m = /[?&]originalUrl=([\s\S]*)/.exec(window.location.search);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** Only an http(s) URL is ever navigated to. */
function safeTarget(url) {
  if (!url) return undefined;
  let parsed;
  try {
    parsed = new URL(url, window.location.href);
  } catch {
    return undefined;
  }
  return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
}

function showError(text) {
  const box = document.getElementById('errorBox');
  box.textContent = text;
  box.hidden = false;
  document.getElementById('signIn').disabled = false;
}

async function signIn(event) {
  event.preventDefault();
  const form = document.getElementById('login');
  const username = form.username.value;
  const password = form.password.value;
  if (!username || !password) {
    showError('Enter your user name and password.');
    return;
  }
  document.getElementById('signIn').disabled = true;
  document.getElementById('errorBox').hidden = true;
  const path = window.location.pathname;
  const topology = path.slice(0, path.length - LOGIN_PAGE.length);
  const target = originalUrl();
  const query = target ? `?originalUrl=${encodeURIComponent(target)}` : '';
  const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)));
  let res;
  try {
    res = await fetch(`${topology}/api/v1/websso${query}`, {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'manual',
      cache: 'no-store',
      // X-Requested-With: a wrong password gets a 401 without a Basic challenge, so no browser dialog opens.
      headers: {
        Authorization: `Basic ${basic}`,
        'X-XSRF-Header': 'knoxauth',
        'X-Requested-With': 'XMLHttpRequest',
      },
    });
  } catch {
    form.password.value = '';
    showError('The gateway could not be reached.');
    return;
  }
  form.password.value = '';
  if (res.type === 'opaqueredirect' || res.ok) {
    const next = safeTarget(target);
    if (next) window.location.replace(next);
    else showError('Signed in, but no valid page to go back to was given.');
  } else if (res.status === 401) {
    showError('The username or password you entered is incorrect.');
  } else if (res.status === 429) {
    showError('Too many attempts. Wait a little, then try again.');
  } else {
    showError(`Sign-in failed: ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('login').addEventListener('submit', signIn);
});
