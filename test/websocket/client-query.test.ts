/**
 * An upgrade's backend URL keeps the client's query, as Knox's GatewayWebsocketHandler does (it appends the
 * request's query to every backend URL and applies no rewrite rule): a route rule whose template drops the query,
 * such as Knox's JKGWS `inboundrule`, must not drop a Jupyter client's `session_id`. End to end with a real
 * Jupyter server in test/dispatch/knox/jupyter.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withClientQuery } from '../../src/websocket/ws-dispatch.ts';

describe('withClientQuery', () => {
  it("appends the client's query when the rewrite left none", () => {
    assert.equal(
      withClientQuery('ws://h:1/api/kernels/k/channels', 'session_id=s&token=t'),
      'ws://h:1/api/kernels/k/channels?session_id=s&token=t',
    );
  });

  it("keeps the rewrite's query when it produced one (a template with ?{**}, or a fixed query)", () => {
    assert.equal(withClientQuery('ws://h:1/ws?a=1', 'session_id=s'), 'ws://h:1/ws?a=1');
    assert.equal(withClientQuery('ws://h:1/ws?', 'session_id=s'), 'ws://h:1/ws?');
  });

  it('leaves the URL alone when the client sent no query', () => {
    assert.equal(withClientQuery('ws://h:1/ws', ''), 'ws://h:1/ws');
  });
});
