import { expect } from 'chai';
import { formatPosition, parsePosition } from '../../../internal/db/commit-position.js';

describe('db/commit-position: GTID positions as the servers write them', () => {
  it('reads MariaDB’s gtid_binlog_pos: one stream per domain, its sequence number', () => {
    const position = parsePosition('mariadb', '0-1-42,7-3-9');
    expect(position).to.deep.equal([
      { stream: '0', seq: 42, gtid: '0-1-42' },
      { stream: '7', seq: 9, gtid: '7-3-9' },
    ]);
    expect(formatPosition(position)).to.equal('0-1-42,7-3-9');
  });

  it('reads MySQL’s gtid_executed: one stream per source uuid, the highest number of its intervals', () => {
    const text =
      '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18,\n8b6e2c1e-0000-11ee-8000-000000000001:1-7';
    const position = parsePosition('mysql', text);
    expect(position.map((p) => [p.stream, p.seq])).to.deep.equal([
      ['3e11fa47-71ca-11e1-9e33-c80aa9429562', 18],
      ['8b6e2c1e-0000-11ee-8000-000000000001', 7],
    ]);
    // The set is waited for as written, gaps included: a replica applies exactly that set.
    expect(position[0]?.gtid).to.equal('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18');
  });

  it('reads an empty position (no binary log) as no stream, and refuses what it cannot read', () => {
    expect(parsePosition('mariadb', '')).to.deep.equal([]);
    expect(parsePosition('mysql', '')).to.deep.equal([]);
    expect(() => parsePosition('mariadb', '0-1')).to.throw(/unexpected GTID/);
    expect(() => parsePosition('mysql', 'uuid-without-intervals')).to.throw(/unexpected GTID/);
  });
});
