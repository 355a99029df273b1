import type { RedisClient } from '../redis/client.js';
import type { Sequelize } from 'sequelize';
import type { HealthCheck } from '../domain/ports.js';

export const mysqlCheck = (sequelize: Sequelize): HealthCheck => ({
  name: 'mysql',
  check: async () => {
    await sequelize.query('SELECT 1');
  },
});

export const redisCheck = (redis: RedisClient): HealthCheck => ({
  name: 'redis',
  check: async () => {
    await redis.ping();
  },
});

export const flagCheck = (name: string, isUp: () => boolean): HealthCheck => ({
  name,
  check: () => (isUp() ? Promise.resolve() : Promise.reject(new Error('not connected'))),
});
