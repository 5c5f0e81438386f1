/**
 * Real headless Chromium browsing look-alike UIs through the gateway with Knox's definitions (issue 20): Spark
 * History's home page, whose script asks the REST API and lists the application; a click on it follows Spark's
 * redirect to the jobs page (Location rewritten by SPARKHISTORYUI's header rule) and on into a job; then YARN's
 * application page, whose tracking link goes through the RM proxy's redirect to the JobHistory server (YARNUI's
 * header rule) and on to a task list. Every request the browser makes is recorded: all go to the gateway's origin.
 * Oozie's /oozie redirect is left out: OOZIEUI has no header rule, so it leaves the gateway as it does in Knox
 * (the leak guard's case). Screenshots: test-artifacts/ui/ (or $POSTERN_TEST_ARTIFACTS/ui/).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT } from '../../../src/gateway/gateway.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { startUiLab, type UiLab } from '../../helpers/ui-fakes/lab.ts';
import { SPARK_APP } from '../../helpers/ui-fakes/spark-history.ts';
import { APP1 } from '../../helpers/ui-fakes/yarn.ts';

const ARTIFACTS = join(process.env.POSTERN_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts'), 'ui');

describe('browsing proxied UIs in Chromium', () => {
  let lab: UiLab;
  let browser: Browser;
  let origin: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    lab = await startUiLab();
    origin = new URL(lab.gateway.url).origin;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await lab?.close();
  });

  /** A page whose every request is recorded. */
  async function recordedPage(): Promise<{ page: Page; requests: string[]; close(): Promise<void> }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    return { page, requests, close: () => context.close() };
  }

  const offOrigin = (requests: string[]) => requests.filter((u) => new URL(u).origin !== origin);

  it("Spark History: home, the API call of its script, the redirect to an application's jobs, a job", async () => {
    const { page, requests, close } = await recordedPage();
    try {
      const spark = lab.fakes.sparkhistory;
      const res = await page.goto(`${lab.frontend()}/sparkhistory/`);
      assert.equal(res?.status(), 200);
      // historypage.js (gzip-encoded by Spark) asked /api/v1/applications and drew the link.
      const link = page.locator(`#app-${SPARK_APP}`);
      await link.waitFor();
      assert.equal(await link.textContent(), 'word count');
      assert.ok(spark.requests.some((r) => r.url.startsWith('/api/v1/applications?limit=50')));
      await page.screenshot({ path: join(ARTIFACTS, '1-spark-history-home.png') });

      await link.click();
      // Wherever the redirect leads (a Location left unrewritten would lead to Spark itself), then: still here?
      await page.waitForURL((u) => u.pathname.endsWith(`/history/${SPARK_APP}/jobs/`));
      assert.deepEqual(offOrigin(requests), []);
      assert.equal(page.url(), `${lab.frontend()}/sparkhistory/history/${SPARK_APP}/jobs/`);
      assert.equal(await page.title(), 'word count - Spark Jobs');
      await page.screenshot({ path: join(ARTIFACTS, '2-spark-jobs.png') });

      await page.getByText('count at WordCount.scala:21').click();
      await page.waitForURL('**/jobs/job/?id=0');
      assert.equal(await page.title(), 'Details for Job 0');
      assert.equal(spark.requests.at(-1)?.headers['x-forwarded-context'], '/gateway/t/sparkhistory');

      // What the browser asked for: the pages, their static files, the API call and the redirect, all at the gateway.
      const paths = requests.map((u) => new URL(u).pathname);
      for (const p of [
        '/gateway/t/sparkhistory/',
        '/gateway/t/sparkhistory/static/historypage.js',
        '/gateway/t/sparkhistory/static/bootstrap.min.css',
        '/gateway/t/sparkhistory/api/v1/applications',
        `/gateway/t/sparkhistory/history/${SPARK_APP}`,
        `/gateway/t/sparkhistory/history/${SPARK_APP}/jobs/`,
        `/gateway/t/sparkhistory/history/${SPARK_APP}/jobs/job/`,
      ]) {
        assert.ok(paths.includes(p), `${p} not requested:\n${requests.join('\n')}`);
      }
      assert.deepEqual(offOrigin(requests), []);
    } finally {
      await close();
    }
  });

  it("YARN: an application's tracking link through the RM proxy's redirect to the JobHistory server, then its tasks", async () => {
    const { page, requests, close } = await recordedPage();
    try {
      const res = await page.goto(`${lab.frontend()}/yarn/cluster/app/${APP1}`);
      assert.equal(res?.status(), 200);
      await page.screenshot({ path: join(ARTIFACTS, '3-yarn-application.png') });

      await page.getByText('History', { exact: true }).click();
      await page.waitForURL((u) => u.pathname.endsWith('/jobhistory/job/job_1700000000000_0001'));
      assert.deepEqual(offOrigin(requests), []);
      assert.equal(await page.title(), 'MapReduce Job job_1700000000000_0001');
      assert.equal(lab.fakes.yarn.requests.at(-1)?.url.split('?')[0], `/proxy/${APP1}`);
      await page.screenshot({ path: join(ARTIFACTS, '4-jobhistory-job.png') });

      await page.getByText('Map tasks').click();
      await page.waitForURL('**/jobhistory/tasks/job_1700000000000_0001/m');
      assert.equal(await page.title(), 'Map Tasks');

      const paths = requests.map((u) => new URL(u).pathname);
      for (const p of [
        `/gateway/t/yarn/cluster/app/${APP1}`,
        '/gateway/t/yarn/static/yarn.css',
        `/gateway/t/yarn/proxy/${APP1}`,
        '/gateway/t/jobhistory/job/job_1700000000000_0001',
        '/gateway/t/jobhistory/static/yarn.css',
        '/gateway/t/jobhistory/tasks/job_1700000000000_0001/m',
      ]) {
        assert.ok(paths.includes(p), `${p} not requested:\n${requests.join('\n')}`);
      }
      assert.deepEqual(offOrigin(requests), []);
    } finally {
      await close();
    }
  });
});
