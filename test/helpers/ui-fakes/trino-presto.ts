/**
 * Trino (365) and Presto (0.261) coordinator web UIs: /ui/ pages whose bundled dist/*.js call the UI's REST API
 * with absolute paths (`fetch('/ui/api/…')` in Trino, `$.get('/v1/…')` in Presto).
 */
import { type Fake, HTML, JS, JSON_TYPE, startFake } from './fake.ts';

export async function startTrinoFake(): Promise<Fake> {
  return startFake('trino', {
    '/ui/login.html': () => ({
      type: HTML,
      body: `<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>Login - Trino</title>
    <link href="vendor/bootstrap/css/bootstrap.css" rel="stylesheet">
</head>
<body>
<form method="post" action="/ui/login"><input type="text" name="username"><button type="submit">Log In</button></form>
</body>
</html>
`,
    }),
    '/ui/dist/index.js': () => ({
      type: JS,
      body: `(function(){
function refresh(){fetch('/ui/api/cluster').then(function(r){return r.json();}).then(render);}
function queries(){return fetch('/ui/api/query?state=RUNNING');}
function stats(){return fetch("/ui/api/stats");}
refresh();
})();
`,
    }),
    '/ui/vendor/bootstrap/css/bootstrap.css': () => ({ type: 'text/css', body: '/* bootstrap */\n' }),
    '/ui/login': () => ({ status: 405, type: 'text/plain', body: 'POST only\n' }),
    '/ui/api/cluster': () => ({
      type: JSON_TYPE,
      body: '{"runningQueries":1,"blockedQueries":0,"queuedQueries":0,"activeWorkers":2}\n',
    }),
    '/ui/api/query': () => ({ type: JSON_TYPE, body: '[]\n' }),
    '/ui/api/stats': () => ({ type: JSON_TYPE, body: '{"uptime":"1.00h"}\n' }),
  });
}

export async function startPrestoFake(): Promise<Fake> {
  return startFake('presto', {
    '/ui/': () => ({
      type: HTML,
      body: `<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>Cluster Overview - Presto</title>
    <script type="text/javascript" src="dist/index.js"></script>
</head>
<body><div id="cluster-hud"></div></body>
</html>
`,
    }),
    '/ui/dist/index.js': () => ({
      type: JS,
      body: `(function(){
$.get('/v1/cluster', function (info) { render(info); });
$.get('/v1/query', function (queries) { list(queries); });
function kill(id){ return $.ajax({url: '/v1/query/' + id + '/killed', type: 'PUT'}); }
})();
`,
    }),
    '/v1/cluster': () => ({ type: JSON_TYPE, body: '{"runningQueries":0,"activeWorkers":2}\n' }),
    '/v1/query': () => ({ type: JSON_TYPE, body: '[]\n' }),
  });
}
