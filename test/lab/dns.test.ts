// The lab's kube-dns (root only): dnsmasq behind a kube-dns-style Service with two endpoints, resolved through
// glibc from a pod's namespace over UDP and TCP, and each of its faults seen by that resolver.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelSkip } from '../helpers/env';
import { KUBE_DNS, kubeDnsServices, LabDns, searchOf } from './dns';
import { Lab } from './lab';

const NAME = 'db.shop.svc.cluster.local';

test('the lab\'s kube-dns and its faults, through glibc', { skip: kernelSkip, timeout: 120_000 }, async (t) => {
  const lab = await Lab.create({
    pods: 3,
    services: kubeDnsServices([1, 2]),
    resolvConf: { service: KUBE_DNS, search: searchOf('shop') },
  });
  let dns: LabDns | undefined;
  // getent exits 2 when the name is not found, and gives up after the resolver's timeout
  const getent = async (name: string, options = 'timeout:1 attempts:1') => {
    const r = await lab.exec(lab.pods[0]!, 'env', [`RES_OPTIONS=${options}`, 'getent', 'ahosts', name]).catch((err: Error) => ({ stdout: '', error: err.message }));
    return { addresses: [...new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter(Boolean))], error: 'error' in r ? r.error : undefined };
  };
  try {
    dns = await LabDns.start(lab, [1, 2], { [NAME]: '10.96.1.1' });
    await t.test('a short name, through the search list, over UDP and over TCP, answered by both endpoints', async () => {
      for (let i = 0; i < 10; i++) assert.deepEqual((await getent('db')).addresses, ['10.96.1.1']);
      assert.deepEqual((await getent('db', 'use-vc timeout:1 attempts:1')).addresses, ['10.96.1.1']);
      const kubeDns = lab.service(KUBE_DNS);
      const conntrack = await lab.exec(lab.node, 'conntrack', ['-L', '-p', 'udp', '--orig-dst', kubeDns.clusterIP]);
      for (const pod of [1, 2]) assert.match(conntrack.stdout, new RegExp(`src=${lab.podIp(pod).replace(/\./g, '\\.')} `), `pod ${pod} answered`);
    });
    await t.test('a name it does not have: not found', async () => {
      const r = await getent('nope');
      assert.deepEqual(r.addresses, []);
      assert.ok(r.error, 'getent failed');
    });
    await t.test('nxdomain(): the name is gone until undone', async () => {
      const undo = await dns!.nxdomain(NAME);
      assert.deepEqual((await getent('db')).addresses, []);
      await undo();
      assert.deepEqual((await getent('db')).addresses, ['10.96.1.1']);
    });
    await t.test('servfail(): every answer SERVFAIL until undone', async () => {
      const undo = await dns!.servfail([1, 2]);
      const answer = await lab.exec(lab.pods[0]!, 'python3', ['-c', RCODE, lab.service(KUBE_DNS).clusterIP, NAME]);
      assert.equal(answer.stdout.trim(), '2');
      assert.deepEqual((await getent('db')).addresses, []);
      await undo();
      assert.deepEqual((await getent('db')).addresses, ['10.96.1.1']);
    });
    await t.test('stall(): no answer until undone', async () => {
      const undo = dns!.stall([1, 2]);
      const r = await getent('db');
      assert.deepEqual(r.addresses, []);
      await undo();
      assert.deepEqual((await getent('db')).addresses, ['10.96.1.1']);
    });
  } finally {
    await dns?.stop();
    await lab.destroy();
  }
});

// one A query over UDP, printing the answer's rcode: getent says only that it failed
const RCODE = `
import socket, struct, sys
q = struct.pack('>HHHHHH', 7, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in sys.argv[2].split('.')) + b'\\0' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.sendto(q, (sys.argv[1], 53))
print(s.recv(4096)[3] & 15)
`;
