import { expect } from 'chai';
import { clientAddressResolver, rateLimitSubject } from '../../../internal/http/client-address.js';

describe('http/client address', () => {
  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const resolve = clientAddressResolver([]);
    expect(resolve('203.0.113.9', '1.2.3.4')).to.equal('203.0.113.9');
    expect(resolve('::ffff:203.0.113.9', undefined)).to.equal('203.0.113.9');
  });

  it('reads X-Forwarded-For from the right only when the peer is a trusted proxy', () => {
    const resolve = clientAddressResolver(['10.0.0.0/8']);
    expect(resolve('10.1.2.3', '198.51.100.7')).to.equal('198.51.100.7');
    // A client-written entry on the left is never believed.
    expect(resolve('10.1.2.3', '1.1.1.1, 198.51.100.7')).to.equal('198.51.100.7');
    // Trusted hops are skipped.
    expect(resolve('10.1.2.3', '198.51.100.7, 10.9.9.9')).to.equal('198.51.100.7');
    // An untrusted peer's header is ignored.
    expect(resolve('192.0.2.1', '198.51.100.7')).to.equal('192.0.2.1');
    // Garbage stops the walk at the last hop that could be trusted.
    expect(resolve('10.1.2.3', 'not-an-ip')).to.equal('10.1.2.3');
  });

  it('groups IPv6 clients by /64', () => {
    expect(rateLimitSubject('2001:db8:1:2:3:4:5:6')).to.equal('2001:db8:1:2::/64');
    expect(rateLimitSubject('2001:db8:1:2::9')).to.equal('2001:db8:1:2::/64');
    expect(rateLimitSubject('2001:db8::1')).to.equal('2001:db8:0:0::/64');
    expect(rateLimitSubject('198.51.100.7')).to.equal('198.51.100.7');
  });
});
