/**
 * Spark History Server look-alike (Spark 3): like the real one it prints its links under the prefix it is told
 * in X-Forwarded-Context (Spark's UIUtils.uiRoot), which Knox's SPARKHISTORYUI rules set to the service's gateway
 * path. The home page loads static/historypage.js, which asks /api/v1/applications and links each application;
 * /history/APP redirects (absolute, as Jetty writes it) to /history/APP/jobs/, whose page links a job.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type Fake, HTML, JS, JSON_TYPE, startFake } from './fake.ts';

export const SPARK_APP = 'application_1700000000000_0002';

export async function startSparkHistoryFake(name = 'sparkhistory'): Promise<Fake> {
  let fake: Fake;
  /** The uiRoot of the request being answered: X-Forwarded-Context, as Spark reads it. */
  const root = () => {
    const h: IncomingHttpHeaders = fake.requests.at(-1)?.headers ?? {};
    return String(h['x-forwarded-context'] ?? '');
  };
  const jobs = () => ({
    type: HTML,
    body: `<!DOCTYPE html><html><head>
<link rel="stylesheet" href="${root()}/static/bootstrap.min.css" type="text/css"/>
<script src="${root()}/static/jquery-3.5.1.min.js"></script>
<title>word count - Spark Jobs</title>
</head><body>
<ul class="nav"><li class="active"><a href="${root()}/history/${SPARK_APP}/jobs/">Jobs</a></li><li><a href="${root()}/history/${SPARK_APP}/stages/">Stages</a></li></ul>
<h3>Spark Jobs</h3>
<table id="completedJob-table"><tr><td><a href="${root()}/history/${SPARK_APP}/jobs/job/?id=0" class="name-link">count at WordCount.scala:21</a></td></tr></table>
</body></html>
`,
  });
  const redirect = () => ({
    status: 302,
    headers: { location: `${fake.origin}/history/${SPARK_APP}/jobs/` },
  });
  fake = await startFake(name, {
    '/': () => ({
      type: HTML,
      body: `<!DOCTYPE html><html><head>
<link rel="stylesheet" href="${root()}/static/bootstrap.min.css" type="text/css"/>
<script src="${root()}/static/jquery-3.5.1.min.js"></script>
<script src="${root()}/static/historypage.js"></script>
<script>setUIRoot('${root()}')</script>
<title>History Server</title>
</head><body>
<h3>Event log directory: hdfs:///spark-history</h3>
<div id="history-summary"></div>
<a href="${root()}/?showIncomplete=true">Show incomplete applications</a>
</body></html>
`,
    }),
    '/static/bootstrap.min.css': () => ({ type: 'text/css', body: '/* bootstrap */\n' }),
    '/static/jquery-3.5.1.min.js': () => ({ type: JS, body: '/* jquery */\n' }),
    '/static/historypage.js': () => ({
      type: JS,
      gzip: true,
      body: `var uiRoot = "";
function setUIRoot(root) { uiRoot = root; }
document.addEventListener("DOMContentLoaded", function () {
  fetch(uiRoot + "/api/v1/applications?limit=50").then(function (r) { return r.json(); }).then(function (apps) {
    var div = document.getElementById("history-summary");
    apps.forEach(function (app) {
      var a = document.createElement("a");
      a.href = uiRoot + "/history/" + app.id;
      a.id = "app-" + app.id;
      a.textContent = app.name;
      div.appendChild(a);
    });
  });
});
`,
    }),
    '/api/v1/applications': () => ({
      type: JSON_TYPE,
      body: `[ {
  "id" : "${SPARK_APP}",
  "name" : "word count",
  "attempts" : [ {
    "startTime" : "2023-11-14T22:13:20.000GMT",
    "completed" : true,
    "sparkUser" : "alice"
  } ]
} ]
`,
    }),
    [`/history/${SPARK_APP}`]: redirect,
    [`/history/${SPARK_APP}/`]: redirect,
    [`/history/${SPARK_APP}/jobs/`]: jobs,
    [`/history/${SPARK_APP}/jobs`]: jobs,
    [`/history/${SPARK_APP}/stages/`]: () => ({ type: HTML, body: '<html><title>Stages</title></html>\n' }),
    [`/history/${SPARK_APP}/jobs/job/`]: () => ({
      type: HTML,
      body: '<!DOCTYPE html><html><head><title>Details for Job 0</title></head><body><h3>Details for Job 0</h3></body></html>\n',
    }),
  });
  return fake;
}
