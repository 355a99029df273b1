import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createElasticsearchClient } from '../../../../internal/search/elasticsearch/client.js';

describe('createElasticsearchClient', function () {
  let server: Server;
  let url: string;
  const seen: IncomingHttpHeaders[] = [];

  before(async function () {
    server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, {
        'content-type': 'application/json',
        'x-elastic-product': 'Elasticsearch',
      });
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(function () {
    seen.length = 0;
  });

  async function authorizationSent(config: Parameters<typeof createElasticsearchClient>[0]) {
    const client = createElasticsearchClient(config);
    try {
      await client.ping();
    } finally {
      await client.close();
    }
    return seen[0]?.authorization;
  }

  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('sends basic auth from username and password', async function () {
    expect(await authorizationSent({ url, username: 'elastic', password: 's3cr:t' })).to.equal(
      basic('elastic', 's3cr:t'),
    );
  });

  it('sends no credentials when none are configured', async function () {
    expect(await authorizationSent({ url, username: undefined, password: undefined })).to.equal(
      undefined,
    );
  });

  it('uses credentials embedded in the URL', async function () {
    const withUserInfo = url.replace('http://', 'http://reader:p%40ss@');
    expect(await authorizationSent({ url: withUserInfo })).to.equal(basic('reader', 'p@ss'));
  });

  it('prefers explicit credentials over the URL user-info', async function () {
    const withUserInfo = url.replace('http://', 'http://reader:pass@');
    expect(
      await authorizationSent({ url: withUserInfo, username: 'writer', password: 'w' }),
    ).to.equal(basic('writer', 'w'));
  });
});
