import Router, { type RouterContext } from '@koa/router';
import {
  APPLICATION_KEY_MIN_LENGTH,
  parseApplicationInput,
  parseChatInput,
  parseIdempotencyKey,
  parseListQuery,
  parseMessageInput,
  parseNumberCursor,
  parseNumberParam,
  parseSearchRequest,
} from '../../domain/validation.js';
import type { ApplicationService } from '../../service/applications.js';
import type { ChatService } from '../../service/chats.js';
import type { MessageService } from '../../service/messages.js';
import type { SearchService } from '../../service/search.js';
import type { Page } from '../../domain/model.js';
import { NotFoundError } from '../../domain/errors.js';
import { bodyOf } from '../middleware/json-body.js';
import { requireAdmin } from '../middleware/admin.js';
import { setNextLink } from '../pagination.js';
import type { StreamHub } from '../../live/hub.js';
import { streamEvents } from './events.js';

export interface ApiServices {
  readonly applications: ApplicationService;
  readonly chats: ChatService;
  readonly messages: MessageService;
  readonly search: SearchService;
  readonly adminToken: string | undefined;
  /** Told of every 201, replayed or not (metrics). */
  readonly onCreated?: (type: 'application' | 'chat' | 'message', replayed: boolean) => void;
  /** Event streams per chat; absent: the route answers 404. */
  readonly hub?: StreamHub;
  /** Told of every 204 of a DELETE (metrics). */
  readonly onDeleted?: (type: 'application' | 'chat' | 'message') => void;
}

const LIST = { defaultLimit: 50, maxLimit: 100 };

const param = (ctx: RouterContext, name: string): string => String(ctx.params[name]);
const chatNumber = (ctx: RouterContext) => parseNumberParam(param(ctx, 'chat'), 'chat number');
const messageNumber = (ctx: RouterContext) =>
  parseNumberParam(param(ctx, 'message'), 'message number');
/** Absent is no key; present but empty is a bad key (400), never silently no key. */
const rawIdempotencyKey = (ctx: RouterContext): string | undefined => {
  const value = ctx.request.headers['idempotency-key'];
  return value === undefined ? undefined : String(value);
};
const idempotencyKey = (ctx: RouterContext) => parseIdempotencyKey(rawIdempotencyKey(ctx));

function answerCreated(
  ctx: RouterContext,
  result: { view: unknown; replayed: boolean },
  type: 'application' | 'chat' | 'message',
  services: ApiServices,
): void {
  services.onCreated?.(type, result.replayed);
  ctx.status = 201;
  ctx.body = result.view;
  if (result.replayed) ctx.set('Idempotent-Replayed', 'true');
}

function answerDeleted(
  ctx: RouterContext,
  type: 'application' | 'chat' | 'message',
  services: ApiServices,
): void {
  services.onDeleted?.(type);
  ctx.status = 204;
}

function answerPage<T>(ctx: RouterContext, page: Page<T>): void {
  ctx.body = page.items;
  setNextLink(ctx, page.next === null ? null : { after: page.next });
}

