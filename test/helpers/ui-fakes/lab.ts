/**
 * The UI lab: every UI fake on loopback and one gateway in front of them, with Knox's own definitions read in
 * place from knox-services, in the versions Knox's stock topologies get (the highest of each role; Spark History
 * 1.4.0 in a topology of its own, and DATANODE beside HDFSUI's copies of its rules in another).
 * - topology `t`: YARNUI, JOBHISTORYUI, SPARKHISTORYUI 2.3.0, SPARK3HISTORYUI, TRINOUI, PRESTOUI, OOZIEUI,
 *   HDFSUI 3.0.0, HBASEUI 2.5.10;
 * - topology `dn`: DATANODE 1.0.0; topology `shs14`: SPARKHISTORYUI 1.4.0.
 * Service URLs are written as Knox's stock topologies write them (an origin, Oozie's with its /oozie path).
 */
import type { Gateway } from '../../../src/gateway/gateway.ts';
import { makeHome, siteXml, startGateway, type TestHome, topologyXml } from '../home.ts';
import { KNOX_SERVICES } from '../knox.ts';
import type { Fake } from './fake.ts';
import { startDataNodeFake, startHBaseFake, startNameNodeFake } from './hadoop-web.ts';
import { startJobHistoryFake } from './jobhistory.ts';
import { startOozieFake } from './oozie.ts';
import { startSparkHistoryFake } from './spark-history.ts';
import { startPrestoFake, startTrinoFake } from './trino-presto.ts';
import { startNodeManagerFake, startYarnFake } from './yarn.ts';

export interface UiLab {
  gateway: Gateway;
  home: TestHome;
  /** `$frontend[url]` of topology `t` (and of `dn`, `shs14` with their names). */
  frontend(topology?: string): string;
  fakes: {
    yarn: Fake;
    nodemanager: Fake;
    jobhistory: Fake;
    sparkhistory: Fake;
    spark3history: Fake;
    trino: Fake;
    presto: Fake;
    oozie: Fake;
    namenode: Fake;
    datanode: Fake;
    hbase: Fake;
  };
  close(): Promise<void>;
}

export async function startUiLab(): Promise<UiLab> {
  const nodemanager = await startNodeManagerFake();
  const jobhistory = await startJobHistoryFake(() => nodemanager);
  const fakes: UiLab['fakes'] = {
    yarn: await startYarnFake(nodemanager, jobhistory),
    nodemanager,
    jobhistory,
    sparkhistory: await startSparkHistoryFake(),
    spark3history: await startSparkHistoryFake('spark3history'),
    trino: await startTrinoFake(),
    presto: await startPrestoFake(),
    oozie: await startOozieFake(),
    namenode: await startNameNodeFake(),
    datanode: await startDataNodeFake(),
    hbase: await startHBaseFake(),
  };
  const home = makeHome();
  home.write(
    'conf/gateway-site.xml',
    siteXml({
      'gateway.port': 0,
      'gateway.host': '127.0.0.1',
      'ssl.enabled': false,
      'postern.services.dirs': KNOX_SERVICES,
    }),
  );
  home.write(
    'conf/topologies/t.xml',
    topologyXml({
      services: [
        { role: 'YARNUI', urls: [fakes.yarn.origin] },
        { role: 'JOBHISTORYUI', urls: [fakes.jobhistory.origin] },
        { role: 'SPARKHISTORYUI', version: '2.3.0', urls: [fakes.sparkhistory.origin] },
        { role: 'SPARK3HISTORYUI', urls: [fakes.spark3history.origin] },
        { role: 'TRINOUI', urls: [fakes.trino.origin] },
        { role: 'PRESTOUI', urls: [fakes.presto.origin] },
        { role: 'OOZIEUI', urls: [`${fakes.oozie.origin}/oozie`] },
        { role: 'HDFSUI', version: '3.0.0', urls: [fakes.namenode.origin] },
        { role: 'HBASEUI', version: '2.5.10', urls: [fakes.hbase.origin] },
      ],
    }),
  );
  home.write(
    'conf/topologies/dn.xml',
    topologyXml({ services: [{ role: 'DATANODE', urls: [fakes.datanode.origin] }] }),
  );
  home.write(
    'conf/topologies/shs14.xml',
    topologyXml({
      services: [{ role: 'SPARKHISTORYUI', version: '1.4.0', urls: [fakes.sparkhistory.origin] }],
    }),
  );
  let gateway: Gateway;
  try {
    gateway = await startGateway(home);
  } catch (err) {
    await Promise.all(Object.values(fakes).map((f) => f.close()));
    home.remove();
    throw err;
  }
  return {
    gateway,
    home,
    fakes,
    frontend: (topology = 't') => `${gateway.url}/${topology}`,
    async close() {
      await gateway.close();
      await Promise.all(Object.values(fakes).map((f) => f.close()));
      home.remove();
    },
  };
}
