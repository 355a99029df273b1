import type { Context } from 'koa';

/** Sets `Link: <…>; rel="next"` (relative to the request path) when another page follows. */
export function setNextLink(ctx: Context, params: Record<string, string> | null): void {
  if (params === null) return;
  const query = new URLSearchParams(ctx.querystring);
  for (const [name, value] of Object.entries(params)) query.set(name, value);
  ctx.set('Link', `<${ctx.path}?${query.toString()}>; rel="next"`);
}
