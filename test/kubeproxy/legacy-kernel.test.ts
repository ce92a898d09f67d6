// iptables-legacy's tables as the addon reads them from the kernel (dumps.ts's default) against the text of
// `iptables-legacy-save -c`: the parser must get the same rules, chains, counters and problems from both,
// for kube-proxy's rules and for the rules kube-proxy never writes that a node may hold beside them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readIptablesDump, readLegacyFilter } from '../../src/kubeproxy/dumps';
import { IptablesModelBuilder } from '../../src/kubeproxy/iptables-model';
import { parseIptablesSave } from '../../src/kubeproxy/iptables-save';
import { addon } from '../../src/native';
import { nsRun } from '../lab/netns';
import { loadIptables, needsRoot, withNetns } from './netns';
import { renderIptables, type RenderService } from './render';
import { makeServices } from './services';

type Family = 'ipv4' | 'ipv6';

/** The same Services in IPv6: a.b.c.d becomes fd00::a:b:c:d (and a /n, /96+n). */
function inV6(services: RenderService[]): RenderService[] {
  const ip = (v4: string) => {
    const [addr, len] = v4.split('/');
    return `fd00::${addr!.split('.').join(':')}${len === undefined ? '' : `/${96 + Number(len)}`}`;
  };
  return services.map((s) => ({
    ...s, clusterIP: ip(s.clusterIP), externalIPs: s.externalIPs?.map(ip), loadBalancerIPs: s.loadBalancerIPs?.map(ip),
    loadBalancerSourceRanges: s.loadBalancerSourceRanges?.map(ip), endpoints: s.endpoints.map((e) => ({ ...e, ip: ip(e.ip) })),
  }));
}

async function kernelText(ns: string, family: Family, tables: string[] = []): Promise<string> {
  const slices: Buffer[] = [];
  await addon().iptablesLegacySave({ netnsPath: `/run/netns/${ns}`, family: family === 'ipv4' ? 4 : 6, tables }, (s) => slices.push(s));
  // slices end at a line's end
  assert.ok(slices.every((s) => s[s.length - 1] === 10));
  return Buffer.concat(slices).toString('utf8');
}

const toolText = async (ns: string, family: Family) =>
  (await nsRun(ns, `${family === 'ipv6' ? 'ip6tables' : 'iptables'}-legacy-save`, ['-c'])).stdout;

/** What the parser makes of a dump, in an order that does not depend on the dump's. */
function parsed(text: string) {
  const { rules, chains, summary } = parseIptablesSave(text);
  const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();
  return { rules: sorted(rules), chains: sorted(chains), problems: summary.problems, tables: [...summary.tables].sort(), count: summary.rules };
}

async function assertSame(ns: string, family: Family): Promise<ReturnType<typeof parsed>> {
  const kernel = parsed(await kernelText(ns, family));
  const tool = parsed(await toolText(ns, family));
  assert.deepEqual(kernel.tables, tool.tables);
  assert.deepEqual(kernel.chains, tool.chains);
  assert.deepEqual(kernel.problems, tool.problems);
  assert.deepEqual(kernel.rules, tool.rules);
  return kernel;
}

// Everything the parser reads, inverted where iptables allows it, plus matches and targets it only names.
const ODD_V4 = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ODD - [0:0]
:EMPTY - [0:0]
-A INPUT -i veth+ -j ODD
-A INPUT ! -i lo -s 10.0.0.0/255.0.255.0 -j EMPTY
-A OUTPUT -o lo -p udp -m udp --dport 9 -j ACCEPT
-A ODD ! -s 192.168.0.0/16 ! -d 10.1.2.3/32 -p tcp -m tcp ! --dport 80:90 --sport 1024 -j REJECT --reject-with tcp-reset
-A ODD -p udp -m udp --dport 53 -m conntrack ! --ctstate NEW,UNTRACKED,SNAT -j DROP
-A ODD -p sctp -m sctp --dport 9 -j REJECT --reject-with icmp-host-prohibited
-A ODD -m mark ! --mark 0x10/0xff -g EMPTY
-A ODD -m addrtype ! --src-type LOCAL,BROADCAST --dst-type UNICAST --limit-iface-in -j RETURN
-A ODD -m statistic --mode nth --every 3 --packet 1 -j ACCEPT
-A ODD -m statistic --mode random ! --probability 0.25 -j ACCEPT
-A ODD -m comment --comment "it's \\"quoted\\" here" -m state --state ESTABLISHED -j ACCEPT
-A ODD -m comment --comment bare-word_1 -j ACCEPT
-A ODD -p tcp -m multiport --dports 1,2,3 -j DROP
-A ODD -m length --length 100:200 -j DROP
-A ODD -m cpu --cpu 1 -j DROP
-A ODD -f -j DROP
-A ODD ! -p udp -j MARK --set-xmark 0x4000/0xffff
-A ODD -j LOG --log-prefix "odd "
-A ODD -j EMPTY
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.9.9.9-10.9.9.12:80-81 --random --persistent
-A PREROUTING -p udp -j DNAT --to-destination 10.9.9.9
-A OUTPUT -d 10.8.0.1/32 -p tcp -j DNAT --to-destination :8443
-A POSTROUTING -o eth0 -j MASQUERADE --random-fully
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j MARK --set-xmark 0x1/0x1
COMMIT
`;

const ODD_V6 = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s fd00::/64 -d fd00:1::1/128 -i eth+ -p tcp -m tcp --dport 443 -j REJECT --reject-with icmp6-port-unreachable
-A INPUT ! -s fd00:2::/48 -p tcp -m tcp --dport 53 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 53 -j REJECT --reject-with icmp6-adm-prohibited
-A INPUT -p ipv6-icmp -j ACCEPT
-A OUTPUT -o lo -p ipv6-icmp -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00::5]:8080
-A OUTPUT -d fd00::9/128 -p udp -j DNAT --to-destination fd00::6
COMMIT
`;

