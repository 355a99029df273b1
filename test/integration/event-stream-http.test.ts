import { expect } from 'chai';
import { startInProcessApi, type InProcessApi } from '../support/in-process-api.js';
import { SseClient } from '../e2e/support/sse.js';
import { until } from '../support/until.js';
import { KeySpace } from '../../internal/redis/keys.js';
import { RedisLiveLog } from '../../internal/redis/live.js';
import { testRedis } from '../support/redis.js';

type Json = Record<string, unknown>;

/** The event stream over real HTTP: headers, the per-process cap, and a clean end on stop. */
describe('http: event streams (in-process API, real Redis and RabbitMQ)', function () {
  this.timeout(60_000);
  let api: InProcessApi;
  let stopped = false;

  before(async () => {
    api = await startInProcessApi({ LIVE_MAX_STREAMS: '2', LIVE_HEARTBEAT_MS: '200' });
  });
  after(async () => {
    if (!stopped) await api.stop();
  });

  const post = async (path: string, body: unknown) =>
    (await (
      await fetch(`${api.base}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as Json;

  it('streams unbuffered with heartbeats, refuses streams beyond the cap with a JSON 503, and ends streams cleanly on stop', async () => {
    const token = (await post('/api/applications', { application_name: 'sse' }))[
      'application_token'
    ] as string;
    await post(`/api/applications/${token}/chats`, {});
    const url = `${api.base}/api/applications/${token}/chats/1/events`;

    const head = await fetch(url);
    expect(head.status).to.equal(200);
    expect(head.headers.get('content-type')).to.equal('text/event-stream; charset=utf-8');
    expect(head.headers.get('x-accel-buffering')).to.equal('no');
    expect(head.headers.get('cache-control')).to.equal('no-store');
    expect(head.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(head.headers.get('x-request-id')).to.be.a('string');
    const second = await SseClient.open(url);
    await until(() => second.comments >= 2);

    const refused = await fetch(url);
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.be.a('string');
    expect(((await refused.json()) as { error: { code: string } }).error.code).to.equal(
      'service_unavailable',
    );

    await head.body?.cancel();
    // Closing one gives its place back.
    await until(async () => {
      const res = await fetch(url);
      await res.body?.cancel();
      return res.status === 200;
    });

    const stopping = api.stop();
    stopped = true;
    await until(() => second.ended);
    await stopping;
  });

  it('keeps a stream open past every edge timeout of the HTTP server', async () => {
    const short = await startInProcessApi({
      HTTP_HEADERS_TIMEOUT_MS: '300',
      HTTP_REQUEST_TIMEOUT_MS: '400',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '300',
      HTTP_SOCKET_TIMEOUT_MS: '500',
      LIVE_HEARTBEAT_MS: '60000',
    });
    try {
      const token = (
        (await (
          await fetch(`${short.base}/api/applications`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ application_name: 'long' }),
          })
        ).json()) as Json
      )['application_token'] as string;
      await fetch(`${short.base}/api/applications/${token}/chats`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      const stream = await SseClient.open(`${short.base}/api/applications/${token}/chats/1/events`);
      await until(() => stream.retries.length === 1);
      // Silent (no heartbeat within the wait) for several times every timeout above.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(stream.ended).to.equal(false);
      // Still delivering: an event appended to the chat's log now reaches it (no consumer
      // runs here, so the test appends it itself).
      const redis = await testRedis('event-stream-test');
      await new RedisLiveLog(redis, new KeySpace(short.config.redis.keyPrefix), {
        minEvents: 10,
        minAgeMs: 60_000,
      }).append(token, 1, { type: 'chat.updated', data: { chat_number: 1 } });
      await redis.quit();
      await until(() => stream.of('chat.updated').length === 1);
      stream.close();
    } finally {
      await short.stop();
    }
  });
});
