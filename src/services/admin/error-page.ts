/**
 * @module services/admin/error-page
 * The admin service's errors as a page for a browser that navigates to the console (`Accept: text/html`): a
 * non-admin stopped by the topology's authorization (403), a signed-out user (401), a console page that does
 * not exist (404). Scripts of the console and API clients (Accept without `text/html`) keep the gateway's JSON
 * error body. Every value is escaped; the page has no script and no style (its CSP allows none).
 */

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const TITLES: Record<number, string> = {
  401: 'Signed out',
  403: 'Not allowed',
  404: 'Not found',
};

const EXPLANATIONS: Record<number, string> = {
  401: 'You are not signed in to the console. Sign in again with an administrator’s account.',
  403:
    'You are signed in, but the console is for the gateway’s administrators only (the admin topology’s ' +
    'authorization refuses this user). Ask an administrator to add you to the admin group, or sign in as another user.',
};

export function adminErrorPage(
  error: { status: number; code: string; message: string; requestId: string },
  accept: string | undefined,
): string | undefined {
  if (!accept || !/\btext\/html\b/i.test(accept)) return undefined;
  const title = TITLES[error.status] ?? `Error ${error.status}`;
  const explanation = EXPLANATIONS[error.status] ?? error.message;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(`${error.status} ${title} — postern console`)}</title></head>
<body>
<h1>${error.status} ${escapeHtml(title)}</h1>
<p>${escapeHtml(explanation)}</p>
<p>Gateway message: <code>${escapeHtml(error.message)}</code></p>
<p><small>Code <code>${escapeHtml(error.code)}</code> · request id <code>${escapeHtml(error.requestId)}</code></small></p>
<p><a href="${error.status === 401 ? '../../console/' : './'}">Sign in again</a></p>
</body>
</html>
`;
}
