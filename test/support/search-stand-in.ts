import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SearchStandIn {
  readonly url: string;
  /** Documents accepted so far. */
  indexed(): number;
  /** While true, every request is answered 503, as an Elasticsearch outage would be. */
  down: boolean;
  stop(): Promise<void>;
}

/**
 * An Elasticsearch stand-in (none runs here) for the benchmark and the outage tests: it
 * accepts every bulk item and answers everything else with success, or 503 while `down`.
 */
export async function startSearchStandIn(): Promise<SearchStandIn> {
  let indexed = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-elastic-product', 'Elasticsearch');
      res.setHeader('content-type', 'application/json');
      if (standIn.down) {
        res.statusCode = 503;
        res.end(JSON.stringify({ error: { type: 'unavailable' }, status: 503 }));
        return;
      }
      if (req.method === 'POST' && (req.url ?? '').split('?')[0]?.endsWith('/_bulk')) {
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        const items = [];
        for (let i = 0; i < lines.length; i += 2) {
          const action = JSON.parse(lines[i] ?? '{}') as { index?: { _id?: string } };
          items.push({ index: { _id: action.index?._id ?? String(i), status: 201 } });
        }
        indexed += items.length;
        res.end(JSON.stringify({ took: 1, errors: false, items }));
        return;
      }
      res.end(JSON.stringify({ acknowledged: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const standIn: SearchStandIn = {
    url: `http://127.0.0.1:${port}`,
    indexed: () => indexed,
    down: false,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return standIn;
}
