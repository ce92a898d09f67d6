// Health payloads: the dependencies common shapes say are down, redaction of credentials, and bounded size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failedDependencies, prunePayload, readHealthPayload } from '../../src/health/payload';
import { isSecretKey, redactString } from '../../src/health/redact';

test('failed dependencies from the shapes health libraries write', () => {
  // the lab's pod-server (and many hand-written handlers)
  assert.deepEqual(failedDependencies({ status: 'fail', checks: { db: { status: 'down' }, cache: { status: 'ok' } } }), ['db']);
  // Spring Boot Actuator 2+: components, nested composites, details that are not statuses
  assert.deepEqual(failedDependencies({
    status: 'DOWN',
    components: {
      db: { status: 'DOWN', details: { database: 'PostgreSQL', error: 'org.postgresql.util.PSQLException: Connection refused' } },
      diskSpace: { status: 'UP', details: { total: 1, free: 1 } },
      redis: { status: 'DOWN', components: { primary: { status: 'UP' }, replica: { status: 'OUT_OF_SERVICE' } } },
    },
  }), ['db', 'redis.replica']);
  // Spring Boot 1.x: details
  assert.deepEqual(failedDependencies({ status: 'DOWN', details: { mongo: { status: 'DOWN' } } }), ['mongo']);
  // IETF draft-inadarei-api-health-check: arrays of measurements per check
  assert.deepEqual(failedDependencies({
    status: 'fail',
    checks: { 'cassandra:responseTime': [{ componentId: 'a', status: 'pass' }, { componentId: 'b', status: 'fail' }], 'uptime': [{ status: 'pass' }] },
  }), ['cassandra:responseTime']);
  // .NET AspNetCore.HealthChecks.UI
  assert.deepEqual(failedDependencies({ status: 'Unhealthy', entries: { sql: { status: 'Unhealthy' }, blob: { status: 'Healthy' } } }), ['sql']);
  // arrays of {name, status}, booleans, plain strings
  assert.deepEqual(failedDependencies({ dependencies: [{ name: 'kafka', status: 'ERROR' }, { name: 'zk', status: 'UP' }, { service: 'vault', healthy: false }] }), ['kafka', 'vault']);
  assert.deepEqual(failedDependencies({ checks: { db: 'down', queue: 'up' } }), ['db']);
  // hellofresh/health: every entry under failures is one
  assert.deepEqual(failedDependencies({ status: 'Unavailable', failures: { rabbitmq: 'Failed during RabbitMQ health check' } }), ['rabbitmq']);
  // nothing failing, or nothing readable
  assert.deepEqual(failedDependencies({ status: 'ok', pod: 'p0' }), []);
  assert.deepEqual(failedDependencies('down'), []);
  assert.deepEqual(failedDependencies([1, 2]), []);
  assert.deepEqual(failedDependencies({ checks: { db: { status: 'warn' } } }), [], 'a warning is not a failure');
});

test('deep or huge payloads are bounded, in the reading and in what is kept', () => {
  let deep: unknown = { status: 'down' };
  for (let i = 0; i < 10_000; i++) deep = { checks: { [`d${i}`]: deep }, list: [[[[deep]]]] };
  assert.ok(failedDependencies(deep).length <= 50);
  const many = { checks: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`dep${i}`, { status: 'down', note: 'x'.repeat(2000) }])) };
  assert.equal(failedDependencies(many).length, 50);
  const kept = JSON.stringify(prunePayload(many));
  assert.ok(kept.length <= 4096 + 600, `kept ${kept.length} bytes`);
  assert.match(kept, /more keys/);
  const nested = JSON.stringify(prunePayload(deep, { maxDepth: 3 }));
  assert.ok(nested.length < 500 && /keys\}/.test(nested), nested);
});

test('credentials are redacted by key and by shape; redact: false keeps them', () => {
  const body = {
    status: 'fail',
    checks: {
      db: { status: 'down', uri: 'postgres://app:hunter2@db.prod:5432/shop', dsn: 'app:hunter2@db', error: 'password authentication failed for user "app"' },
      api: { url: 'https://svc-user:s3cr3t@api.example.com/v1', headers: { Authorization: 'Bearer abcdef0123456789xyz' } },
      mysql: { conn: 'root:toor@tcp(mysql:3306)/app', settings: 'Server=sql;Database=x;User Id=sa;Password=Pa55word!;', connectionString: 'Server=sql2;Pwd=x' },
      vault: { token: 's.ABCDEFGHIJKLMNOPQRSTUVWX', tokenCount: 3, apiKey: 12345678 },
      misc: { note: 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c seen', id: '123e4567-e89b-12d3-a456-426614174000' },
      aws: { note: 'key AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    },
  };
  const text = JSON.stringify(readHealthPayload(JSON.stringify(body)).payload);
  for (const secret of ['hunter2', 's3cr3t', 'svc-user', 'abcdef0123456789xyz', 'toor', 'Pa55word', 'ABCDEFGHIJKLMNOP', '12345678',
    'SflKxwRJSMeKKF2QT4fw', 'AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  for (const kept of ['db.prod:5432/shop', 'api.example.com/v1', 'tcp(mysql:3306)/app', '"tokenCount":3', 'password authentication failed',
    '123e4567-e89b-12d3-a456-426614174000', 'Server=sql;', '"connectionString":"[redacted]"', '"dsn":"[redacted]"']) {
    assert.ok(text.includes(kept), `${kept} lost: ${text}`);
  }
  const raw = JSON.stringify(readHealthPayload(JSON.stringify(body), { redact: false }).payload);
  assert.ok(raw.includes('hunter2') && raw.includes('Pa55word!'));
  assert.deepEqual(readHealthPayload(JSON.stringify(body)).failedDependencies, ['db']);
});

test('secret keys and string rules', () => {
  for (const k of ['password', 'dbPassword', 'DB_PASSWORD', 'api_key', 'apiKey', 'X-Auth-Token', 'clientSecret', 'dsn', 'privateKey', 'connectionString', 'Authorization']) {
    assert.ok(isSecretKey(k), k);
  }
  for (const k of ['status', 'keyspace', 'monkey', 'passes', 'url', 'host', 'tokenizer', 'tokenCount', 'secretName']) assert.ok(!isSecretKey(k), k);
  assert.equal(redactString('redis://:pw@cache:6379'), 'redis://[redacted]@cache:6379');
  assert.equal(redactString('GET /x?token=abc&x=1'), 'GET /x?token=[redacted]&x=1');
  assert.equal(redactString('plain words stay'), 'plain words stay');
});

test('a body that is not JSON is kept as text, pruned and redacted', () => {
  assert.deepEqual(readHealthPayload(''), {});
  assert.deepEqual(readHealthPayload('db down: postgres://u:p@db/x'), { payload: 'db down: postgres://[redacted]@db/x' });
  const long = readHealthPayload('x'.repeat(10_000)).payload as string;
  assert.ok(long.length <= 513);
  assert.deepEqual(readHealthPayload('{"status": "fail", "checks": {"db": {"status": "down"}}}'), {
    payload: { status: 'fail', checks: { db: { status: 'down' } } }, failedDependencies: ['db'],
  });
});