test('iptables-legacy from the kernel: the rules iptables-legacy-save prints, for the parser', { skip: needsRoot, timeout: 120_000 }, async (t) => {
  await t.test('kube-proxy\'s rules, IPv4 and IPv6, every shape the renderer makes', async () => {
    const services = makeServices(300, { variety: true });
    await withNetns(async (ns) => {
      await loadIptables(ns, 'legacy', renderIptables(services, { clusterCIDR: '10.0.0.0/8', kubeletMarkDrop: true }));
      await loadIptables(ns, 'legacy', renderIptables(inV6(services), { ipv6: true }), 'ipv6');
      for (const family of ['ipv4', 'ipv6'] as const) {
        const p = await assertSame(ns, family);
        assert.ok(p.count > 1000, `${family}: ${p.count} rules`);
        assert.deepEqual(p.problems, {}, family);
      }
    });
  });

  await t.test('rules kube-proxy never writes: inversions, ranges, masks, wildcards, extensions it only names', async () => {
    await withNetns(async (ns) => {
      await loadIptables(ns, 'legacy', ODD_V4);
      await loadIptables(ns, 'legacy', ODD_V6, 'ipv6');
      const v4 = await assertSame(ns, 'ipv4');
      // cpu is no match the parser knows: counted the same way from both
      assert.deepEqual(v4.problems, { unknown_match: 1 });
      await assertSame(ns, 'ipv6');
    });
  });

  await t.test('counters: packets the rules saw, in both', async () => {
    await withNetns(async (ns) => {
      await loadIptables(ns, 'legacy', ODD_V4);
      await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
      await nsRun(ns, 'bash', ['-c', 'for i in 1 2 3; do echo x > /dev/udp/127.0.0.1/9; done']);
      const kernel = parseIptablesSave(await kernelText(ns, 'ipv4', ['filter']));
      const udp = kernel.rules.find((r) => r.chain === 'OUTPUT' && r.protocol?.value === 'udp');
      assert.deepEqual([udp?.packets, udp?.bytes], [3, 3 * 30]);
      // the chain's own counters are its policy's: the port-unreachable replies, which no rule accepted
      assert.ok(kernel.chains.find((c) => c.chain === 'OUTPUT')!.packets >= 3);
      await assertSame(ns, 'ipv4');
    });
  });

  await t.test('the dump readers: the same model and drop rules either way', async () => {
    const services = makeServices(200, { variety: true });
    await withNetns(async (ns) => {
      await loadIptables(ns, 'legacy', renderIptables(services, { clusterCIDR: '10.0.0.0/8' }));
      const models = [];
      for (const legacyVia of ['kernel', 'iptables-save'] as const) {
        const builder = new IptablesModelBuilder();
        const dump = await readIptablesDump('legacy', 'ipv4', builder, { netns: ns, legacyVia });
        models.push({ dump: { ...dump, summary: { ...dump.summary, examples: {} } }, model: builder.finish(dump.summary) });
      }
      assert.deepEqual(models[0]!.dump, models[1]!.dump);
      assert.deepEqual([...models[0]!.model.services.values()], [...models[1]!.model.services.values()]);
      assert.deepEqual(models[0]!.model.drops, models[1]!.model.drops);
      const [kernel, tool] = await Promise.all((['kernel', 'iptables-save'] as const).map((legacyVia) => readLegacyFilter('ipv4', { netns: ns, legacyVia })));
      assert.ok(kernel!.drops.length > 0);
      assert.deepEqual(kernel!.drops, tool!.drops);
    });
  });

  await t.test('a netns that is not there: an error naming it, from the addon and the readers', async () => {
    await assert.rejects(addon().iptablesLegacySave({ netnsPath: '/run/netns/flapwatch-no-such-netns', family: 4, tables: [] }, () => assert.fail('no text')),
      (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && /no network namespace at \/run\/netns\/flapwatch-no-such-netns/.test(err.message));
    // and through the dump readers, which drain what came and then throw
    await assert.rejects(readLegacyFilter('ipv4', { netns: 'flapwatch-no-such-netns' }), { code: 'ENOENT' });
    await assert.rejects(readIptablesDump('legacy', 'ipv4', new IptablesModelBuilder(), { netns: 'flapwatch-no-such-netns' }), { code: 'ENOENT' });
  });
});
