/**
 * The framework's ceiling: the API's own Koa app (the same middleware chain, router, body
 * parsing, validation and representation, behind the same HTTP server settings), whose
 * create-message service answers a constant message at once: no Redis, no broker. What the
 * API reaches is read as a share of this, measured in the same run.
 */
import type { ApplicationService } from '../internal/service/applications.js';
import type { ChatService } from '../internal/service/chats.js';
import type { MessageService } from '../internal/service/messages.js';
import type { SearchService } from '../internal/service/search.js';
import { loadConfig } from '../internal/config/config.js';
import { createApp } from '../internal/http/app.js';
import { createHttpServer } from '../internal/http/http-server.js';
import { listen } from '../internal/http/server.js';
import { createLogger } from '../internal/log/logger.js';
import { createHttpMetrics, createRegistry } from '../internal/metrics/registry.js';
import { Readiness } from '../internal/ops/readiness.js';
import { openapiDocument } from '../internal/http/openapi.js';

const config = loadConfig();
const createdAt = new Date().toISOString();
const messages = {
  create: (token: string, chatNumber: number, content: string) =>
    Promise.resolve({
      replayed: false,
      view: {
        type: 'message' as const,
        application_token: token,
        chat_number: chatNumber,
        message_number: 1,
        message_content: content,
        created_at: createdAt,
        updated_at: createdAt,
      },
    }),
} as unknown as MessageService;

const app = createApp({
  logger: createLogger('koa-ceiling', 'warn'),
  metrics: createHttpMetrics(createRegistry('koa-ceiling')),
  readiness: new Readiness([]),
  services: {
    applications: {} as ApplicationService,
    chats: {} as ChatService,
    messages,
    search: {} as SearchService,
    adminToken: undefined,
  },
  openapi: openapiDocument,
  corsAllowedOrigins: config.limits.corsAllowedOrigins,
});
const handle = app.callback();
const server = createHttpServer((req, res) => void handle(req, res), config.limits.http);
const port = await listen(server, 0, '127.0.0.1');
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  server.close();
  process.exit(0);
});
