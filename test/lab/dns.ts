// A kube-dns for the lab: dnsmasq (Debian's) in lab pods, the endpoints of a kube-dns-style Service (UDP and TCP 53),
// answering the names it is given from a hosts file and NXDOMAIN for any other name under cluster.local. Faults, each
// the real thing: a server that stalls (SIGSTOP), one that answers SERVFAIL (a validating resolver in front of an
// upstream that signs nothing: every answer is bogus), a name that is gone (the record removed, the server told).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import type { Lab, ServiceOptions } from './lab';
import { once, type Undo } from './registry';

export const CLUSTER_DOMAIN = 'cluster.local';
/** kubelet's search list for a pod of namespace `ns` */
export const searchOf = (ns: string) => [`${ns}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];

export const KUBE_DNS = 'kube-system/kube-dns';

/** kube-system/kube-dns as kube-proxy programs it: a port for UDP and one for TCP, both 53, to the server pods. */
export function kubeDnsServices(pods: readonly number[]): ServiceOptions[] {
  const endpoints = pods.map((podIndex) => ({ podIndex, port: 53 }));
  return (['udp', 'tcp'] as const).map((protocol) => ({
    name: 'kube-dns', namespace: 'kube-system', portName: protocol === 'udp' ? 'dns' : 'dns-tcp', protocol, port: 53, endpoints,
  }));
}

// IANA's root KSK-2017: what a validating resolver trusts; nothing below it can be proven here
const ROOT_ANCHOR = '.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D';
const UPSTREAM = '127.0.0.2';

interface Server {
  pod: number;
  /** the server the Service's endpoint is */
  main: ChildProcess;
  /** SERVFAIL mode: the upstream the main one forwards to */
  upstream?: ChildProcess;
}

// ref'd while awaited: nothing else may hold the event loop open meanwhile
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.ref();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export class LabDns {
  private readonly servers: Server[] = [];

  private constructor(
    private readonly lab: Lab,
    private readonly hostsFile: string,
    private records: Record<string, string>,
  ) {}

  /** dnsmasq in each of `pods`, serving `records` (fully qualified name → IPv4). */
  static async start(lab: Lab, pods: readonly number[], records: Record<string, string>): Promise<LabDns> {
    const dns = new LabDns(lab, lab.stateFile('dns-hosts'), records);
    dns.writeHosts();
    try {
      for (const pod of pods) dns.servers.push({ pod, main: await dns.spawn(pod, 'serve') });
    } catch (err) {
      await dns.stop();
      throw err;
    }
    return dns;
  }

  /** The pods' servers stop answering (SIGSTOP) until undone: queries queue up unanswered. */
  stall(pods: readonly number[]): Undo {
    const stopped = this.of(pods).map((s) => s.main);
    for (const p of stopped) p.kill('SIGSTOP');
    return once(async () => {
      for (const p of stopped) p.kill('SIGCONT');
    });
  }

  /** The pods' servers answer SERVFAIL to every query until undone. */
  async servfail(pods: readonly number[]): Promise<Undo> {
    for (const s of this.of(pods)) await this.restart(s, 'servfail');
    return once(async () => {
      for (const s of this.of(pods)) await this.restart(s, 'serve');
    });
  }

  /** `name` is gone from every server (NXDOMAIN) until undone. */
  async nxdomain(name: string): Promise<Undo> {
    const address = this.records[name];
    if (address === undefined) throw new Error(`LabDns: no record for ${name}`);
    const { [name]: _, ...rest } = this.records;
    await this.setRecords(rest);
    return once(() => this.setRecords({ ...this.records, [name]: address }));
  }

  async stop(): Promise<void> {
    const all = this.servers.flatMap((s) => [s.main, ...(s.upstream ? [s.upstream] : [])]);
    for (const p of all) p.kill('SIGKILL');
    await Promise.all(all.map(exited));
    this.servers.length = 0;
    fs.rmSync(this.hostsFile, { force: true });
  }

  private of(pods: readonly number[]): Server[] {
    return pods.map((pod) => {
      const s = this.servers.find((x) => x.pod === pod);
      if (!s) throw new Error(`LabDns: no server in pod ${pod}`);
      return s;
    });
  }

  private writeHosts(): void {
    fs.writeFileSync(this.hostsFile, Object.entries(this.records).map(([name, ip]) => `${ip} ${name}\n`).join(''));
  }

  // dnsmasq reads its hosts files again on SIGHUP
  private async setRecords(records: Record<string, string>): Promise<void> {
    this.records = records;
    this.writeHosts();
    for (const s of this.servers) (s.upstream ?? s.main).kill('SIGHUP');
    // a SIGHUP is handled on dnsmasq's next loop turn: its answer to a query sent after that is the new one
    await new Promise((r) => setTimeout(r, 200));
  }

  private async restart(s: Server, mode: 'serve' | 'servfail'): Promise<void> {
    for (const p of [s.main, ...(s.upstream ? [s.upstream] : [])]) {
      p.kill('SIGCONT'); // a stalled one must run to die
      p.kill('SIGTERM');
      await exited(p);
    }
    delete s.upstream;
    if (mode === 'servfail') s.upstream = await this.spawn(s.pod, 'upstream');
    s.main = await this.spawn(s.pod, mode);
  }

  /**
   * serve: the pod's server with the records; upstream: the same on 127.0.0.2; servfail: a validating resolver on
   * the pod's address forwarding everything to that upstream, whose unsigned answers it cannot prove insecure.
   */
  private async spawn(pod: number, mode: 'serve' | 'upstream' | 'servfail'): Promise<ChildProcess> {
    const address = mode === 'upstream' ? UPSTREAM : this.lab.podIp(pod);
    const common = ['--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--group=root', '--no-resolv', '--no-hosts',
      '--log-facility=-', '--bind-interfaces', `--listen-address=${address}`, '--domain-needed'];
    const answers = [`--addn-hosts=${this.hostsFile}`, `--local=/${CLUSTER_DOMAIN}/`];
    const validating = [`--server=${UPSTREAM}`, '--dnssec', `--trust-anchor=${ROOT_ANCHOR}`, '--dnssec-check-unsigned'];
    const args = [...common, ...(mode === 'servfail' ? validating : answers)];
    // detached: its own process group, as the lab's servers; the lab's teardown kills whatever runs in its pods
    const child = spawn('ip', ['netns', 'exec', this.lab.pods[pod]!, 'dnsmasq', ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    child.unref();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // dnsmasq binds before it logs "started"; an error exits it
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dnsmasq in pod ${pod} (${mode}) did not start: ${stderr}`)), 5000);
      const check = () => {
        if (!/started, version/.test(stderr)) return;
        clearTimeout(timer);
        resolve();
      };
      child.stderr!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`dnsmasq in pod ${pod} (${mode}) exited ${code}: ${stderr}`));
      });
    });
    child.stderr!.resume();
    (child.stderr as Socket).unref();
    return child;
  }
}
