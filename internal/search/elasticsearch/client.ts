import { Client, type ClientOptions } from '@elastic/elasticsearch';

export interface ElasticsearchClientConfig {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly requestTimeoutMs?: number;
  readonly maxRetries?: number;
}

/**
 * One client per process (it pools connections). Credentials come from `username`/`password`
 * when set, otherwise from the URL's user-info, if any.
 */
export function createElasticsearchClient(config: ElasticsearchClientConfig): Client {
  const node = new URL(config.url);
  const options: ClientOptions = {
    requestTimeout: config.requestTimeoutMs ?? 10_000,
    maxRetries: config.maxRetries ?? 2,
    name: 'chat-system',
  };
  if (config.username !== undefined) {
    // The client would otherwise let the URL's user-info win over `auth`.
    node.username = '';
    node.password = '';
    options.auth = { username: config.username, password: config.password ?? '' };
  }
  options.node = node.toString();
  return new Client(options);
}
