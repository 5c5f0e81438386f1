/**
 * Oozie server look-alike: /oozie redirects to the console /oozie/ (absolute, Tomcat style), and the console's
 * REST calls answer /oozie/v1/jobs with consoleUrl fields carrying the server's own origin.
 */
import { type Fake, HTML, JSON_TYPE, startFake } from './fake.ts';

export const OOZIE_JOB = '0000001-231114221320000-oozie-oozi-W';

export async function startOozieFake(): Promise<Fake> {
  return startFake('oozie', {
    '/oozie': (o) => ({ status: 302, headers: { location: `${o}/oozie/` } }),
    '/oozie/': () => ({
      type: HTML,
      body: `<html>
<head>
<title>Oozie Web Console</title>
<link rel="stylesheet" type="text/css" href="ext-2.2/resources/css/ext-all.css">
<script type="text/javascript" src="oozie-console.js"></script>
</head>
<body></body>
</html>
`,
    }),
    '/oozie/v1/jobs': (o) => ({
      type: JSON_TYPE,
      body: `${JSON.stringify({
        total: 1,
        workflows: [
          {
            appName: 'wordcount-wf',
            id: OOZIE_JOB,
            status: 'SUCCEEDED',
            consoleUrl: `${o}/oozie?job=${OOZIE_JOB}`,
            user: 'alice',
          },
        ],
        len: 50,
        offset: 1,
      })}`,
    }),
  });
}
