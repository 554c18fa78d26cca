import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key one client address is counted under by per-IP limits: an IPv4 address as is (also when
 * IPv4-mapped, `::ffff:1.2.3.4`), an IPv6 address by its /64 network (one host usually holds a
 * whole /64, so counting single IPv6 addresses would let it rotate around the limit). Anything
 * else (a missing or unparsable address) counts as `'unknown'`.
 */
export function clientAddressKey(ip: string | undefined | null): string {
  if (typeof ip !== 'string') return 'unknown';
  const address = ip.trim().replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return 'unknown';
  const [head, tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}