/** Thin routes: parse, call a service, answer. Every rule lives in domain or services. */
export function apiRouter(s: ApiServices): Router {
  const router = new Router({ prefix: '/api' });

  router.post('/applications', async (ctx) => {
    const { name } = parseApplicationInput(bodyOf(ctx));
    const key = parseIdempotencyKey(rawIdempotencyKey(ctx), {
      minLength: APPLICATION_KEY_MIN_LENGTH,
    });
    answerCreated(ctx, await s.applications.create(name, key), 'application', s);
  });
  router.get('/applications', requireAdmin(s.adminToken), async (ctx) => {
    const { limit, after } = parseListQuery(ctx.query, LIST);
    answerPage(ctx, await s.applications.list(limit, after));
  });
  router.get('/applications/:token', async (ctx) => {
    ctx.body = await s.applications.get(param(ctx, 'token'));
  });
  const renameApplication = async (ctx: RouterContext) => {
    const { name } = parseApplicationInput(bodyOf(ctx));
    ctx.body = await s.applications.rename(param(ctx, 'token'), name);
  };
  router.put('/applications/:token', renameApplication);
  router.patch('/applications/:token', renameApplication);
  router.delete('/applications/:token', async (ctx) => {
    await s.applications.delete(param(ctx, 'token'));
    answerDeleted(ctx, 'application', s);
  });

  router.post('/applications/:token/chats', async (ctx) => {
    const { name } = parseChatInput(bodyOf(ctx), { required: false });
    answerCreated(
      ctx,
      await s.chats.create(param(ctx, 'token'), name, idempotencyKey(ctx)),
      'chat',
      s,
    );
  });
  router.get('/applications/:token/chats', async (ctx) => {
    const { limit, after } = parseListQuery(ctx.query, LIST);
    answerPage(ctx, await s.chats.list(param(ctx, 'token'), limit, parseNumberCursor(after)));
  });
  router.get('/applications/:token/chats/:chat', async (ctx) => {
    ctx.body = await s.chats.get(param(ctx, 'token'), chatNumber(ctx));
  });
  const renameChat = async (ctx: RouterContext) => {
    const number = chatNumber(ctx);
    const { name } = parseChatInput(bodyOf(ctx), { required: true });
    ctx.body = await s.chats.rename(param(ctx, 'token'), number, name);
  };
  router.put('/applications/:token/chats/:chat', renameChat);
  router.patch('/applications/:token/chats/:chat', renameChat);
  router.delete('/applications/:token/chats/:chat', async (ctx) => {
    await s.chats.delete(param(ctx, 'token'), chatNumber(ctx));
    answerDeleted(ctx, 'chat', s);
  });

  const createMessage = async (ctx: RouterContext) => {
    const number = chatNumber(ctx);
    const { content } = parseMessageInput(bodyOf(ctx));
    const key = idempotencyKey(ctx);
    answerCreated(
      ctx,
      await s.messages.create(param(ctx, 'token'), number, content, key),
      'message',
      s,
    );
  };
  router.post('/applications/:token/chats/:chat/messages', createMessage);
  // The original README documents message creation on the chat's own path.
  router.post('/applications/:token/chats/:chat', createMessage);
  router.get('/applications/:token/chats/:chat/messages', async (ctx) => {
    const number = chatNumber(ctx);
    const { limit, after } = parseListQuery(ctx.query, LIST);
    const page = await s.messages.list(
      param(ctx, 'token'),
      number,
      limit,
      parseNumberCursor(after),
    );
    answerPage(ctx, page);
  });
  router.get('/applications/:token/chats/:chat/messages/:message', async (ctx) => {
    ctx.body = await s.messages.get(param(ctx, 'token'), chatNumber(ctx), messageNumber(ctx));
  });
  const editMessage = async (ctx: RouterContext) => {
    const [chat, number] = [chatNumber(ctx), messageNumber(ctx)];
    const { content } = parseMessageInput(bodyOf(ctx));
    ctx.body = await s.messages.edit(param(ctx, 'token'), chat, number, content);
  };
  router.put('/applications/:token/chats/:chat/messages/:message', editMessage);
  router.patch('/applications/:token/chats/:chat/messages/:message', editMessage);
  router.delete('/applications/:token/chats/:chat/messages/:message', async (ctx) => {
    await s.messages.delete(param(ctx, 'token'), chatNumber(ctx), messageNumber(ctx));
    answerDeleted(ctx, 'message', s);
  });

  router.get('/applications/:token/chats/:chat/events', async (ctx) => {
    const [token, number] = [param(ctx, 'token'), chatNumber(ctx)];
    if (s.hub === undefined) throw new NotFoundError('route');
    // Unknown application or chat: the JSON 404, before any stream starts.
    await s.chats.get(token, number);
    await streamEvents(ctx, s.hub, token, number);
  });

  router.get('/applications/:token/chats/:chat/search', async (ctx) => {
    const number = chatNumber(ctx);
    const request = parseSearchRequest(ctx.query, bodyOf(ctx));
    const page = await s.search.search(param(ctx, 'token'), number, request);
    ctx.body = page.items;
    setNextLink(ctx, page.next);
  });

  return router;
}
