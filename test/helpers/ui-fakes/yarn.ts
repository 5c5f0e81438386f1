/**
 * YARN ResourceManager and NodeManager look-alikes, shaped like Hadoop 3's Hamlet pages: /cluster/apps with its
 * appsTableData inline script (application links, the RM proxy's tracking URLs, absolute with the RM's origin),
 * NodeManager links, /cluster/app/APP, /ws/v1/cluster/apps JSON, the RM proxy's redirect of a finished application
 * to the JobHistory server, and /cluster/apps/FINISHED, a page of about 500 KB. Pages are gzip-encoded where
 * Jetty's GzipHandler would encode them.
 */
import { type Fake, HTML, JSON_TYPE, startFake } from './fake.ts';

export const APP1 = 'application_1700000000000_0001';
export const APP2 = 'application_1700000000000_0002';
export const CONTAINER1 = 'container_1700000000000_0001_01_000001';
/** Rows in the big /cluster/apps/FINISHED page. */
export const BIG_ROWS = 2400;

export function appRow(origin: string, n: number): string {
  const app = `application_1700000000000_${String(n).padStart(4, '0')}`;
  return `["<a href='/cluster/app/${app}'>${app}</a>","alice","word count ${n}","MAPREDUCE","default","0","FINISHED","SUCCEEDED","<a href='${origin}/proxy/${app}/'>History</a>"],\n`;
}

function appsPage(nm: string, title: string, rows: string): string {
  return `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html>
  <meta http-equiv="X-UA-Compatible" content="IE=8">
  <meta http-equiv="Content-type" content="text/html; charset=UTF-8">
  <style type="text/css">
    #apps_paginate span {font-weight:normal}
    #apps .progress {width:8em}
  </style>
  <title>
    ${title}
  </title>
  <link rel="stylesheet" href="/static/jquery/themes-1.9.1/base/jquery-ui.css">
  <link rel="stylesheet" href="/static/yarn.css">
  <script type="text/javascript" src="/static/jquery/jquery-3.6.0.min.js">
  </script>
  <script type="text/javascript" src="/static/yarn.dt.plugins.js">
  </script>
  <script type="text/javascript">
    var appsTableData=[
${rows}]
  </script>
  <div id="nav">
    <h3>
      Cluster
    </h3>
    <ul>
      <li>
        <a href="/cluster/cluster">About</a>
      <li>
        <a href="/cluster/nodes">Nodes</a>
      <li>
        <a href="/cluster/apps">Applications</a>
    </ul>
    <h3>
      Tools
    </h3>
    <ul>
      <li>
        <a href="/conf">Configuration</a>
      <li>
        <a href="/logs">Local logs</a>
      <li>
        <a href="/stacks">Server stacks</a>
    </ul>
  </div>
  <table id="nodes">
    <tr>
      <td><a href='${nm}'>NodeManager</a></td>
    </tr>
  </table>
</html>
`;
}

export async function startNodeManagerFake(): Promise<Fake> {
  return startFake('nodemanager', {
    '/node': () => ({ type: HTML, body: '<html><title>NodeManager information</title></html>\n' }),
    [`/node/containerlogs/${CONTAINER1}/alice`]: () => ({
      type: HTML,
      body: `<html><pre>stdout of ${CONTAINER1}</pre></html>\n`,
    }),
  });
}

export async function startYarnFake(nm: Fake, jobHistory: Fake): Promise<Fake> {
  const proxyRedirect = () => ({
    status: 302,
    type: 'text/plain;charset=utf-8',
    headers: { location: `${jobHistory.origin}/jobhistory/job/job_1700000000000_0001` },
    body: '',
  });
  const appPage = (o: string, app: string) => ({
    type: HTML,
    body: `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html>
  <title>
    Application ${app}
  </title>
  <link rel="stylesheet" href="/static/yarn.css">
  <table class="info">
    <tr>
      <th>Tracking URL:</th>
      <td><a href="${o}/proxy/${app}/">History</a></td>
    </tr>
    <tr>
      <th>Logs:</th>
      <td><a href="${nm.origin}/node/containerlogs/${CONTAINER1}/alice">Logs</a></td>
    </tr>
    <tr>
      <th>Attempt:</th>
      <td><a href="/cluster/appattempt/appattempt_1700000000000_0001_000001">appattempt_1700000000000_0001_000001</a></td>
    </tr>
  </table>
</html>
`,
  });
  // A running application: the RM proxy serves its ApplicationMaster's page.
  const amPage = () => ({ type: HTML, body: '<html><title>MapReduce Application</title></html>\n' });
  return startFake('yarn', {
    '/cluster/apps': (o) => ({
      type: HTML,
      gzip: true,
      body: appsPage(nm.origin, 'All Applications', appRow(o, 1) + appRow(o, 2)),
    }),
    '/cluster/apps/FINISHED': (o) => {
      let rows = '';
      for (let i = 1; i <= BIG_ROWS; i++) rows += appRow(o, i);
      return { type: HTML, gzip: true, body: appsPage(nm.origin, 'FINISHED Applications', rows) };
    },
    '/cluster/cluster': () => ({ type: HTML, body: '<html><title>About the Cluster</title></html>\n' }),
    '/cluster/nodes': () => ({ type: HTML, body: '<html><title>Nodes of the cluster</title></html>\n' }),
    '/conf': () => ({ type: 'text/xml;charset=utf-8', body: '<?xml version="1.0"?><configuration/>\n' }),
    '/logs': () => ({ type: HTML, body: '<html><title>Directory: /logs/</title></html>\n' }),
    '/stacks': () => ({ type: 'text/plain;charset=utf-8', body: 'Process Thread Dump:\n' }),
    '/static/yarn.css': () => ({ type: 'text/css', body: '.ui-widget { font-size: 10pt }\n' }),
    '/static/jquery/themes-1.9.1/base/jquery-ui.css': () => ({ type: 'text/css', body: '/* jquery-ui */\n' }),
    '/static/jquery/jquery-3.6.0.min.js': () => ({ type: 'application/javascript', body: '/* jquery */\n' }),
    '/static/yarn.dt.plugins.js': () => ({ type: 'application/javascript', body: '/* dt plugins */\n' }),
    [`/cluster/app/${APP1}`]: (o) => appPage(o, APP1),
    [`/cluster/app/${APP2}`]: (o) => appPage(o, APP2),
    [`/proxy/${APP2}/`]: amPage,
    [`/proxy/${APP2}`]: amPage,
    '/cluster/appattempt/appattempt_1700000000000_0001_000001': () => ({
      type: HTML,
      body: '<html><title>Application Attempt</title></html>\n',
    }),
    [`/proxy/${APP1}/`]: proxyRedirect,
    [`/proxy/${APP1}`]: proxyRedirect,
    '/ws/v1/cluster/apps': (o) => ({
      type: JSON_TYPE,
      body: `${JSON.stringify({
        apps: {
          app: [
            {
              id: APP1,
              user: 'alice',
              name: 'word count',
              state: 'FINISHED',
              trackingUI: 'History',
              trackingUrl: `${o}/proxy/${APP1}/`,
              amContainerLogs: `${nm.origin}/node/containerlogs/${CONTAINER1}/alice`,
              amHostHttpAddress: `127.0.0.1:${nm.port}`,
            },
          ],
        },
      })}`,
    }),
  });
}
