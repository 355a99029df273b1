import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { closeServer, listen } from '../../../internal/http/server.js';

/** A grace so long that a test finishing inside mocha's timeout proves it was not needed. */
const NEVER = 600_000;

describe('closeServer', function () {
  this.timeout(5_000);
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) {
      s.close();
      s.closeAllConnections();
    }
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
    const server = createServer(handler);
    server.keepAliveTimeout = 65_000;
    servers.push(server);
    return listen(server, 0, '127.0.0.1');
  }

  function open(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
      socket.resume();
      sockets.push(socket);
    });
  }

  const closed = (socket: Socket) =>
    new Promise<void>((resolve) =>
      socket.destroyed ? resolve() : socket.once('close', () => resolve()),
    );

  /** Sends one keep-alive GET and resolves with the raw answer once it is complete. */
  function get(socket: Socket, path = '/'): Promise<string> {
    return new Promise((resolve) => {
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString();
        if (/\r\n\r\n[\s\S]*done$/.test(text)) {
          socket.off('data', onData);
          resolve(text);
        }
      };
      socket.on('data', onData);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  it('closes a connection that never sent a request and an idle keep-alive one at once', async () => {
    const port = await serve((_req, res) => res.end('done'));
    const server = servers[0]!;
    const silent = await open(port);
    const keptAlive = await open(port);
    expect(await get(keptAlive)).to.match(/^HTTP\/1\.1 200/);

    await closeServer(server, NEVER);

    await Promise.all([closed(silent), closed(keptAlive)]);
    expect(server.listening).to.equal(false);
  });

  it('lets a busy request finish, then closes its socket without waiting for the grace', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const port = await serve((req, res) => {
      if (req.url === '/slow') void released.then(() => res.end('done'));
      else res.end('done');
    });
    const server = servers[0]!;
    const busy = await open(port);
    const idle = await open(port);
    const requested = new Promise((resolve) => server.once('request', resolve));
    const answer = get(busy, '/slow');
    await requested;

    const closing = closeServer(server, NEVER);
    await closed(idle);
    expect(busy.destroyed).to.equal(false);
    release();

    expect(await answer).to.match(/^HTTP\/1\.1 200[\s\S]*done$/);
    await closing;
    await closed(busy);
  });

  it('settles at the grace when a request never finishes or a request never completes', async () => {
    const port = await serve(() => undefined);
    const server = servers[0]!;
    const requested = new Promise((resolve) => server.once('request', resolve));
    const stuck = await open(port);
    stuck.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
    const halfSent = await open(port);
    halfSent.write('GET / HTTP/1.1\r\nHost: te');
    await requested;

    let settled = false;
    const closing = closeServer(server, 1_500).then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled, 'busy sockets are given the grace').to.equal(false);

    await closing;
    await Promise.all([closed(stuck), closed(halfSent)]);
  });

  it('resolves at once for a server that is not listening', async () => {
    await closeServer(createServer(), NEVER);
  });
});
