/**
 * The session store behind KNOXSESSIONID: idle expiry, the bound (least recently used go first), and sweeping
 * that stops at the first live session because the store is kept in order of last use.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionStore } from '../../../src/providers/authentication/shiro/sessions.ts';

const user = (name: string) => ({ name, groups: [] });

describe('SessionStore', () => {
  it('ends a session after the idle timeout, and a use restarts the timer', () => {
    let now = 1_000;
    const store = new SessionStore({ timeoutMs: 100, now: () => now });
    const { id } = store.create(user('alice'));
    now += 90;
    assert.equal(store.touch(id)?.user.name, 'alice');
    now += 90;
    assert.equal(store.touch(id)?.user.name, 'alice', 'the first touch restarted the timer');
    now += 101;
    assert.equal(store.touch(id), undefined);
    assert.equal(store.touch('not-an-id'), undefined);
  });

  it('drops the least recently used session when full, not a recently used one', () => {
    let now = 0;
    const store = new SessionStore({ timeoutMs: 1_000, maxSessions: 3, now: () => now });
    const a = store.create(user('a')).id;
    now++;
    const b = store.create(user('b')).id;
    now++;
    const c = store.create(user('c')).id;
    now++;
    assert.ok(store.touch(a), 'a is now the most recently used');
    store.create(user('d'));
    assert.equal(store.size, 3);
    assert.equal(store.touch(b), undefined, 'b was the least recently used');
    assert.ok(store.touch(a));
    assert.ok(store.touch(c));
  });

  it('sweeps exactly the expired sessions', () => {
    let now = 0;
    const store = new SessionStore({ timeoutMs: 100, now: () => now });
    const ids = [];
    for (let i = 0; i < 10; i++) {
      ids.push(store.create(user(`u${i}`)).id);
      now += 10;
    }
    // Sessions made at 0..90 expire at 100..190; at 145 the first five have ended.
    now = 145;
    store.sweep();
    assert.equal(store.size, 5);
    assert.equal(store.touch(ids[4]), undefined);
    assert.ok(store.touch(ids[5]));
  });
});
