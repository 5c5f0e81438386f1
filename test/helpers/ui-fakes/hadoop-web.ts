/**
 * HDFS NameNode and DataNode web UIs (Hadoop 3) and the HBase 2.5 Master UI.
 * - NameNode: /dfshealth.html (its real markup: bootstrap link, dfshealth.js, explorer.html, tab anchors), whose
 *   dfshealth.js reads /jmx?qry=… (JSON), as the real one does through its dust templates.
 * - DataNode: /index.html with its meta refresh to datanode.html, datanode.html loading dn.js, dn.js reading /jmx.
 * - HBase Master: /master-status with the live-servers call of 2.5's page script.
 */
import { type Fake, HTML, JS, JSON_TYPE, startFake } from './fake.ts';

export async function startNameNodeFake(): Promise<Fake> {
  return startFake('namenode', {
    '/dfshealth.html': () => ({
      type: HTML,
      body: `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="X-UA-Compatible" content="IE=9" />
<link rel="stylesheet" type="text/css" href="/static/bootstrap-3.4.1/css/bootstrap.min.css" />
<link rel="stylesheet" type="text/css" href="/static/hadoop.css" />
<title>Namenode information</title>
</head>
<body>
<header class="navbar navbar-inverse bs-docs-nav" role="banner">
<div class="container">
  <ul class="nav navbar-nav" id="ui-tabs">
    <li><a href="#tab-overview">Overview</a></li>
    <li><a href="#tab-datanode">Datanodes</a></li>
    <li class="dropdown">
      <ul class="dropdown-menu">
        <li><a href="explorer.html">Browse the file system</a></li>
        <li><a href="logs">Logs</a></li>
      </ul>
    </li>
  </ul>
</div>
</header>
<div class="container">
<div id="tab-overview"></div>
</div>
<script type="text/javascript" src="/static/jquery-3.6.0.min.js"></script>
<script type="text/javascript" src="/static/dust-full-2.0.0.min.js"></script>
<script type="text/javascript" src="dfshealth.js"></script>
</body>
</html>
`,
    }),
    '/dfshealth.js': () => ({
      type: JS,
      body: `(function () {
  "use strict";
  var BEANS = [
    {"name": "nn",      "url": "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"},
    {"name": "nnstat",  "url": "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus"}
  ];
  function load_overview() {
    $.get('/startupProgress', function (resp) { render(resp); });
  }
})();
`,
    }),
    '/jmx': () => ({
      type: JSON_TYPE,
      body: '{\n  "beans" : [ {\n    "name" : "Hadoop:service=NameNode,name=NameNodeInfo",\n    "Version" : "3.3.6"\n  } ]\n}\n',
    }),
    '/static/bootstrap-3.4.1/css/bootstrap.min.css': () => ({ type: 'text/css', body: '/* bootstrap */\n' }),
    '/static/jquery-3.6.0.min.js': () => ({ type: JS, body: '/* jquery */\n' }),
    '/static/dust-full-2.0.0.min.js': () => ({ type: JS, body: '/* dust */\n' }),
    '/logs/': () => ({ type: HTML, body: '<html><title>Directory: /logs/</title></html>\n' }),
    '/startupProgress': () => ({ type: JSON_TYPE, body: '{"elapsedTime":1000,"percentComplete":1.0}' }),
    '/static/hadoop.css': () => ({ type: 'text/css', body: 'body { padding-top: 50px; }\n' }),
    '/explorer.html': () => ({ type: HTML, body: '<html><title>Browsing HDFS</title></html>\n' }),
  });
}

export async function startDataNodeFake(): Promise<Fake> {
  return startFake('datanode', {
    '/': () => ({
      type: HTML,
      body: `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="REFRESH" content="0;url=datanode.html"/>
<title>Hadoop Administration</title>
</head>
</html>
`,
    }),
    '/datanode.html': () => ({
      type: HTML,
      body: `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<title>DataNode Information</title>
</head>
<body>
<div id="tab-overview"></div>
<script type="text/javascript" src="/dn.js"></script>
</body>
</html>
`,
    }),
    '/dn.js': () => ({
      type: JS,
      body: `(function () {
  "use strict";
  $.get('/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo', function (resp) { render(resp); });
})();
`,
    }),
    '/jmx': () => ({
      type: JSON_TYPE,
      body: '{"beans":[{"name":"Hadoop:service=DataNode,name=DataNodeInfo"}]}\n',
    }),
  });
}

export async function startHBaseFake(): Promise<Fake> {
  return startFake('hbase', {
    '/master-status': () => ({
      type: HTML,
      body: `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Master: 127.0.0.1</title>
    <link href="/static/css/bootstrap.min.css" rel="stylesheet">
    <link href="/static/css/hbase.css" rel="stylesheet">
  </head>
  <body>
    <div class="navbar-collapse">
      <ul class="nav navbar-nav">
        <li class="active"><a href="/master-status">Home</a></li>
        <li><a href="/tablesDetailed.jsp">Table Details</a></li>
        <li><a href="/procedures.jsp">Procedures</a></li>
        <li><a href="/logs/">Local Logs</a></li>
      </ul>
    </div>
    <script type="text/javascript">
      $(document).ready(function() {
        $.ajax({url: '/api/v1/admin/cluster_metrics/live_servers', dataType: 'json'});
      });
    </script>
  </body>
</html>
`,
    }),
    '/api/v1/admin/cluster_metrics/live_servers': () => ({ type: JSON_TYPE, body: '{"data":[]}\n' }),
    '/static/css/bootstrap.min.css': () => ({ type: 'text/css', body: '/* bootstrap */\n' }),
    '/tablesDetailed.jsp': () => ({ type: HTML, body: '<html><title>User Tables</title></html>\n' }),
    '/procedures.jsp': () => ({ type: HTML, body: '<html><title>Procedures</title></html>\n' }),
    '/logs/': () => ({ type: HTML, body: '<html><title>Directory: /logs/</title></html>\n' }),
    '/static/css/hbase.css': () => ({ type: 'text/css', body: '/* hbase */\n' }),
  });
}
