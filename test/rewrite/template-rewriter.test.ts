/**
 * @module test/rewrite/template-rewriter
 * rewriteUrl end to end with rules shaped like Knox's WebHDFS and HBase service definitions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteUrl } from '../../src/rewrite/template-rewriter.ts';

const evaluate = (fn: string, args: string[]): string[] | undefined => {
  if (fn === 'serviceUrl' && args[0] === 'WEBHDFS') return ['http://nn:50070/webhdfs'];
  if (fn === 'hostmap') return args.map((h) => (h === 'internal-host' ? 'external-host' : h));
  return undefined;
};
const resolve = (name: string): string[] | undefined =>
  name === 'gateway.url' ? ['https://gw:8443/gateway/sandbox'] : undefined;

describe('rewriteUrl', () => {
  it('rewrites a WebHDFS request inbound to the service URL', () => {
    assert.equal(
      rewriteUrl(
        '/webhdfs/v1/tmp/a.txt?op=OPEN&user.name=hdfs',
        '/webhdfs/v1/{path=**}?{**}',
        '{$serviceUrl[WEBHDFS]}/v1/{path=**}?{**}',
        {
          evaluate,
        },
      ),
      'http://nn:50070/webhdfs/v1/tmp/a.txt?op=OPEN&user.name=hdfs',
    );
  });

  it('rewrites a NameNode Location header to the gateway data path, carrying host and port', () => {
    assert.equal(
      rewriteUrl(
        'http://dn.local:50075/webhdfs/v1/tmp/dir/file?op=CREATE&user.name=hdfs&overwrite=false',
        '*://{host}:{port}/webhdfs/v1/{path=**}?{**}',
        '{gateway.url}/webhdfs/data/v1/{path=**}?{host}&{port}&{**}',
        { resolve },
      ),
      'https://gw:8443/gateway/sandbox/webhdfs/data/v1/tmp/dir/file?host=dn.local&port=50075&op=CREATE&user.name=hdfs&overwrite=false',
    );
  });

  it('rewrites the data path back to the DataNode', () => {
    assert.equal(
      rewriteUrl(
        '/webhdfs/data/v1/tmp/f?host=vm.home&port=50075&user.name=hdfs&op=CREATE',
        '/webhdfs/data/v1/{path=**}?{host}&{port}&{**}',
        'http://{host}:{port}/webhdfs/v1/{path=**}?{**}',
      ),
      'http://vm.home:50075/webhdfs/v1/tmp/f?user.name=hdfs&op=CREATE',
    );
  });

  it('rewrites an outbound Location with a gateway prefix, dropping anonymous parts', () => {
    assert.equal(
      rewriteUrl(
        'https://gw:8443/gateway/sandbox/webhdfs/data/v1/tmp/f?host=dn1&port=50075&op=OPEN',
        '*://*:*/**/webhdfs/data/v1/{path=**}?host={host}&port={port}&{**}',
        'http://{host}:{port}/webhdfs/v1/{path=**}?{**}',
      ),
      'http://dn1:50075/webhdfs/v1/tmp/f?op=OPEN',
    );
  });

  it('maps a host through $hostmap', () => {
    assert.equal(
      rewriteUrl(
        'scheme://internal-host:777/path',
        '{scheme}://{host}:{port}/{path=**}?{**}',
        '{scheme}://{$hostmap(host)}:{port}/{path=**}?&{**}',
        {
          evaluate,
        },
      ),
      'scheme://external-host:777/path',
    );
  });

  it('leaves out ? when the input has no query', () => {
    assert.equal(
      rewriteUrl(
        'http://host:42/pathA/pathB',
        '{scheme}://{host}:*/{path=**}?{**}',
        '{scheme}://{host}:777/test-output/{path=**}?{**}',
      ),
      'http://host:777/test-output/pathA/pathB',
    );
  });

  it('keeps empty parameters (oozie)', () => {
    assert.equal(
      rewriteUrl(
        'https://localhost:8443/gateway/oozieui/oozie/v2/jobs?_dc=1438899557070&filter=&timezone=GMT',
        '*://*:*/**/oozie/{**}?{**}',
        'http://localhost:11000/oozie/{**}?{**}',
      ),
      'http://localhost:11000/oozie/v2/jobs?_dc=1438899557070&filter=&timezone=GMT',
    );
  });

  it('swaps path parameters and reads query values into the path', () => {
    assert.equal(rewriteUrl('path-1/path-2', '{a}/{b}', '{b}/{a}'), 'path-2/path-1');
    assert.equal(rewriteUrl('some-path?query-name=v', '{p}?query-name={q}', '{q}/{p}'), 'v/some-path');
  });

  it('returns undefined when the pattern does not match', () => {
    assert.equal(rewriteUrl('/other/x', '/webhdfs/v1/{path=**}', '/y'), undefined);
    assert.equal(rewriteUrl('/webhdfs/v1', '/webhdfs/v1/{path=**}', '/y'), undefined);
  });

  it('falls back to resolve only for names the match did not bind', () => {
    const r = (n: string) => (n === 'path' ? ['resolved'] : ['r']);
    assert.equal(rewriteUrl('/a/b', '/a/{path}', '/x/{path}/{other}', { resolve: r }), '/x/b/r');
  });
});
