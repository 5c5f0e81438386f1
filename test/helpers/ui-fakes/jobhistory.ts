/**
 * MapReduce JobHistory server look-alike (Hadoop 3 Hamlet pages): /jobhistory with its jobsTableData inline
 * script, and a job page with task links and a NodeManager link.
 */
import { type Fake, HTML, startFake } from './fake.ts';

export const JOB1 = 'job_1700000000000_0001';

export async function startJobHistoryFake(nm: () => Fake): Promise<Fake> {
  const jobsPage = () => ({
    type: HTML,
    body: `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html>
  <title>
    JobHistory
  </title>
  <link rel="stylesheet" href="/static/yarn.css">
  <script type="text/javascript" src="/static/yarn.dt.plugins.js">
  </script>
  <script type="text/javascript">
    var jobsTableData=[
["2023.11.14 22:13:20 UTC","<a href='/jobhistory/job/${JOB1}'>${JOB1}</a>","word count","alice","default","SUCCEEDED"]
]
  </script>
  <div id="nav">
    <ul>
      <li>
        <a href="/jobhistory/about">About</a>
      <li>
        <a href="/jobhistory/app">Jobs</a>
    </ul>
  </div>
</html>
`,
  });
  return startFake('jobhistory', {
    '/jobhistory': jobsPage,
    '/jobhistory/app': jobsPage,
    '/jobhistory/about': () => ({
      type: HTML,
      body: '<html><title>About the JobHistory Server</title></html>\n',
    }),
    '/static/yarn.css': () => ({ type: 'text/css', body: '.ui-widget { font-size: 10pt }\n' }),
    '/static/yarn.dt.plugins.js': () => ({ type: 'application/javascript', body: '/* dt plugins */\n' }),
    [`/jobhistory/job/${JOB1}`]: () => ({
      type: HTML,
      body: `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html>
  <title>
    MapReduce Job ${JOB1}
  </title>
  <link rel="stylesheet" href="/static/yarn.css">
  <table id="job">
    <tr>
      <td><a href="/jobhistory/tasks/${JOB1}/m">Map tasks</a></td>
      <td><a href="/jobhistory/attempts/${JOB1}/m/SUCCESSFUL">Successful attempts</a></td>
      <td><a href="${nm().origin}">NodeManager</a></td>
    </tr>
  </table>
  <script type="text/javascript">
    var attemptsLink = '/jobhistory/task/task_1700000000000_0001_m_000000';
  </script>
</html>
`,
    }),
    [`/jobhistory/tasks/${JOB1}/m`]: () => ({ type: HTML, body: '<html><title>Map Tasks</title></html>\n' }),
    [`/jobhistory/attempts/${JOB1}/m/SUCCESSFUL`]: () => ({
      type: HTML,
      body: '<html><title>Successful Map attempts</title></html>\n',
    }),
    '/jobhistory/task/task_1700000000000_0001_m_000000': () => ({
      type: HTML,
      body: '<html><title>Task</title></html>\n',
    }),
  });
}
