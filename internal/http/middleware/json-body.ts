import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import {
  AppError,
  BadRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../domain/errors.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

class UnsupportedBodyError extends AppError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

/** JSON is UTF-8 (RFC 8259): a charset parameter may only say so. */
function checkCharset(contentType: string): void {
  const match = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType);
  if (match !== null && !/^utf-?8$/i.test(match[1] ?? '')) {
    throw new UnsupportedBodyError('JSON bodies must be UTF-8; drop the charset or say utf-8.');
  }
}

/**
 * Reads the whole body, refusing more than `limit` bytes: a declared Content-Length over the
 * limit is refused before any byte is read, a chunked body as soon as it crosses it. A
 * refused body is left unread; the connection middleware then closes the connection, so the
 * rest of it is never taken for the next request.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(new PayloadTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const fail = () => {
      cleanup();
      reject(
        new BadRequestError('The request body was not received completely.', 'incomplete_body'),
      );
    };
    const onError = fail;
    const onAborted = fail;
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
  });
}

/**
 * Parses JSON bodies into ctx.request.body: UTF-8 only (another charset is a 415, bytes that
 * are not UTF-8 a 400), no content coding (a compressed body is a 415: its size after
 * inflation is unbounded), at most 1 MiB (413). A body of another type on a write is a 415;
 * a GET may carry a JSON body too (the original search contract sends one).
 */
export function jsonBody(): Middleware {
  return async (ctx, next) => {
    const hasBody =
      ctx.get('Transfer-Encoding') !== '' || Number(ctx.get('Content-Length') || 0) > 0;
    if (hasBody) {
      if (ctx.request.is('application/json', '+json')) {
        checkCharset(ctx.get('Content-Type'));
        const coding = ctx.get('Content-Encoding').trim().toLowerCase();
        if (coding !== '' && coding !== 'identity') {
          throw new UnsupportedBodyError(
            'Request bodies must not be compressed (Content-Encoding).',
          );
        }
        const bytes = await readBody(ctx.req, BODY_LIMIT_BYTES);
        let text: string;
        try {
          text = UTF8.decode(bytes);
        } catch {
          throw new BadRequestError('The request body is not valid UTF-8.', 'invalid_encoding');
        }
        if (text.trim() !== '') {
          try {
            (ctx.request as { body?: unknown }).body = JSON.parse(text) as unknown;
          } catch {
            throw new BadRequestError('The request body is not valid JSON.', 'malformed_request');
          }
        }
      } else if (WRITE_METHODS.has(ctx.method)) {
        throw new UnsupportedMediaTypeError();
      }
    }
    await next();
  };
}

export function bodyOf(ctx: { request: unknown }): unknown {
  return (ctx.request as { body?: unknown }).body;
}
