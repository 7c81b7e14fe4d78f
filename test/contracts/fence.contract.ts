import type { Test } from 'tap';
import type { Fence } from '../../engine/ports/fence.js';

/**
 * What a contract run needs of one {@link Fence}: the fence, a write it can
 * fence (a row in Postgres, a staged change in memory) and a read of it.
 */
export interface FenceHarness<Tx> {
  readonly fence: Fence<Tx>;
  readonly put: (tx: Tx, key: string, value: string) => Promise<void>;
  readonly get: (key: string) => Promise<string | undefined>;
}

/**
 * The one suite every {@link Fence} passes (Postgres, PGlite, in memory).
 * `make` gives a fresh, empty fence per call.
 */
export function fenceContract<Tx>(t: Test, make: (t: Test) => Promise<FenceHarness<Tx>>): void {
  t.test('a first token is stored; equal and higher tokens write; a lower one is refused', async (t) => {
    const { fence, put, get } = await make(t);
    t.equal(await fence.tokenOf('north'), 0, 'never claimed');
    t.same(await fence.run('north', 5, (tx) => put(tx, 'a', 'v5')), { ok: true, value: undefined });
    t.equal(await fence.tokenOf('north'), 5);
    t.ok((await fence.run('north', 5, (tx) => put(tx, 'b', 'v5 again'))).ok, 'the same owner writes again');
    t.ok((await fence.run('north', 9, (tx) => put(tx, 'a', 'v9'))).ok, 'a newer owner writes');
    t.equal(await fence.tokenOf('north'), 9);
    let ran = false;
    const stale = await fence.run('north', 5, async (tx) => {
      ran = true;
      await put(tx, 'a', 'stale');
      await put(tx, 'c', 'stale');
    });
    t.match(stale, { ok: false, code: 'FENCED', detail: /token 5 is below 9/ });
    t.notOk(ran, 'the refused write did not run');
    t.equal(await get('a'), 'v9', 'nothing the stale owner tried landed');
    t.equal(await get('c'), undefined);
    t.equal(await fence.tokenOf('north'), 9, 'the token stays');
  });

  t.test('claim raises the token alone; partitions are independent', async (t) => {
    const { fence, put, get } = await make(t);
    t.same(await fence.claim('north', 3), { ok: true, value: null });
    t.equal(await fence.tokenOf('north'), 3);
    t.match(await fence.claim('north', 2), { ok: false, code: 'FENCED' });
    t.ok((await fence.run('south', 1, (tx) => put(tx, 's', 'one'))).ok, 'a low token in another partition');
    t.equal(await get('s'), 'one');
    t.equal(await fence.tokenOf('south'), 1);
    t.equal(await fence.tokenOf('north'), 3);
  });

  t.test('a write that throws rolls back with the token', async (t) => {
    const { fence, put, get } = await make(t);
    await fence.claim('p', 4);
    await t.rejects(
      fence.run('p', 7, async (tx) => {
        await put(tx, 'k', 'half');
        throw new Error('boom');
      }),
      /boom/,
    );
    t.equal(await get('k'), undefined, 'the first half did not land');
    t.equal(await fence.tokenOf('p'), 4, 'the token was not raised');
  });

  t.test("a newer owner's claim waits for a write already admitted; the old owner is refused after", async (t) => {
    const { fence, put, get } = await make(t);
    await fence.claim('p', 10);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let admitted!: () => void;
    const inside = new Promise<void>((r) => (admitted = r));
    const old = fence.run('p', 10, async (tx) => {
      admitted();
      await gate;
      await put(tx, 'k', 'old, admitted before the claim');
    });
    await inside;
    let claimed = false;
    const claim = fence.claim('p', 11).then((r) => ((claimed = true), r));
    await new Promise((r) => setTimeout(r, 100));
    t.notOk(claimed, 'the claim waits for the admitted write');
    release();
    t.ok((await old).ok);
    t.ok((await claim).ok);
    t.equal(await get('k'), 'old, admitted before the claim', 'the new owner reads it after its claim');
    const late = await fence.run('p', 10, (tx) => put(tx, 'k', 'old, after the claim'));
    t.match(late, { ok: false, code: 'FENCED' });
    t.equal(await get('k'), 'old, admitted before the claim');
  });

  t.test('concurrent owners: only writes at the highest token seen so far land', async (t) => {
    const { fence, put, get } = await make(t);
    const tokens = [3, 8, 5, 8, 2, 13, 9, 13];
    const results = await Promise.all(tokens.map((tok, i) => fence.run('p', tok, (tx) => put(tx, `w${i}`, `${tok}`))));
    let max = 0;
    // Runs are serialised per partition in some order; whatever it was, a refused write never landed,
    // an admitted one did, and no admitted write has a token below one admitted before it.
    for (const [i, r] of results.entries()) {
      t.equal(await get(`w${i}`), r.ok ? `${tokens[i]}` : undefined, `write ${i} (token ${tokens[i]})`);
      if (r.ok) max = Math.max(max, tokens[i]!);
    }
    t.equal(await fence.tokenOf('p'), 13);
    t.equal(max, 13);
    t.ok(results[5]!.ok || results[7]!.ok, 'a write with the highest token lands');
  });

  t.test('tokens must be positive integers', async (t) => {
    const { fence } = await make(t);
    await t.rejects(fence.claim('p', 0), RangeError);
    await t.rejects(fence.claim('p', 1.5), RangeError);
  });
}
