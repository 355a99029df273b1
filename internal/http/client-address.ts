import { BlockList, isIP } from 'node:net';

/** `::ffff:10.0.0.1` is the IPv4 peer 10.0.0.1 on a dual-stack socket. */
function normalize(address: string): string {
  const trimmed = address.trim();
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(trimmed) ? trimmed.slice(7) : trimmed;
}

function trustList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits] = cidr.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/**
 * The client's address: the TCP peer, unless the peer is a trusted proxy (TRUSTED_PROXIES,
 * the ingress controller's range). Then X-Forwarded-For is read from the right, skipping
 * trusted hops: the first untrusted hop is the client. Entries a client wrote itself sit to
 * the left of it and are never believed.
 */
export function clientAddressResolver(
  trustedProxies: readonly string[],
): (peer: string | undefined, forwardedFor: string | undefined) => string {
  const trusted = trustList(trustedProxies);
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (peer, forwardedFor) => {
    let client = normalize(peer ?? 'unknown');
    if (trustedProxies.length === 0 || !isTrusted(client) || !forwardedFor) return client;
    const hops = forwardedFor.split(',').map(normalize).reverse();
    for (const hop of hops) {
      if (isIP(hop) === 0) return client; // garbage: the last hop we could trust sent it
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  };
}

/** IPv6 clients usually own a whole /64: limiting single addresses there limits nothing. */
export function rateLimitSubject(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
