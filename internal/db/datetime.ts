/**
 * DATETIME(3) literal in UTC. Sequelize drops milliseconds when it formats a Date passed as
 * a raw replacement, so every timestamp written by hand-written SQL goes through this.
 */
export function sqlDateTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
