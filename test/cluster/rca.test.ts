// The root-cause ranking on synthetic cascades: chains with branches (frontend → api → db → cache, api → auth,
// frontend → search → cache), a root at every level and of every kind, app-level roots answering 503 with no loss,
// two independent roots, noisy edges and stray failures; then AC@1/AC@3 over a random set as a sanity check.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rankRoots, type RcaInput } from '../../src/cluster/rca';
import { acAt } from '../../bench/rca-score';
import { cascade, SHOP, synthetic, type FaultKind } from './cascades';

const top = (input: RcaInput, n = 1) => rankRoots(input).candidates.slice(0, n).map((c) => c.service);

describe('rankRoots', () => {
  test('a listen overflow at db: db first, with its own evidence, who named it and the calls that failed to it', () => {
    const r = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'network', verdict: 'listen-overflow' }] }));
    assert.deepEqual(r.failing, ['shop/api', 'shop/db', 'shop/frontend']);
    const [db, ...rest] = r.candidates;
    assert.equal(db!.service, 'shop/db');
    assert.deepEqual(db!.terms, { own: 1, independent: 1, reach: 1, pointed: 1 });
    assert.equal(db!.score, 1);
    assert.deepEqual(db!.own, [{ verdict: 'listen-overflow', count: 10, nodes: ['node-b'] }]);
    assert.deepEqual(db!.namedBy, [{ service: 'shop/api', count: 10, verdicts: ['retransmits'] }]);
    assert.deepEqual(db!.reachedBy, ['shop/api', 'shop/frontend']);
    assert.deepEqual(db!.inbound, [{ caller: 'shop/api', attempted: 100, failed: 20, drops: {}, retransmits: 30 }]);
    // the victims: all their failures named the next one down
    assert.deepEqual(rest.map((c) => [c.service, c.terms.own, c.calls]), [['shop/api', 0, ['shop/db']], ['shop/frontend', 0, ['shop/api']]]);
    assert.ok(rest.every((c) => c.score < 0.5), JSON.stringify(rest.map((c) => c.score)));
  });

  test('the terms of a two-Service cascade, exactly', () => {
    const r = rankRoots(cascade({ calls: { api: ['db'], db: [] }, faults: [{ root: 'db', kind: 'network' }] }));
    assert.deepEqual(r.candidates.map((c) => [c.service, c.score, c.terms]), [
      ['shop/db', 1, { own: 1, independent: 1, reach: 1, pointed: 1 }],
      // db's failures are its own network evidence: they lead nowhere, so nothing reaches api
      ['shop/api', 0, { own: 0, independent: 0, reach: 0, pointed: 0 }],
    ]);
  });

  for (const kind of ['network', 'no-endpoints', 'overlay', 'app'] as FaultKind[]) {
    for (const root of Object.keys(SHOP)) {
      if (kind === 'overlay' && root === 'frontend') continue; // loss on the way to frontend has no caller to see it
      test(`${kind} fault at ${root}: ranked first, whether or not the callers' payloads name what failed them`, () => {
        for (const names of [() => true, () => false]) {
          assert.deepEqual(top(cascade({ calls: SHOP, faults: [{ root, kind }], names })), [`shop/${root}`]);
        }
      });
    }
  }

  test('an app-level root answering 503 with no loss: first, on its own failures with no network evidence, and nothing lost on its way', () => {
    const r = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'app' }] }));
    const db = r.candidates[0]!;
    assert.equal(db.service, 'shop/db');
    assert.deepEqual(db.own.map((v) => v.verdict), ['none']);
    assert.deepEqual(db.inbound, []);
    assert.deepEqual(db.callers, [{ service: 'shop/api', named: true, lost: false }]);
    // with no payload naming it, the calls alone lead to it: api answered 503 too, but api calls a failing db
    const silent = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'app' }], names: () => false }));
    assert.deepEqual(silent.candidates.map((c) => [c.service, c.terms.own, c.terms.independent]), [
      ['shop/db', 1, 1], ['shop/api', 1, 0], ['shop/frontend', 1, 0],
    ]);
    assert.ok(silent.candidates[0]!.score > silent.candidates[1]!.score + 0.2);
  });

  test('an app-level root whose payload blames the Services it calls, which pass their checks: first, its failures its own', () => {
    for (const root of ['api', 'db', 'frontend']) {
      const r = rankRoots(cascade({ calls: SHOP, faults: [{ root, kind: 'app', blames: SHOP[root] }] }));
      const first = r.candidates[0]!;
      assert.equal(first.service, `shop/${root}`, root);
      assert.deepEqual(first.names, []);
      assert.deepEqual(first.unconfirmed, SHOP[root]!.map((d) => ({ dependency: `shop/${d}`, count: 10 })));
      assert.deepEqual([first.terms.own, first.terms.independent], [1, 1]);
      assert.ok(!r.candidates.some((c) => SHOP[root]!.includes(c.service.slice('shop/'.length))), 'the blamed are no candidates');
    }
    // a leaf blaming its own caller, which fails because of it: the calls say who depends on whom
    const back = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'cache', kind: 'app', blames: ['db'] }] }));
    assert.equal(back.candidates[0]!.service, 'shop/cache');
    assert.deepEqual(back.candidates[0]!.unconfirmed, [{ dependency: 'shop/db', count: 10 }]);
    // with no calls in the window (connections kept open), the one that failed first
    const quiet = cascade({ calls: SHOP, faults: [{ root: 'cache', kind: 'app', blames: ['db'] }] });
    quiet.graph.edges = [];
    const [a, b] = rankRoots(quiet).candidates;
    assert.deepEqual([a!.score, new Set([a!.service, b!.service])], [b!.score, new Set(['shop/cache', 'shop/db'])], 'without calls or times, a tie');
    // the calls any node ever counted say it, or else the one that failed first
    const edges = cascade({ calls: SHOP, faults: [] }).graph.edges;
    assert.equal(rankRoots({ ...quiet, calledEver: edges }).candidates[0]!.service, 'shop/cache');
    quiet.firstFailing = { 'shop/cache': 1000, 'shop/db': 6000, 'shop/api': 9000, 'shop/frontend': 12_000 };
    assert.equal(rankRoots(quiet).candidates[0]!.service, 'shop/cache');
    // stray drops on the way do not confirm it; failed connects do: db is named and a candidate
    const dropped = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'api', kind: 'app', blames: ['db'] }], noise: [{ from: 'api', to: 'db', drops: 3, retransmits: 2 }] }));
    assert.equal(dropped.candidates[0]!.service, 'shop/api');
    const lossy = cascade({ calls: SHOP, faults: [{ root: 'api', kind: 'app', blames: ['db'] }], noise: [{ from: 'api', to: 'db', failed: 3 }] });
    const r = rankRoots(lossy);
    const api = r.candidates.find((c) => c.service === 'shop/api')!;
    assert.deepEqual(api.unconfirmed, []);
    assert.ok(r.candidates.some((c) => c.service === 'shop/db'));
  });

  test("bare pods of a namespace are no one workload: their calls link no Service to another", () => {
    const input = cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'app' }], names: () => false });
    const bare = { namespace: 'shop', kind: 'Pod', name: 'none' };
    input.graph.backs = input.graph.backs.map((b) => ({ ...b, workload: bare }));
    input.graph.edges = input.graph.edges.map((e) => ({ ...e, client: bare }));
    assert.deepEqual(rankRoots(input).candidates.flatMap((c) => c.calls), []);
  });

  test('a root whose own checks pass (loss on the overlay toward it): first, on its callers\' evidence', () => {
    const r = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'overlay' }], names: () => false }));
    assert.deepEqual(r.failing, ['shop/api', 'shop/frontend']);
    const db = r.candidates[0]!;
    assert.equal(db.service, 'shop/db');
    assert.equal(db.failures, 0);
    assert.equal(db.terms.own, 1);
    assert.deepEqual(db.namedBy, [{ service: 'shop/api', count: 10, verdicts: ['retransmits'] }]);
  });

  test('two independent roots on different branches: the top two', () => {
    for (const [a, b] of [['db', 'search'], ['auth', 'cache'], ['cache', 'auth']] as const) {
      const input = cascade({ calls: SHOP, faults: [{ root: a, kind: 'network' }, { root: b, kind: 'app' }] });
      assert.deepEqual(new Set(top(input, 2)), new Set([`shop/${a}`, `shop/${b}`]), `${a} and ${b}`);
    }
  });

  test('noisy edges and a stray failure do not move the root; a stray below the noise floor is listed apart', () => {
    const noise = [
      { from: 'frontend', to: 'search', drops: 3, retransmits: 5 },
      { from: 'api', to: 'auth', drops: 1, retransmits: 2 },
      { from: 'search', to: 'cache', retransmits: 4 },
    ];
    const r = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'app' }], names: () => false, noise, stray: [{ service: 'auth', verdict: 'none', count: 0.5 }] }));
    assert.equal(r.candidates[0]!.service, 'shop/db');
    assert.deepEqual(r.belowFloor, [{ service: 'shop/auth', failures: 0.5 }]);
    assert.ok(!r.candidates.some((c) => c.service === 'shop/auth'));
    // a stray above the floor is a candidate, behind the root
    const loud = rankRoots(cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'network' }], noise, stray: [{ service: 'auth', verdict: 'retransmits', count: 4 }] }));
    assert.equal(loud.candidates[0]!.service, 'shop/db');
    assert.ok(loud.candidates.some((c) => c.service === 'shop/auth'));
  });

  test('a victim with network evidence of its own as well still ranks below the root', () => {
    const input = cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'network' }], stray: [{ service: 'api', verdict: 'retransmits', count: 3 }] });
    const r = rankRoots(input);
    assert.equal(r.candidates[0]!.service, 'shop/db');
    const api = r.candidates.find((c) => c.service === 'shop/api')!;
    assert.deepEqual(api.own, [{ verdict: 'retransmits', count: 3, nodes: ['node-c'] }]);
    assert.equal(api.terms.independent, 1, 'its own network evidence cannot come from db');
  });

  test("what Prometheus's extrapolation leaves between a failure count and its namings is not a cause of its own", () => {
    const input = cascade({ calls: SHOP, faults: [{ root: 'db', kind: 'network' }] });
    // increase() of two counters that rose together, as floating point may make them
    for (const f of input.failures) if (f.service === 'shop/api') f.count = 134.31700000000004;
    for (const d of input.dependencies) if (d.service === 'shop/api') d.count = 134.317;
    const api = rankRoots(input).candidates.find((c) => c.service === 'shop/api')!;
    assert.deepEqual(api.own, []);
    assert.equal(api.terms.independent, 0);
  });

  test('calls in a cycle end; nothing failing ranks nothing', () => {
    const r = rankRoots(cascade({ calls: { a: ['b'], b: ['a'] }, faults: [{ root: 'a', kind: 'app' }] }));
    assert.deepEqual(r.failing, ['shop/a', 'shop/b']);
    assert.equal(r.candidates.length, 2);
    assert.deepEqual(rankRoots(cascade({ calls: SHOP, faults: [] })), { failing: [], belowFloor: [], candidates: [] });
  });
});

test('a sanity check over 400 random cascades: AC@1 ≥ 0.95 and AC@3 ≥ 0.99, and every kind of fault AC@1 ≥ 0.9', (t) => {
  const cases = synthetic(400, 7).map((c) => ({ ...c, ranked: rankRoots(c.input).candidates.map((x) => x.service) }));
  const ac1 = acAt(1, cases);
  const ac3 = acAt(3, cases);
  t.diagnostic(`AC@1 ${ac1.toFixed(3)}, AC@3 ${ac3.toFixed(3)}`);
  assert.ok(ac1 >= 0.95, `AC@1 ${ac1}`);
  assert.ok(ac3 >= 0.99, `AC@3 ${ac3}`);
  for (const kind of ['network', 'no-endpoints', 'overlay', 'app'] as FaultKind[]) {
    const mine = cases.filter((c) => c.kind === kind);
    assert.ok(mine.length >= 50, `${kind}: ${mine.length} cases`);
    assert.ok(acAt(1, mine) >= 0.9, `${kind}: AC@1 ${acAt(1, mine)}`);
  }
});
