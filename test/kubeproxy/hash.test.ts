import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  base32Sha256, endpointChain, isEndpointChain, nftEndpointRest, nftHashAndTruncate, nftServiceRest, parseNftChainName,
  portProtoHash, serviceChain,
} from '../../src/kubeproxy/hash';
import { parseServicePortName, servicePortName } from '../../src/observe/objects';

test('iptables chain names: the vectors of docs/kube-proxy.md', () => {
  assert.equal(serviceChain('KUBE-SVC-', 'default/kubernetes:https', 'tcp'), 'KUBE-SVC-NPX46M4PTMTKRN6Y');
  assert.equal(portProtoHash('kube-system/kube-dns:dns', 'udp'), 'TCOU7JCQXEZGVUNU');
  assert.equal(portProtoHash('ns1/svc1:p80', 'tcp'), 'XPGD46QRK7WJZT7O');
  assert.equal(endpointChain('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
  // the SVL/EXT/FW chains share the SVC chain's hash
  assert.equal(serviceChain('KUBE-FW-', 'ns1/svc1:p80', 'tcp'), 'KUBE-FW-XPGD46QRK7WJZT7O');
});

test('nftables chain names: the vectors of docs/kube-proxy.md and of proxier.go', () => {
  assert.equal(nftHashAndTruncate('ns1/svc1/tcp/p80'), 'ULMVA6XW-ns1/svc1/tcp/p80');
  assert.equal(nftHashAndTruncate(nftServiceRest('default/kubernetes:https', 'tcp')), '2QRHZV4L-default/kubernetes/tcp/https');
  assert.equal(nftHashAndTruncate(nftServiceRest('kube-system/kube-dns:dns', 'udp')), 'FY5PMXPG-kube-system/kube-dns/udp/dns');
  // servicePortEndpointChainNameBase's doc comment
  assert.equal(nftHashAndTruncate(nftEndpointRest('ns1/svc1:p80', 'tcp', '10.180.0.1:80')), '5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
  assert.equal(nftEndpointRest('ns/s', 'udp', '[fd00::1]:53'), 'ns/s/udp/__fd00..1/53');
  assert.match(nftHashAndTruncate('x'.repeat(300)), /^[A-Z2-7]{8}-x+\.\.\.$/);
  assert.equal(nftHashAndTruncate('x'.repeat(300)).length, 240);
});

test('base32 prefix equals a plain bit-by-bit RFC 4648 encoding', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  for (let i = 0; i < 200; i++) {
    const input = `ns${i}/svc${i * 7}:p${i % 13}tcp10.0.${i}.1:${i}`;
    const bitString = [...createHash('sha256').update(input).digest()].map((b) => b.toString(2).padStart(8, '0')).join('');
    const full = (bitString.match(/.{5}/g) ?? []).map((b) => alphabet[parseInt(b, 2)]).join('');
    assert.equal(base32Sha256(input, 16), full.slice(0, 16));
    assert.equal(base32Sha256(input, 8), full.slice(0, 8));
  }
});

test('parseNftChainName recovers the Service, protocol and endpoint, and checks the hash', () => {
  assert.deepEqual(parseNftChainName('service-ULMVA6XW-ns1/svc1/tcp/p80'), {
    kind: 'service', servicePortName: 'ns1/svc1:p80', protocol: 'tcp', verified: true,
  });
  assert.deepEqual(parseNftChainName('endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'), {
    kind: 'endpoint', servicePortName: 'ns1/svc1:p80', protocol: 'tcp', endpoint: '10.180.0.1/80', verified: true,
  });
  const unnamed = `local-${nftHashAndTruncate('ns/web/udp/')}`;
  assert.deepEqual(parseNftChainName(unnamed), { kind: 'local', servicePortName: 'ns/web', protocol: 'udp', verified: true });
  assert.equal(parseNftChainName('service-AAAAAAAA-ns1/svc1/tcp/p80')?.verified, false);
  for (const other of ['services', 'filter-forward', 'reject-chain', 'service-ips', 'KUBE-SVC-XPGD46QRK7WJZT7O', '']) {
    assert.equal(parseNftChainName(other), null, other);
  }
});

test('Service port names: kube-proxy\'s `ns/svc:port` both ways', () => {
  assert.deepEqual(parseServicePortName('ns1/svc1:p80'), { namespace: 'ns1', name: 'svc1', portName: 'p80' });
  assert.deepEqual(parseServicePortName('ns1/svc1'), { namespace: 'ns1', name: 'svc1', portName: '' });
  assert.equal(parseServicePortName('nonsense'), null);
  assert.equal(parseServicePortName('/x'), null);
  assert.equal(servicePortName({ namespace: 'ns1', name: 'svc1', portName: 'p80' }), 'ns1/svc1:p80');
  assert.equal(servicePortName({ namespace: 'ns1', name: 'svc1', portName: '' }), 'ns1/svc1');
});

test('an endpoint chain name is checked against its hash, non-ASCII names included', () => {
  assert.ok(isEndpointChain('KUBE-SEP-SXIVWICOYRO3J4NJ', 'ns1/svc1:p80', 'tcp', '10.180.0.1:80'));
  assert.ok(!isEndpointChain('KUBE-SEP-SXIVWICOYRO3J4NK', 'ns1/svc1:p80', 'tcp', '10.180.0.1:80'));
  const name = 'ns/☕:p';
  assert.ok(isEndpointChain(endpointChain(name, 'tcp', '10.0.0.1:80'), name, 'tcp', '10.0.0.1:80'));
});
